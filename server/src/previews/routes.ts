import type { FastifyInstance } from "fastify";
import { ConnectionUriQuery, CreatePreviewRequest, ExtendPreviewRequest, ListPreviewsQuery, ResetPreviewRequest } from "@capydb/api";
import type { AppContext } from "../context.js";
import { conflict, parse, pathId, previewStateConflict } from "../http/errors.js";
import { listAnswer, pageOf } from "../http/pagination.js";
import { toApiJob } from "../platform/jobs/types.js";
import { projectFor } from "../projects/service.js";
import * as previews from "./service.js";

export function previewRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { projectID: string } }>("/v1/projects/:projectID/preview-databases", async (req) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const query = parse(ListPreviewsQuery, req.query, "query");
    const page = pageOf(query);
    const { rows, next_cursor } = await previews.listPreviews(ctx, project, query.include_deleted === "true", page);
    return listAnswer("preview_databases", rows.map(previews.toApiPreview), page, next_cursor);
  });

  app.post<{ Params: { projectID: string } }>("/v1/projects/:projectID/preview-databases", async (req, reply) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const body = parse(CreatePreviewRequest, req.body);
    const { preview, job } = await previews.createPreview(ctx, req.principal!, project, body);
    reply.code(201);
    return { job: toApiJob(job), preview: previews.toApiPreview(preview) };
  });

  app.get<{ Params: { previewID: string } }>("/v1/preview-databases/:previewID", async (req) => {
    const preview = await previews.previewFor(ctx, req.principal!, pathId(req.params.previewID, "pdb", "preview database"));
    return { preview: previews.toApiPreview(preview) };
  });

  app.get<{ Params: { previewID: string } }>("/v1/preview-databases/:previewID/connection-uri", async (req) => {
    const preview = await previews.previewFor(ctx, req.principal!, pathId(req.params.previewID, "pdb", "preview database"));
    const { pooled } = parse(ConnectionUriQuery, req.query, "query");
    if (["deleting", "deleted", "promoted", "failed"].includes(preview.state)) throw previewStateConflict(preview.state, `preview is ${preview.state}`);
    if (pooled === "true" && !preview.pooled_port) {
      throw conflict(
        "pooled connections are not available: PgBouncer is not installed in front of this cluster (install the pgbouncer package and restart)",
        "pooling_unavailable",
      );
    }
    return { uri: previews.previewConnectionUri(ctx, preview, pooled === "true") };
  });

  app.delete<{ Params: { previewID: string } }>("/v1/preview-databases/:previewID", async (req, reply) => {
    const preview = await previews.previewFor(ctx, req.principal!, pathId(req.params.previewID, "pdb", "preview database"));
    reply.code(202);
    return { job: toApiJob(await previews.deletePreview(ctx, preview)) };
  });

  app.post<{ Params: { previewID: string } }>("/v1/preview-databases/:previewID/reset", async (req, reply) => {
    const preview = await previews.previewFor(ctx, req.principal!, pathId(req.params.previewID, "pdb", "preview database"));
    const body = parse(ResetPreviewRequest, req.body);
    reply.code(202);
    return { job: toApiJob(await previews.resetPreview(ctx, preview, body.fresh ?? false)) };
  });

  app.post<{ Params: { previewID: string } }>("/v1/preview-databases/:previewID/extend", async (req) => {
    const preview = await previews.previewFor(ctx, req.principal!, pathId(req.params.previewID, "pdb", "preview database"));
    const body = parse(ExtendPreviewRequest, req.body);
    return { preview: previews.toApiPreview(await previews.extendPreview(ctx, preview, body.ttl_seconds)) };
  });
}
