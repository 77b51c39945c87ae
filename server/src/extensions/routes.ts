import type { FastifyInstance } from "fastify";
import { jobs } from "../jobs/catalogue.js";
import { enqueue, type JobDefinition } from "../platform/jobs/define.js";
import { EnableExtensionRequest, ExtensionName } from "@capydb/api";
import type { AppContext } from "../context.js";
import { parse, pathId } from "../http/errors.js";
import { inTransaction } from "../platform/store/db.js";
import { toApiJob } from "../platform/jobs/types.js";
import { projectFor } from "../projects/service.js";
import { type ProjectRow, recordLatestJob } from "../projects/store.js";
import { checkEnableable, listExtensions } from "./service.js";

async function enqueueExtensionJob<P>(ctx: AppContext, project: ProjectRow, definition: JobDefinition<P>, payload: P) {
  return inTransaction(ctx.db, async (tx) => {
    const job = await enqueue(tx, definition, { organizationId: project.organization_id, projectId: project.id, clusterId: project.cluster_id }, payload, {
      maxAttempts: ctx.config.jobMaxAttempts,
    });
    await recordLatestJob(tx, project.id, job.id);
    return job;
  });
}

export function extensionRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { projectID: string } }>("/v1/projects/:projectID/extensions", async (req) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    return { extensions: await listExtensions(ctx, project) };
  });

  app.post<{ Params: { projectID: string } }>("/v1/projects/:projectID/extensions", async (req, reply) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const { name } = parse(EnableExtensionRequest, req.body);
    const { trusted } = await checkEnableable(ctx, project, name);
    reply.code(202);
    return { job: toApiJob(await enqueueExtensionJob(ctx, project, jobs.extensionEnable, { name, trusted })) };
  });

  app.delete<{ Params: { projectID: string; name: string } }>("/v1/projects/:projectID/extensions/:name", async (req, reply) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const name = parse(ExtensionName, req.params.name, "name");
    await checkEnableable(ctx, project, name);
    reply.code(202);
    return { job: toApiJob(await enqueueExtensionJob(ctx, project, jobs.extensionDisable, { name })) };
  });
}
