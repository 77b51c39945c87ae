import type { FastifyInstance } from "fastify";
import { ConnectionUriQuery, CreateProjectRequest, ListProjectsQuery, UpdateProjectRequest } from "@capydb/api";
import type { AppContext } from "../context.js";
import { conflict, parse, pathId, projectStateConflict } from "../http/errors.js";
import { listAnswer, pageOf } from "../http/pagination.js";
import { toApiJob } from "../platform/jobs/types.js";
import * as projects from "./service.js";
import { moveToInstance } from "./move.js";
import { requireAdmin } from "../http/auth.js";

export function projectRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get("/v1/projects", async (req) => {
    const query = parse(ListProjectsQuery, req.query, "query");
    const page = pageOf(query);
    const { rows, next_cursor } = await projects.listProjects(ctx, req.principal!, query.organization_id, page);
    return listAnswer("projects", rows.map(projects.toApiProject), page, next_cursor);
  });

  app.post("/v1/projects", async (req, reply) => {
    const body = parse(CreateProjectRequest, req.body);
    const { project, job } = await projects.createProject(ctx, req.principal!, body);
    reply.code(201);
    return { job: toApiJob(job), project: projects.toApiProject(project) };
  });

  app.get<{ Params: { projectID: string } }>("/v1/projects/:projectID", async (req) => {
    const project = await projects.projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    return { project: projects.toApiProject(project) };
  });

  app.patch<{ Params: { projectID: string } }>("/v1/projects/:projectID", async (req) => {
    const project = await projects.projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const body = parse(UpdateProjectRequest, req.body);
    return { project: projects.toApiProject(await projects.updateProject(ctx, req.principal!, project, body)) };
  });

  app.delete<{ Params: { projectID: string } }>("/v1/projects/:projectID", async (req, reply) => {
    const project = await projects.projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const job = await projects.deleteProject(ctx, project);
    reply.code(202);
    return { job: toApiJob(job) };
  });

  // Operator action: visible-or-404 first (existence is not leaked), then platform admins only.
  app.post<{ Params: { projectID: string } }>("/v1/projects/:projectID/move-to-instance", async (req, reply) => {
    const project = await projects.projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    requireAdmin(req.principal!);
    const job = await moveToInstance(ctx, project);
    reply.code(202);
    return { job: toApiJob(job) };
  });

  app.get<{ Params: { projectID: string } }>("/v1/projects/:projectID/connection-uri", async (req) => {
    const project = await projects.projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const { pooled } = parse(ConnectionUriQuery, req.query, "query");
    if (project.state === "deleting" || project.state === "deleted") throw projectStateConflict(project.state, `project is ${project.state}`);
    if (pooled === "true" && !project.pooled_port) {
      throw conflict(
        "pooled connections are not available: PgBouncer is not installed in front of this cluster (install the pgbouncer package and restart)",
        "pooling_unavailable",
      );
    }
    return { uri: projects.connectionUri(ctx, project, pooled === "true") };
  });
}
