import type { FastifyInstance } from "fastify";
import type { AppContext } from "../context.js";
import { pathId } from "../http/errors.js";
import { toApiJob } from "../platform/jobs/types.js";
import { previewFor } from "../previews/service.js";
import { latestSchemaDiff, requestSchemaDiff } from "./service.js";

export function schemaDiffRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post<{ Params: { previewID: string } }>("/v1/preview-databases/:previewID/schema-diff", async (req, reply) => {
    const preview = await previewFor(ctx, req.principal!, pathId(req.params.previewID, "pdb", "preview database"));
    reply.code(202);
    return { job: toApiJob(await requestSchemaDiff(ctx, preview)) };
  });

  app.get<{ Params: { previewID: string } }>("/v1/preview-databases/:previewID/schema-diff", async (req) => {
    const preview = await previewFor(ctx, req.principal!, pathId(req.params.previewID, "pdb", "preview database"));
    return { schema_diff: await latestSchemaDiff(ctx, preview) };
  });
}
