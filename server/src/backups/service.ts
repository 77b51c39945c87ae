// Backups and their schedules: API objects, and the operations routes call (the rows
// and their statements are store.ts's).
import { livePreviewOfBackup } from "../previews/store.js";
import type { z } from "zod";
import type { Backup, PutScheduledBackupRequest, ScheduledBackup } from "@capydb/api";
import type { AppContext } from "../context.js";
import type { Principal } from "../http/auth.js";
import { canAccess } from "../http/auth.js";
import { conflict, notFound, projectStateConflict } from "../http/errors.js";
import { jobs } from "../jobs/catalogue.js";
import { enqueue } from "../platform/jobs/define.js";
import type { JobRow } from "../platform/jobs/types.js";
import { ceilingsFor, whereSet } from "../platform/quotas.js";
import { inTransaction, type Queryable } from "../platform/store/db.js";
import { recordLatestJob, type ProjectRow } from "../projects/store.js";
import {
  countManualBackups,
  deactivateProjectSchedules,
  deleteBackupRow,
  insertBackup,
  listProjectBackupIds,
  loadBackup,
  lockBackupForDelete,
  lockBackupWhileEnqueueing,
  upsertDefaultSchedule,
  type BackupRow,
  type ScheduleRow,
} from "./store.js";

export const DEFAULT_RETENTION_DAYS = 7;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const toApiBackup = (r: BackupRow): Backup => ({
  id: r.id,
  project_id: r.project_id,
  label: r.label,
  state: r.state,
  database_name: r.database_name,
  backup_key: r.backup_key,
  size_bytes: r.size_bytes,
  verification_state: r.verification_state,
  verification_error: r.verification_error,
  verified_at: iso(r.verified_at),
  created_at: r.created_at.toISOString(),
});

