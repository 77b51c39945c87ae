// Signed, expiring, single-use upload URLs. The server serves the PUT itself, with
// every blob store (streamed to the store, size-limited, archives only): a presigned
// S3 URL could be PUT to any number of times, at any size, until it expired.
//
// Each upload is a row of `uploads`, created with its URL; its states are in ./store.ts.
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
import {
  deleteExpiredUpload,
  expireProjectUploads,
  expireUploadsPastRemoval,
  insertUpload,
  loadUploadState,
  markImportedDumpRemoved,
  markUploadImported,
  markUploadReceiving,
  markUploadStored,
  reopenUpload,
} from "./store.js";

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

export async function createUpload(ctx: AppContext, project: ProjectRow): Promise<{ object_key: string; upload_url: string; expires_at: string }> {
  const key = uploadKey(project.id);
  const ttl = ctx.config.uploadUrlTtlSeconds;
  const expires = Math.floor(Date.now() / 1000) + ttl;
  // A dump uploaded just before its URL expired still has one URL lifetime to be imported.
  if (!(await insertUpload(ctx.db, key, project.id, expires, expires + ttl)))
    throw conflict("project is being deleted: it takes no more uploads", "project_deleted");
  const url = `${ctx.publicUrl}/v1/uploads/${key}?expires=${expires}&signature=${signature(ctx, key, expires)}`;
  return { object_key: key, upload_url: url, expires_at: new Date(expires * 1000).toISOString() };
}

/**
 * For an import: takes the stored upload, in the transaction that enqueues the import
 * job, so the sweep leaves it to the import. 400 naming object_key otherwise.
 */
export async function takeUploadForImport(tx: Queryable, key: string, importJobId: string): Promise<void> {
  if (await markUploadImported(tx, key, importJobId)) return;
  await assertUploadStored(tx, key);
  throw conflict("object_key: the upload changed while the import was being created; try again");
}

/** 400 naming object_key unless the upload holds a dump no import took yet. */
export async function assertUploadStored(db: Queryable, key: string): Promise<void> {
  const state = await loadUploadState(db, key);
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
  await markImportedDumpRemoved(ctx.db, key);
}

/**
 * Removes the dumps of uploads a pass took (state → expired, see ./store.ts), then their
 * rows. A pass that stops half-way (a blob store error, a crash) leaves the rest expired:
 * the next pass finishes them, and two passes at once take disjoint rows. Answers how
 * many were taken.
 */
async function removeUploads(ctx: AppContext, taken: string[]): Promise<number> {
  for (const key of taken) {
    await ctx.blobs.delete(key);
    await deleteExpiredUpload(ctx.db, key);
  }
  return taken.length;
}

/** The scheduler's sweep: uploads past their removal time, one batch a pass. */
export async function removeExpiredUploads(ctx: AppContext): Promise<number> {
  return removeUploads(ctx, await expireUploadsPastRemoval(ctx.db, SWEEP_BATCH));
}

/**
 * When a project is deleted its uploads go with it, whatever their expiry (those an
 * import still holds are removed by that import, which fails on the deleted project).
 */
export async function deleteProjectUploads(ctx: AppContext, projectId: string): Promise<void> {
  while ((await removeUploads(ctx, await expireProjectUploads(ctx.db, projectId, SWEEP_BATCH))) === SWEEP_BATCH);
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

        if (!(await markUploadReceiving(ctx.db, key))) {
          const state = await loadUploadState(ctx.db, key);
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
          await reopenUpload(ctx.db, key).catch(() => {});
          throw err;
        }
        if (!(await markUploadStored(ctx.db, key, result.size_bytes, result.format))) {
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
