import type { FastifyInstance } from "fastify";
import {
  AcknowledgeCutoverRequest,
  CreateCutoverRequest,
  ExecuteCutoverRequest,
  ListCutoversQuery,
  PageQuery,
  RejectCutoverRequest,
  RollbackCutoverRequest,
} from "@capydb/api";
import type { AppContext } from "../context.js";
import { requireAdmin } from "../http/auth.js";
import { parse, pathId } from "../http/errors.js";
import { listAnswer, pageOf } from "../http/pagination.js";
import { projectFor } from "../projects/service.js";
import * as cutovers from "./service.js";
import { listProjectCutovers } from "./store.js";

export function cutoverRoutes(app: FastifyInstance, ctx: AppContext): void {
  const one = (req: { params: { cutoverID: string }; principal?: import("../http/auth.js").Principal }) =>
    cutovers.cutoverFor(ctx, req.principal!, pathId(req.params.cutoverID, "cut", "cutover request"));

  app.get<{ Params: { projectID: string } }>("/v1/projects/:projectID/cutover-requests", async (req) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const page = pageOf(parse(PageQuery, req.query, "query"));
    const { rows, next_cursor } = await listProjectCutovers(ctx.db, project.id, page);
    return listAnswer("cutover_requests", await cutovers.presentCutovers(ctx, rows), page, next_cursor);
  });

  app.post<{ Params: { projectID: string } }>("/v1/projects/:projectID/cutover-requests", async (req, reply) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const body = parse(CreateCutoverRequest, req.body);
    const row = await cutovers.createCutover(ctx, req.principal!, project, body.preview_id, body.customer_note ?? null, body.mode ?? "data");
    reply.code(201);
    return { cutover_request: await cutovers.presentCutover(ctx, row) };
  });

  app.get("/v1/cutover-requests", async (req) => {
    const query = parse(ListCutoversQuery, req.query, "query");
    const page = pageOf(query);
    const { rows, next_cursor } = await cutovers.listVisible(ctx, req.principal!, query.status, page);
    return listAnswer("cutover_requests", await cutovers.presentCutovers(ctx, rows), page, next_cursor);
  });

  app.get<{ Params: { cutoverID: string } }>("/v1/cutover-requests/:cutoverID", async (req) => ({
    cutover_request: await cutovers.presentCutover(ctx, await one(req)),
  }));

  app.post<{ Params: { cutoverID: string } }>("/v1/cutover-requests/:cutoverID/cancel", async (req) => {
    const cut = await one(req);
    return { cutover_request: await cutovers.presentCutover(ctx, await cutovers.cancel(ctx, cut.id)) };
  });

  // Operator actions: visible-or-404 first (existence is not leaked), then platform admins only.
  app.post<{ Params: { cutoverID: string } }>("/v1/cutover-requests/:cutoverID/acknowledge", async (req) => {
    const cut = await one(req);
    requireAdmin(req.principal!);
    const body = parse(AcknowledgeCutoverRequest, req.body);
    return {
      cutover_request: await cutovers.presentCutover(
        ctx,
        await cutovers.acknowledge(ctx, cut.id, req.principal!.actorId, body.operator_note ?? null, body.external_ticket_ref ?? null),
      ),
    };
  });

  app.post<{ Params: { cutoverID: string } }>("/v1/cutover-requests/:cutoverID/reject", async (req) => {
    const cut = await one(req);
    requireAdmin(req.principal!);
    const body = parse(RejectCutoverRequest, req.body);
    return { cutover_request: await cutovers.presentCutover(ctx, await cutovers.reject(ctx, cut.id, body.rejected_reason, body.operator_note ?? null)) };
  });

  app.post<{ Params: { cutoverID: string } }>("/v1/cutover-requests/:cutoverID/execute", async (req) => {
    const cut = await one(req);
    requireAdmin(req.principal!);
    const body = parse(ExecuteCutoverRequest, req.body ?? {});
    return { cutover_request: await cutovers.presentCutover(ctx, await cutovers.execute(ctx, cut, body.accept_write_loss ?? false)) };
  });

  app.post<{ Params: { cutoverID: string } }>("/v1/cutover-requests/:cutoverID/rollback", async (req) => {
    const cut = await one(req);
    requireAdmin(req.principal!);
    const body = parse(RollbackCutoverRequest, req.body ?? {});
    return { cutover_request: await cutovers.presentCutover(ctx, await cutovers.rollback(ctx, cut, body.accept_write_loss ?? false)) };
  });
}