export const toApiSchedule = (r: ScheduleRow): ScheduledBackup => ({
  id: r.id,
  organization_id: r.organization_id,
  project_id: r.project_id,
  label: r.label,
  cron_hour: r.cron_hour,
  cron_minute: r.cron_minute,
  is_active: r.is_active,
  retention_days: r.retention_days,
  last_run_at: iso(r.last_run_at),
  last_job_id: r.last_job_id,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

export async function backupFor(ctx: AppContext, principal: Principal, id: string): Promise<BackupRow> {
  const row = await loadBackup(ctx.db, id);
  if (!row || !canAccess(principal, row.organization_id, row.project_id)) throw notFound(`backup ${id} not found`);
  return row;
}

function enqueueBackupJob(tx: Queryable, ctx: AppContext, project: ProjectRow, definition: typeof jobs.backupCreate, backupId: string) {
  return enqueue(
    tx,
    definition,
    { organizationId: project.organization_id, projectId: project.id, clusterId: project.cluster_id },
    { backup_id: backupId },
    {
      maxAttempts: ctx.config.jobMaxAttempts,
    },
  );
}

/**
 * Takes a backup. One taken on request (no schedule) counts against the plan's
 * manual_backups_per_project: past it the answer is 409, never a silent deletion of an
 * older one (the tenant deletes one, or a schedule's retention removes old ones).
 */
export async function createBackup(
  ctx: AppContext,
  project: ProjectRow,
  label: string | null,
  opts: { scheduledBackupId?: string | null; pinned?: boolean; tx?: Queryable } = {},
): Promise<{ backup: BackupRow; job: JobRow }> {
  if (project.state !== "ready") throw projectStateConflict(project.state, `project is ${project.state}: backups can be taken once it is ready`);
  const run = async (tx: Queryable) => {
    if (!opts.scheduledBackupId) await refuseOverManualCeiling(ctx, tx, project);
    const backup = await insertBackup(tx, project, { label, scheduledBackupId: opts.scheduledBackupId, pinned: opts.pinned });
    const job = await enqueueBackupJob(tx, ctx, project, jobs.backupCreate, backup.id);
    await recordLatestJob(tx, project.id, job.id);
    return { backup, job };
  };
  return opts.tx ? run(opts.tx) : inTransaction(ctx.db, run);
}

export async function restoreBackup(ctx: AppContext, project: ProjectRow, backup: BackupRow): Promise<JobRow> {
  if (project.state !== "ready") throw projectStateConflict(project.state, `project is ${project.state}`);
  if (backup.state !== "completed") throw conflict(`backup is ${backup.state}: only a completed backup can be restored`, "backup_not_completed");
  if (backup.verification_state === "failed")
    throw conflict(`backup failed verification (${backup.verification_error}): it cannot be restored`, "backup_verification_failed");
  return inTransaction(ctx.db, async (tx) => {
    await keepWhileEnqueueing(tx, backup.id);
    const job = await enqueueBackupJob(tx, ctx, project, jobs.backupRestore, backup.id);
    await recordLatestJob(tx, project.id, job.id);
    return job;
  });
}

export async function verifyBackup(ctx: AppContext, project: ProjectRow, backup: BackupRow): Promise<JobRow> {
  if (backup.state !== "completed") throw conflict(`backup is ${backup.state}: only a completed backup can be verified`, "backup_not_completed");
  return inTransaction(ctx.db, async (tx) => {
    await keepWhileEnqueueing(tx, backup.id);
    return enqueueBackupJob(tx, ctx, project, jobs.backupVerify, backup.id);
  });
}

/** A delete waits for (and then sees) a job being enqueued on the backup; a deleted backup gets none. */
async function keepWhileEnqueueing(tx: Queryable, backupId: string): Promise<void> {
  if (!(await lockBackupWhileEnqueueing(tx, backupId))) throw notFound(`backup ${backupId} not found`);
}

async function refuseOverManualCeiling(ctx: AppContext, tx: Queryable, project: ProjectRow): Promise<void> {
  // Requests for one project take turns, so the count holds under concurrency.
  await tx.query("SELECT 1 FROM projects WHERE id = $1 FOR NO KEY UPDATE", [project.id]);
  const ceilings = await ceilingsFor(tx, ctx.config.plans, project.organization_id, project.plan);
  const most = ceilings.quotas.manual_backups_per_project;
  const n = await countManualBackups(tx, project.id);
  if (n >= most) {
    throw conflict(
      `manual_backups_per_project: the project keeps ${n} backups taken on request, at most ${most} ${whereSet(ceilings, "manual_backups_per_project")}: ` +
        "delete one first (DELETE /v1/backups/{backupID}), or let a schedule's retention remove old ones",
      "backup_limit_reached",
    );
  }
}

/**
 * Deletes a backup: its record, then its archive, in one transaction (a failed blob
 * delete keeps the record). Pinned backups (a cutover's), backups still being taken,
 * backups a live preview resets from and backups a job is about to read are kept (409).
 */
export async function deleteBackup(ctx: AppContext, backup: BackupRow, keyOf: (b: { project_id: string; id: string }) => string): Promise<BackupRow> {
  return inTransaction(ctx.db, async (tx) => {
    const row = await lockBackupForDelete(tx, backup.id);
    if (!row) throw notFound(`backup ${backup.id} not found`);
    if (row.pinned) throw conflict("backup is pinned (a cutover's pre-cutover backup): it is kept whatever the retention", "backup_pinned");
    if (row.state === "pending" || row.state === "running")
      throw conflict(`backup is ${row.state}: it can be deleted once it is taken`, "backup_not_completed");
    const preview = await livePreviewOfBackup(tx, row.id);
    if (preview) throw conflict(`backup is the source of preview ${preview}, which resets from it: delete that preview first`, "backup_in_use");
    const job = await tx.query<{ id: string; type: string }>(
      "SELECT id, type FROM jobs WHERE state IN ('pending', 'running') AND payload->>'backup_id' = $1 LIMIT 1",
      [row.id],
    );
    if (job.rows[0]) throw conflict(`backup is in use by job ${job.rows[0].id} (${job.rows[0].type}): delete it once that job has finished`, "backup_in_use");
    await deleteBackupRow(tx, row.id);
    await ctx.blobs.delete(keyOf(row));
    return row;
  });
}

/** Creates or replaces the project's default schedule. */
export async function putDefaultSchedule(ctx: AppContext, project: ProjectRow, body: z.infer<typeof PutScheduledBackupRequest>): Promise<ScheduleRow> {
  if (project.state === "deleting" || project.state === "deleted") throw projectStateConflict(project.state, `project is ${project.state}`);
  return upsertDefaultSchedule(ctx.db, project, {
    label: body.label ?? null,
    cronHour: body.cron_hour,
    cronMinute: body.cron_minute,
    isActive: body.is_active,
    retentionDays: body.retention_days ?? DEFAULT_RETENTION_DAYS,
  });
}

/** When a project goes, its schedules stop and its backups go (blobs, then rows). */
export async function deleteProjectBackups(ctx: AppContext, projectId: string, keyOf: (b: { project_id: string; id: string }) => string): Promise<void> {
  await deactivateProjectSchedules(ctx.db, projectId);
  for (const b of await listProjectBackupIds(ctx.db, projectId)) {
    await ctx.blobs.delete(keyOf(b));
    await deleteBackupRow(ctx.db, b.id);
  }
}
