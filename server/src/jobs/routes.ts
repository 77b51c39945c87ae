import type { FastifyInstance } from "fastify";
import type { AppContext } from "../context.js";
import { canAccess } from "../http/auth.js";
import { notFound, pathId } from "../http/errors.js";
import { toApiJob, type JobRow } from "../platform/jobs/types.js";
import { projectFor } from "../projects/service.js";

export function jobRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { jobID: string } }>("/v1/jobs/:jobID", async (req) => {
    const id = pathId(req.params.jobID, "job", "job");
    const { rows } = await ctx.db.query<JobRow>("SELECT * FROM jobs WHERE id = $1", [id]);
    const job = rows[0];
    const p = req.principal!;
    const visible = job && (p.kind === "admin" || (job.organization_id !== null && canAccess(p, job.organization_id, job.project_id)));
    if (!visible) throw notFound(`job ${id} not found`);
    return { job: toApiJob(job) };
  });

  app.get<{ Params: { projectID: string } }>("/v1/projects/:projectID/jobs", async (req) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const { rows } = await ctx.db.query<JobRow>("SELECT * FROM jobs WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT 200", [project.id]);
    return { jobs: rows.map(toApiJob) };
  });
}
