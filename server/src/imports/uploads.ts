// Signed, expiring, single-use upload URLs. The server serves the PUT itself, with
// every blob store (streamed to the store, size-limited, archives only): a presigned
// S3 URL could be PUT to any number of times, at any size, until it expired.
//
// Each upload is a row of `uploads` (migration 011), created with its URL:
//   open → receiving → stored → imported,   and any of them → expired
// Each step is one conditional UPDATE of that row, so two PUTs racing on one URL
// cannot both win, and an import and the sweep cannot both take the same upload.
// The sweep (a scheduler task) removes the dump and the row of an upload no import
// took, one URL lifetime after the URL expired; an import removes the dump itself
// when it succeeds or fails for good, and the sweep then removes the row.
import crypto from "node:crypto";
import { Transform, type Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import type { AppContext } from "../context.js";
import { badRequest, conflict, HttpError } from "../http/errors.js";
import type { Queryable } from "../platform/store/db.js";
import type { ProjectRow } from "../projects/store.js";
import { NotAnArchive, sniffArchive } from "./archive.js";

type UploadState = "open" | "receiving" | "stored" | "imported" | "expired";

/** How many uploads one pass of the sweep removes: the rest wait for the next pass. */
const SWEEP_BATCH = 100;

export function uploadKey(projectId: string): string {
  return `uploads/${projectId}/${crypto.randomBytes(16).toString("hex")}.dump`;
}

/** An object key this project may import from: one of its own uploads. */
export function isProjectUpload(projectId: string, key: string): boolean {
  return new RegExp(`^uploads/${projectId}/[0-9a-f]{32}\\.dump$`).test(key);
}

const UPLOAD_KEY = /^uploads\/prj_[a-z0-9]+\/[0-9a-f]{32}\.dump$/;

function signature(ctx: AppContext, key: string, expires: number): string {
  return ctx.box.mac("upload", `PUT\n${key}\n${expires}`);
}

/**
 * Moves the upload from state `from` to `to` (recording what `set` says), in one
 * conditional UPDATE. Answers false when the upload was not in state `from` (or is gone).
 */
async function moveUpload(
  db: Queryable,
  key: string,
  from: UploadState,
  to: UploadState,
  set: { importJobId?: string; sizeBytes?: number; format?: string } = {},
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE uploads SET state = $3, import_job_id = coalesce($4, import_job_id), size_bytes = coalesce($5, size_bytes),
            format = coalesce($6, format), updated_at = now()
     WHERE object_key = $1 AND state = $2`,
    [key, from, to, set.importJobId ?? null, set.sizeBytes ?? null, set.format ?? null],
  );
  return rowCount === 1;
}

/** The upload's state; "expired" once the sweep took it (or it never existed). */
async function uploadState(db: Queryable, key: string): Promise<UploadState> {
  const { rows } = await db.query<{ state: UploadState }>("SELECT state FROM uploads WHERE object_key = $1", [key]);
  return rows[0]?.state ?? "expired";
}

export async function createUpload(ctx: AppContext, project: ProjectRow): Promise<{ object_key: string; upload_url: string; expires_at: string }> {
  const key = uploadKey(project.id);
  const ttl = ctx.config.uploadUrlTtlSeconds;
  const expires = Math.floor(Date.now() / 1000) + ttl;
  // A dump uploaded just before its URL expired still has one URL lifetime to be imported.
  // The project's state is read by the INSERT itself: its deletion takes the uploads it has then.
  const { rowCount } = await ctx.db.query(
    `INSERT INTO uploads (object_key, project_id, organization_id, state, expires_at, remove_after)
     SELECT $1, p.id, p.organization_id, 'open', to_timestamp($3), to_timestamp($4)
     FROM projects p WHERE p.id = $2 AND p.state NOT IN ('deleting', 'deleted')`,
    [key, project.id, expires, expires + ttl],
  );
  if (rowCount !== 1) throw conflict("project is being deleted: it takes no more uploads", "project_deleted");
  const url = `${ctx.publicUrl}/v1/uploads/${key}?expires=${expires}&signature=${signature(ctx, key, expires)}`;
  return { object_key: key, upload_url: url, expires_at: new Date(expires * 1000).toISOString() };
}

/**
 * For an import: takes the stored upload, in the transaction that enqueues the import
 * job, so the sweep leaves it to the import. 400 naming object_key otherwise.
 */
export async function takeUploadForImport(tx: Queryable, key: string, importJobId: string): Promise<void> {
  if (await moveUpload(tx, key, "stored", "imported", { importJobId })) return;
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

/**
 * The import that took the upload is done with its dump (it succeeded or failed for
 * good): removes the dump and says so on the row, which the sweep removes later.
 */
export async function removeImportedDump(ctx: AppContext, key: string): Promise<void> {
  await ctx.blobs.delete(key);
  await ctx.db.query("UPDATE uploads SET dump_removed_at = now(), updated_at = now() WHERE object_key = $1 AND state = 'imported'", [key]);
}

/**
 * Takes (state → expired) up to `limit` uploads matching `where` that no import still
 * needs, removes their dumps, then their rows. A pass that stops half-way (a blob
 * store error, a crash) leaves the rest expired: the next pass finishes them, and two
 * passes at once take disjoint rows. Answers how many were taken.
 */
async function removeUploads(ctx: AppContext, where: string, params: unknown[], limit: number): Promise<number> {
  const limitParam = `$${params.length + 1}`;
  const { rows } = await ctx.db.query<{ object_key: string }>(
    `UPDATE uploads SET state = 'expired', updated_at = now()
     WHERE object_key IN (
       SELECT u.object_key FROM uploads u
       WHERE ${where}
         -- an import that has not finished with the dump keeps it (it removes it itself)
         AND NOT (u.state = 'imported' AND u.dump_removed_at IS NULL
                  AND EXISTS (SELECT 1 FROM jobs j WHERE j.id = u.import_job_id AND j.state IN ('pending', 'running')))
       ORDER BY u.remove_after
       LIMIT ${limitParam}
       FOR UPDATE OF u SKIP LOCKED)
     RETURNING object_key`,
    [...params, limit],
  );
  for (const { object_key } of rows) {
    await ctx.blobs.delete(object_key);
    await ctx.db.query("DELETE FROM uploads WHERE object_key = $1 AND state = 'expired'", [object_key]);
  }
  return rows.length;
}

/** The scheduler's sweep: uploads past their removal time, one batch a pass. */
export function removeExpiredUploads(ctx: AppContext): Promise<number> {
  return removeUploads(ctx, "u.remove_after <= now()", [], SWEEP_BATCH);
}

/**
 * When a project is deleted its uploads go with it, whatever their expiry (those an
 * import still holds are removed by that import, which fails on the deleted project).
 */
export async function deleteProjectUploads(ctx: AppContext, projectId: string): Promise<void> {
  while ((await removeUploads(ctx, "u.project_id = $1", [projectId], SWEEP_BATCH)) === SWEEP_BATCH);
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
        if (expires * 1000 < Date.now()) throw new HttpError(403, "upload URL has expired: ask for a new one (POST .../imports/uploads)", "upload_url_expired");
        const body = req.body as Readable | undefined;
        if (!body) throw badRequest("body: send the dump as the request body");

        if (!(await moveUpload(ctx.db, key, "open", "receiving"))) {
          const state = await uploadState(ctx.db, key);
          if (state === "receiving")
            throw conflict("an upload to this URL is under way; if it was interrupted, ask for a new upload URL (POST .../imports/uploads)");
          if (state === "expired")
            throw new HttpError(403, "upload URL is no longer valid: ask for a new one (POST .../imports/uploads)", "upload_url_expired");
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
        if (!(await moveUpload(ctx.db, key, "receiving", "stored", { sizeBytes: result.size_bytes, format: result.format }))) {
          // The sweep (or the project's deletion) took the upload while the dump streamed in: what was written is nobody's now.
          await ctx.blobs.delete(key).catch(() => {});
          throw new HttpError(403, "upload URL expired while the dump was being uploaded: ask for a new one (POST .../imports/uploads)", "upload_url_expired");
        }
        reply.code(201);
        return { object_key: key, ...result };
      },
    );
  });
}
