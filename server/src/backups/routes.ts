import type { FastifyInstance } from "fastify";
import { CreateBackupRequest, PageQuery, PutScheduledBackupRequest } from "@capydb/api";
import type { AppContext } from "../context.js";
import { parse, pathId } from "../http/errors.js";
import { listAnswer, pageOf } from "../http/pagination.js";
import { toApiJob } from "../platform/jobs/types.js";
import { projectFor } from "../projects/service.js";
import * as backups from "./service.js";
import { listBackups, listSchedules } from "./store.js";
import { backupKey } from "./take.js";

export function backupRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { projectID: string } }>("/v1/projects/:projectID/backups", async (req) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const page = pageOf(parse(PageQuery, req.query, "query"));
    const { rows, next_cursor } = await listBackups(ctx.db, project.id, page);
    return listAnswer("backups", rows.map(backups.toApiBackup), page, next_cursor);
  });

  app.post<{ Params: { projectID: string } }>("/v1/projects/:projectID/backups", async (req, reply) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const body = parse(CreateBackupRequest, req.body);
    const { job } = await backups.createBackup(ctx, project, body.label ?? null);
    reply.code(202);
    return { job: toApiJob(job) };
  });

  app.get<{ Params: { backupID: string } }>("/v1/backups/:backupID", async (req) => {
    const backup = await backups.backupFor(ctx, req.principal!, pathId(req.params.backupID, "bkp", "backup"));
    return { backup: backups.toApiBackup(backup) };
  });

  app.delete<{ Params: { backupID: string } }>("/v1/backups/:backupID", async (req) => {
    const backup = await backups.backupFor(ctx, req.principal!, pathId(req.params.backupID, "bkp", "backup"));
    return { backup: backups.toApiBackup(await backups.deleteBackup(ctx, backup, backupKey)) };
  });

  app.post<{ Params: { backupID: string } }>("/v1/backups/:backupID/restore", async (req, reply) => {
    const backup = await backups.backupFor(ctx, req.principal!, pathId(req.params.backupID, "bkp", "backup"));
    const project = await projectFor(ctx, req.principal!, backup.project_id);
    reply.code(202);
    return { job: toApiJob(await backups.restoreBackup(ctx, project, backup)) };
  });

  app.post<{ Params: { backupID: string } }>("/v1/backups/:backupID/verify", async (req, reply) => {
    const backup = await backups.backupFor(ctx, req.principal!, pathId(req.params.backupID, "bkp", "backup"));
    const project = await projectFor(ctx, req.principal!, backup.project_id);
    reply.code(202);
    return { job: toApiJob(await backups.verifyBackup(ctx, project, backup)) };
  });

  app.get<{ Params: { projectID: string } }>("/v1/projects/:projectID/scheduled-backups", async (req) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    return { scheduled_backups: (await listSchedules(ctx.db, project.id)).map(backups.toApiSchedule) };
  });

  app.put<{ Params: { projectID: string } }>("/v1/projects/:projectID/scheduled-backups/default", async (req) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const body = parse(PutScheduledBackupRequest, req.body);
    return { scheduled_backup: backups.toApiSchedule(await backups.putDefaultSchedule(ctx, project, body)) };
  });
}
