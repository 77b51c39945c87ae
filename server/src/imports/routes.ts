import type { FastifyInstance } from "fastify";
import { CreateImportRequest, PreflightRequest } from "@capydb/api";
import type { AppContext } from "../context.js";
import { badRequest, parse, pathId } from "../http/errors.js";
import { toApiJob } from "../platform/jobs/types.js";
import { projectFor } from "../projects/service.js";
import { ForbiddenTarget, parseSourceUrl, SourceUrlInvalid } from "./source.js";
import { preflight, toApiPreflight } from "./preflight.js";
import { createImport } from "./service.js";
import { createUpload, uploadRoutes } from "./uploads.js";

export function importRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post<{ Params: { projectID: string } }>("/v1/projects/:projectID/imports/preflight", async (req) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const { source_url } = parse(PreflightRequest, req.body);
    try {
      // A URL refused as written is a 400 here as it is for an import, not a failed check.
      parseSourceUrl(source_url);
      return { preflight: toApiPreflight(await preflight(ctx, project, source_url)) };
    } catch (err) {
      if (err instanceof SourceUrlInvalid || err instanceof ForbiddenTarget) throw badRequest(err.message);
      throw err;
    }
  });

  app.post<{ Params: { projectID: string } }>("/v1/projects/:projectID/imports", async (req, reply) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const body = parse(CreateImportRequest, req.body);
    reply.code(202);
    return { job: toApiJob(await createImport(ctx, project, body)) };
  });

  app.post<{ Params: { projectID: string } }>("/v1/projects/:projectID/imports/uploads", async (req, reply) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    reply.code(201);
    return { upload: await createUpload(ctx, project) };
  });

  uploadRoutes(app, ctx);
}
