// Signed, expiring, single-use upload URLs. The server serves the PUT itself, with
// every blob store (streamed to the store, size-limited, archives only): a presigned
// S3 URL could be PUT to any number of times, at any size, until it expired.
//
// An upload's record is its expiry job (no table of its own): created with the URL,
// due one URL lifetime after the URL expires, its payload carries the upload's state
//   open → receiving → stored → imported
// Each step is one conditional UPDATE of that row, so two PUTs racing on one URL
// cannot both win, and an import and the expiry cannot both take the same upload.
// The expiry job removes the object unless an import took it: the import removes it
// itself when it succeeds or fails for good.
import crypto from "node:crypto";
import { Transform, type Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import type { AppContext } from "../context.js";
import { badRequest, conflict, HttpError } from "../http/errors.js";
import type { Queryable } from "../platform/store/db.js";
import { enqueueJob } from "../platform/jobs/sql/enqueue.js";
import type { JobHandler } from "../platform/jobs/worker.js";
import type { ProjectRow } from "../projects/service.js";
import { NotAnArchive, sniffArchive } from "./archive.js";

export const UPLOAD_EXPIRY_JOB = "import.upload_expire";

type UploadState = "open" | "receiving" | "stored" | "imported";

export function uploadKey(projectId: string): string {
  return `uploads/${projectId}/${crypto.randomBytes(16).toString("hex")}.dump`;
}

/** An object key this project may import from: one of its own uploads. */
export function isProjectUpload(projectId: string, key: string): boolean {
  return new RegExp(`^uploads/${projectId}/[0-9a-f]{32}\\.dump$`).test(key);
}

const UPLOAD_KEY = /^uploads\/prj_[a-z0-9]+\/([0-9a-f]{32})\.dump$/;

/** The id of an upload's record (its expiry job), from the random part of its key. */
function recordId(key: string): string {
  const m = UPLOAD_KEY.exec(key);
  if (!m) throw new Error(`not an upload key: ${key.slice(0, 80)}`);
  return `job_${m[1]}`;
}

function signature(ctx: AppContext, key: string, expires: number): string {
  return ctx.box.mac("upload", `PUT\n${key}\n${expires}`);
}

/**
 * Moves the upload from one state to the next, only while its expiry has not run.
 * Answers false when the upload was not in state `from` (or is gone).
 */
async function moveUpload(db: Queryable, key: string, from: UploadState, to: UploadState, extra: Record<string, unknown> = {}): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET payload = payload || jsonb_build_object('state', $4::text) || $5::jsonb, updated_at = now()
     WHERE id = $1 AND type = $2 AND state = 'pending' AND payload->>'state' = $3`,
    [recordId(key), UPLOAD_EXPIRY_JOB, from, to, JSON.stringify(extra)],
  );
  return rowCount === 1;
}

/** The upload's state, or "expired" once its expiry ran (or it never existed). */
async function uploadState(db: Queryable, key: string): Promise<UploadState | "expired"> {
  const { rows } = await db.query<{ state: UploadState }>(
    "SELECT payload->>'state' AS state FROM jobs WHERE id = $1 AND type = $2 AND state = 'pending'",
    [recordId(key), UPLOAD_EXPIRY_JOB],
  );
  return rows[0]?.state ?? "expired";
}

export async function createUpload(ctx: AppContext, project: ProjectRow): Promise<{ object_key: string; upload_url: string; expires_at: string }> {
  const key = uploadKey(project.id);
  const ttl = ctx.config.uploadUrlTtlSeconds;
  const expires = Math.floor(Date.now() / 1000) + ttl;
  // A dump uploaded just before its URL expired still has one URL lifetime to be imported.
  // No organization or project on the row: it is the platform's housekeeping, not the
  // tenant's work (it counts against no limit and keeps no project busy).
  await enqueueJob(ctx.db, {
    id: recordId(key),
    type: UPLOAD_EXPIRY_JOB,
    payload: { object_key: key, project_id: project.id, state: "open" satisfies UploadState },
    runAt: new Date((expires + ttl) * 1000),
    maxAttempts: ctx.config.jobMaxAttempts,
  });
  const url = `${ctx.publicUrl}/v1/uploads/${key}?expires=${expires}&signature=${signature(ctx, key, expires)}`;
  return { object_key: key, upload_url: url, expires_at: new Date(expires * 1000).toISOString() };
}

/**
 * For an import: takes the stored upload, in the transaction that enqueues the import
 * job, so the expiry leaves it to the import. 400 naming object_key otherwise.
 */
export async function takeUploadForImport(tx: Queryable, key: string, importJobId: string): Promise<void> {
  if (await moveUpload(tx, key, "stored", "imported", { import_job_id: importJobId })) return;
  await assertUploadStored(tx, key);
  throw conflict("object_key: the upload changed while the import was being created; try again");
}

/** 400 naming object_key unless the upload holds a dump no import took yet. */
export async function assertUploadStored(db: Queryable, key: string): Promise<void> {
  const state = await uploadState(db, key);
  if (state === "stored") return;
  if (state === "imported") throw badRequest("object_key: this upload was already imported; upload the dump again for another import");
  if (state === "expired") throw badRequest("object_key: this upload has expired and was removed; upload the dump again (POST .../imports/uploads)");
  throw badRequest("object_key: nothing was uploaded under this key yet (PUT the dump to the upload_url first)");
}

/** The expiry job: removes the object of an upload no import took. */
export function uploadJobHandlers(ctx: AppContext): Record<string, JobHandler> {
  return {
    [UPLOAD_EXPIRY_JOB]: {
      async run(job) {
        const payload = job.job.payload as { object_key: string; state: UploadState };
        // An import owns the object from here: it removes it when it succeeds or fails for good.
        if (payload.state === "imported") return;
        // Stored, never stored, or still being received (that PUT then finds its upload expired and removes what it wrote).
        await ctx.blobs.delete(payload.object_key);
      },
    },
  };
}

async function receive(ctx: AppContext, key: string, body: Readable): Promise<{ size_bytes: number; format: string }> {
  let size = 0;
  const limit = ctx.config.uploadMaxBytes;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > limit) done(new HttpError(413, `body: larger than the ${limit}-byte upload limit`));
      else done(null, chunk);
    },
  });
  let sniffed;
  try {
    sniffed = await sniffArchive(body.pipe(meter));
  } catch (err) {
    if (err instanceof NotAnArchive) throw new HttpError(400, `body: ${err.message}`);
    throw err;
  }
  const stored = await ctx.blobs.put(key, sniffed.stream);
  return { size_bytes: stored.sizeBytes, format: sniffed.format };
}

/** PUT /v1/uploads/<key>?expires=&signature= — authenticated by its signature, not a bearer token. */
export function uploadRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.register(async (scope) => {
    // The body is the dump itself: handed over as a stream, whatever its content type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { bodyLimit: ctx.config.uploadMaxBytes }, (_req, payload, done) => done(null, payload));
    scope.put<{ Params: { "*": string }; Querystring: { expires?: string; signature?: string } }>(
      "/v1/uploads/*",
      { bodyLimit: ctx.config.uploadMaxBytes },
      async (req, reply) => {
        const key = req.params["*"];
        const expires = Number(req.query.expires);
        const given = String(req.query.signature ?? "");
        const expected = Number.isInteger(expires) ? signature(ctx, key, expires) : "";
        const valid = expected.length === given.length && given.length > 0 && crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(given));
        if (!valid || !UPLOAD_KEY.test(key)) throw new HttpError(403, "upload URL signature is invalid");
        if (expires * 1000 < Date.now()) throw new HttpError(403, "upload URL has expired: ask for a new one (POST .../imports/uploads)");
        const body = req.body as Readable | undefined;
        if (!body) throw badRequest("body: send the dump as the request body");

        if (!(await moveUpload(ctx.db, key, "open", "receiving"))) {
          const state = await uploadState(ctx.db, key);
          if (state === "receiving") throw conflict("an upload to this URL is under way; if it was interrupted, ask for a new upload URL (POST .../imports/uploads)");
          if (state === "expired") throw new HttpError(403, "upload URL is no longer valid: ask for a new one (POST .../imports/uploads)");
          throw conflict("this upload URL was already used: each URL takes one dump; ask for a new one (POST .../imports/uploads)");
        }
        let result;
        try {
          result = await receive(ctx, key, body);
        } catch (err) {
          // Nothing was stored (a failed put leaves nothing under the key): the URL may be used again.
          await moveUpload(ctx.db, key, "receiving", "open").catch(() => {});
          throw err;
        }
        if (!(await moveUpload(ctx.db, key, "receiving", "stored"))) {
          // The expiry ran while the dump streamed in: what was written is nobody's now.
          await ctx.blobs.delete(key).catch(() => {});
          throw new HttpError(403, "upload URL expired while the dump was being uploaded: ask for a new one (POST .../imports/uploads)");
        }
        reply.code(201);
        return { object_key: key, ...result };
      },
    );
  });
}
