import type { FastifyInstance } from "fastify";
import type { AppContext } from "../context.js";
import { canAccess } from "../http/auth.js";
import { notFound, parse, pathId } from "../http/errors.js";
import { listAnswer, listRows, pageOf } from "../http/pagination.js";
import { PageQuery } from "@capydb/api";
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
    const page = pageOf(parse(PageQuery, req.query, "query"));
    const { rows, next_cursor } = await listRows<JobRow>(
      ctx.db,
      { base: "SELECT * FROM jobs", where: ["project_id = $1"], params: [project.id], createdAt: "created_at", id: "id", idOrder: "DESC", unpagedLimit: 200 },
      page,
    );
    return listAnswer("jobs", rows.map(toApiJob), page, next_cursor);
  });
}
