import type { FastifyInstance } from "fastify";
import { PutMaskingRulesRequest } from "@capydb/api";
import type { AppContext } from "../context.js";
import { parse, pathId } from "../http/errors.js";
import { projectFor } from "../projects/service.js";
import { getMaskingRules, putMaskingRules } from "./service.js";

export function maskingRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { projectID: string } }>("/v1/projects/:projectID/masking-rules", async (req) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    return { masking_rules: await getMaskingRules(ctx, project) };
  });

  app.put<{ Params: { projectID: string } }>("/v1/projects/:projectID/masking-rules", async (req) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const body = parse(PutMaskingRulesRequest, req.body);
    return { masking_rules: await putMaskingRules(ctx, project, body) };
  });
}
