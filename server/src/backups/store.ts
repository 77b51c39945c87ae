// The backup tables (backups, scheduled_backups): row types and every statement that
// reads or writes them (one writer per table).
import type { Backup } from "@capydb/api";
import type { Queryable } from "../platform/store/db.js";
import { listRows, type Listed, type Page } from "../http/pagination.js";
import { newId } from "../platform/secrets.js";
import type { ProjectRow } from "../projects/store.js";
import type { DumpResult, RowCounts } from "./dataplane.js";

export interface BackupRow {
  id: string;
  project_id: string;
  organization_id: string;
  label: string | null;
  state: Backup["state"];
  database_name: string;
  backup_key: string | null;
  size_bytes: number | null;
  sha256: string | null;
  row_counts: RowCounts | null;
  snapshot_at: Date | null;
  verification_state: Backup["verification_state"];
  verification_error: string | null;
  verified_at: Date | null;
  error: string | null;
  pinned: boolean;
  scheduled_backup_id: string | null;
  created_by_job_id: string | null;
  completed_at: Date | null;
  created_at: Date;
}

export interface ScheduleRow {
  id: string;
  project_id: string;
  organization_id: string;
  label: string | null;
  cron_hour: number;
  cron_minute: number;
  is_active: boolean;
  retention_days: number;
  last_run_at: Date | null;
  last_job_id: string | null;
  created_at: Date;
  updated_at: Date;
}

/** A schedule's slot that is due: see selectDueSchedules. */
export interface DueScheduleRow {
  id: string;
  project_id: string;
  label: string | null;
  slot: Date;
}

/** Backups taken on request: not by a schedule, not by a job (a restore's safety backup, a pre-cutover one). */
const MANUAL = "scheduled_backup_id IS NULL AND created_by_job_id IS NULL AND state <> 'failed'";

// backups: reads

export async function loadBackup(db: Queryable, id: string): Promise<BackupRow | null> {
  return (await db.query<BackupRow>("SELECT * FROM backups WHERE id = $1", [id])).rows[0] ?? null;
}

/** A project's backups, newest first: all of them, or one page. */
export async function listBackups(db: Queryable, projectId: string, page: Page | null = null): Promise<Listed<BackupRow>> {
  return listRows<BackupRow>(
    db,
    { base: "SELECT * FROM backups", where: ["project_id = $1"], params: [projectId], createdAt: "created_at", id: "id", idOrder: "DESC" },
    page,
  );
}

/** The backup a job made for itself (a restore's safety backup), found again on retry. */
export async function findBackupCreatedByJob(db: Queryable, jobId: string): Promise<BackupRow | undefined> {
  return (await db.query<BackupRow>("SELECT * FROM backups WHERE created_by_job_id = $1", [jobId])).rows[0];
}

