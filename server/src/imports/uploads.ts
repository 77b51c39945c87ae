// Signed, expiring upload URLs. With the filesystem blob store the server serves
// the PUT itself (streamed to the store, size-limited, archives only); with S3 the
// URL is a presigned S3 PUT and the format is checked when the import reads it.
import crypto from "node:crypto";
import { Transform } from "node:stream";
import type { FastifyInstance } from "fastify";
import type { AppContext } from "../context.js";
import { HttpError } from "../http/errors.js";
import { S3BlobStore } from "../platform/blobs/index.js";
import type { ProjectRow } from "../projects/service.js";
import { NotAnArchive, sniffArchive } from "./archive.js";

export function uploadKey(projectId: string): string {
  return `uploads/${projectId}/${crypto.randomBytes(16).toString("hex")}.dump`;
}

/** An object key this project may import from: one of its own uploads. */
export function isProjectUpload(projectId: string, key: string): boolean {
  return new RegExp(`^uploads/${projectId}/[0-9a-f]{32}\\.dump$`).test(key);
}

function signature(ctx: AppContext, key: string, expires: number): string {
  return ctx.box.mac("upload", `PUT\n${key}\n${expires}`);
}

export async function createUpload(ctx: AppContext, project: ProjectRow): Promise<{ object_key: string; upload_url: string; expires_at: string }> {
  const key = uploadKey(project.id);
  const ttl = ctx.config.uploadUrlTtlSeconds;
  const expires = Math.floor(Date.now() / 1000) + ttl;
  let url: string;
  if (ctx.blobs instanceof S3BlobStore) {
    url = await ctx.blobs.presignPut(key, ttl);
  } else {
    url = `${ctx.publicUrl}/v1/uploads/${key}?expires=${expires}&signature=${signature(ctx, key, expires)}`;
  }
  return { object_key: key, upload_url: url, expires_at: new Date(expires * 1000).toISOString() };
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
        if (!valid || !/^uploads\/prj_[a-z0-9]+\/[0-9a-f]{32}\.dump$/.test(key)) throw new HttpError(403, "upload URL signature is invalid");
        if (expires * 1000 < Date.now()) throw new HttpError(403, "upload URL has expired: ask for a new one (POST .../imports/uploads)");
        const body = req.body as NodeJS.ReadableStream | undefined;
        if (!body) throw new HttpError(400, "body: send the dump as the request body");
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
          sniffed = await sniffArchive((body as import("node:stream").Readable).pipe(meter));
        } catch (err) {
          if (err instanceof NotAnArchive) throw new HttpError(400, `body: ${err.message}`);
          throw err;
        }
        const stored = await ctx.blobs.put(key, sniffed.stream);
        reply.code(201);
        return { object_key: key, size_bytes: stored.sizeBytes, format: sniffed.format };
      },
    );
  });
}