/** The project's backups taken on request (MANUAL), counted against the plan's ceiling. */
export async function countManualBackups(tx: Queryable, projectId: string): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM backups WHERE project_id = $1 AND ${MANUAL}`, [projectId]);
  return rows[0].n;
}

/** Every backup of the project, as much as names its archive. */
export async function listProjectBackupIds(db: Queryable, projectId: string): Promise<{ id: string; project_id: string }[]> {
  return (await db.query<{ id: string; project_id: string }>("SELECT id, project_id FROM backups WHERE project_id = $1", [projectId])).rows;
}

/**
 * Backups older than their project's retention_days (its default schedule's). The
 * newest verified backup of a project and pinned backups are never among them.
 */
export async function selectBackupsPastRetention(db: Queryable): Promise<{ id: string; project_id: string }[]> {
  const { rows } = await db.query<{ id: string; project_id: string }>(
    `SELECT b.id, b.project_id FROM backups b
     JOIN scheduled_backups s ON s.project_id = b.project_id AND s.name = 'default'
     WHERE b.created_at < now() - make_interval(days => s.retention_days)
       AND b.state IN ('completed', 'failed') AND NOT b.pinned
       -- a live preview made from a backup resets from it: it stays while the preview lives
       AND NOT EXISTS (SELECT 1 FROM preview_databases p WHERE p.source_backup_id = b.id AND p.state IN ('creating', 'ready', 'resetting'))
       AND b.id IS DISTINCT FROM (
         SELECT v.id FROM backups v WHERE v.project_id = b.project_id AND v.verification_state = 'verified'
         ORDER BY v.created_at DESC LIMIT 1)
     LIMIT 500`,
  );
  return rows;
}

// backups: locks

/**
 * Holds the backup while a job on it is enqueued: a delete waits for (and then sees) that
 * job; a deleted backup gets none. False when the backup is gone.
 */
export async function lockBackupWhileEnqueueing(tx: Queryable, backupId: string): Promise<boolean> {
  const { rowCount } = await tx.query("SELECT 1 FROM backups WHERE id = $1 FOR SHARE", [backupId]);
  return !!rowCount;
}

/** The backup, locked for its deletion in this transaction. */
export async function lockBackupForDelete(tx: Queryable, backupId: string): Promise<BackupRow | undefined> {
  return (await tx.query<BackupRow>("SELECT * FROM backups WHERE id = $1 FOR UPDATE", [backupId])).rows[0];
}

// backups: writes

/** Inserts a pending backup row; the job that fills it is enqueued by the caller. */
export async function insertBackup(
  tx: Queryable,
  project: ProjectRow,
  input: { label: string | null; scheduledBackupId?: string | null; createdByJobId?: string | null; pinned?: boolean },
): Promise<BackupRow> {
  const { rows } = await tx.query<BackupRow>(
    `INSERT INTO backups (id, project_id, organization_id, label, state, database_name, scheduled_backup_id, created_by_job_id, pinned)
     VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8) RETURNING *`,
    [
      newId("bkp"),
      project.id,
      project.organization_id,
      input.label,
      project.database_name,
      input.scheduledBackupId ?? null,
      input.createdByJobId ?? null,
      input.pinned ?? false,
    ],
  );
  return rows[0];
}

export async function markBackupRunning(db: Queryable, backupId: string): Promise<void> {
  await db.query("UPDATE backups SET state = 'running' WHERE id = $1", [backupId]);
}

/** Records the dump stored under `key`: the backup is completed (its verification is recorded apart). */
export async function markBackupCompleted(db: Queryable, backupId: string, key: string, result: DumpResult): Promise<BackupRow> {
  const { rows } = await db.query<BackupRow>(
    `UPDATE backups SET state = 'completed', backup_key = $2, size_bytes = $3, sha256 = $4, row_counts = $5, snapshot_at = $6,
       completed_at = now(), error = NULL WHERE id = $1 RETURNING *`,
    [backupId, key, result.sizeBytes, result.sha256, JSON.stringify(result.rowCounts), result.snapshotAt],
  );
  return rows[0];
}

/** The backup failed: it has no archive any more (the caller deleted it), and `error` (already scrubbed) says why. */
export async function markBackupFailed(db: Queryable, backupId: string, error: string): Promise<void> {
  await db.query("UPDATE backups SET state = 'failed', error = $2, backup_key = NULL WHERE id = $1", [backupId, error]);
}

/** Records a verification's verdict: verified when `problem` is null, failed with `problem` (already scrubbed) otherwise. */
export async function recordBackupVerification(db: Queryable, backupId: string, problem: string | null): Promise<void> {
  await db.query(`UPDATE backups SET verification_state = $2, verification_error = $3, verified_at = CASE WHEN $2 = 'verified' THEN now() END WHERE id = $1`, [
    backupId,
    problem === null ? "verified" : "failed",
    problem,
  ]);
}

/** Deletes the backup's row (its archive is the caller's). */
export async function deleteBackupRow(db: Queryable, backupId: string): Promise<void> {
  await db.query("DELETE FROM backups WHERE id = $1", [backupId]);
}

// scheduled_backups

export async function listSchedules(db: Queryable, projectId: string): Promise<ScheduleRow[]> {
  return (await db.query<ScheduleRow>("SELECT * FROM scheduled_backups WHERE project_id = $1 ORDER BY created_at", [projectId])).rows;
}

/**
 * Creates or replaces the project's default schedule. A slot is due only from the
 * moment the schedule (or its new time, or its activation) takes effect.
 */
export async function upsertDefaultSchedule(
  db: Queryable,
  project: ProjectRow,
  schedule: { label: string | null; cronHour: number; cronMinute: number; isActive: boolean; retentionDays: number },
): Promise<ScheduleRow> {
  const { rows } = await db.query<ScheduleRow>(
    `INSERT INTO scheduled_backups (id, project_id, organization_id, name, label, cron_hour, cron_minute, is_active, retention_days)
     VALUES ($1, $2, $3, 'default', $4, $5, $6, $7, $8)
     ON CONFLICT (project_id, name) DO UPDATE SET
       label = EXCLUDED.label, retention_days = EXCLUDED.retention_days, is_active = EXCLUDED.is_active,
       cron_hour = EXCLUDED.cron_hour, cron_minute = EXCLUDED.cron_minute,
       effective_from = CASE
         WHEN scheduled_backups.cron_hour <> EXCLUDED.cron_hour OR scheduled_backups.cron_minute <> EXCLUDED.cron_minute
           OR (EXCLUDED.is_active AND NOT scheduled_backups.is_active) THEN now()
         ELSE scheduled_backups.effective_from END,
       updated_at = now()
     RETURNING *`,
    [newId("sbk"), project.id, project.organization_id, schedule.label, schedule.cronHour, schedule.cronMinute, schedule.isActive, schedule.retentionDays],
  );
  return rows[0];
}

/** The project's schedules stop (the project is going). */
export async function deactivateProjectSchedules(db: Queryable, projectId: string): Promise<void> {
  await db.query("UPDATE scheduled_backups SET is_active = false, updated_at = now() WHERE project_id = $1", [projectId]);
}

/**
 * For each active schedule of a ready project, the latest slot (today or yesterday at
 * cron_hour:cron_minute UTC, by the database's clock) that is due and not yet run.
 */
export async function selectDueSchedules(db: Queryable): Promise<DueScheduleRow[]> {
  const { rows } = await db.query<DueScheduleRow>(
    `SELECT s.id, s.project_id, s.label, d.slot
     FROM scheduled_backups s
     CROSS JOIN LATERAL (
       SELECT ((date_trunc('day', now() AT TIME ZONE 'UTC') + make_interval(hours => s.cron_hour, mins => s.cron_minute)) AT TIME ZONE 'UTC') AS today
     ) t
     CROSS JOIN LATERAL (SELECT CASE WHEN t.today <= now() THEN t.today ELSE t.today - interval '1 day' END AS slot) d
     JOIN projects p ON p.id = s.project_id AND p.state = 'ready'
     WHERE s.is_active AND d.slot >= s.effective_from AND (s.last_slot IS NULL OR s.last_slot < d.slot)`,
  );
  return rows;
}

/**
 * Claims the schedule's slot: the conditional UPDATE of last_slot is the claim, so
 * concurrent schedulers and a restart after downtime enqueue once, and only the latest
 * missed slot. False when the slot was claimed already (or the schedule stopped).
 */
export async function claimScheduleSlot(tx: Queryable, scheduleId: string, slot: Date): Promise<boolean> {
  const claimed = await tx.query(
    "UPDATE scheduled_backups SET last_slot = $2 WHERE id = $1 AND is_active AND (last_slot IS NULL OR last_slot < $2) RETURNING id",
    [scheduleId, slot],
  );
  return !!claimed.rowCount;
}

/** Records the job a schedule's slot enqueued (shown as its last_run_at and last_job_id). */
export async function recordScheduledRun(tx: Queryable, scheduleId: string, jobId: string): Promise<void> {
  await tx.query("UPDATE scheduled_backups SET last_run_at = now(), last_job_id = $2, updated_at = now() WHERE id = $1", [scheduleId, jobId]);
}
