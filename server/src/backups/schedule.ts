// The scheduler's backup tasks: enqueue due scheduled backups (once per slot),
// and delete backups past their retention.
import type { AppContext } from "../context.js";
import { inTransaction } from "../platform/store/db.js";
import { loadProject } from "../projects/store.js";
import { backupKey } from "./take.js";
import { createBackup } from "./service.js";

interface DueRow {
  id: string;
  project_id: string;
  label: string | null;
  slot: Date;
}

/**
 * For each active schedule, the latest slot (today or yesterday at cron_hour:cron_minute
 * UTC, by the database's clock) that is due and not yet run gets exactly one
 * backup: the conditional UPDATE of last_slot is the claim, so concurrent
 * schedulers and a restart after downtime enqueue once, and only the latest missed slot.
 */
export async function enqueueDueBackups(ctx: AppContext): Promise<number> {
  const { rows } = await ctx.db.query<DueRow>(
    `SELECT s.id, s.project_id, s.label, d.slot
     FROM scheduled_backups s
     CROSS JOIN LATERAL (
       SELECT ((date_trunc('day', now() AT TIME ZONE 'UTC') + make_interval(hours => s.cron_hour, mins => s.cron_minute)) AT TIME ZONE 'UTC') AS today
     ) t
     CROSS JOIN LATERAL (SELECT CASE WHEN t.today <= now() THEN t.today ELSE t.today - interval '1 day' END AS slot) d
     JOIN projects p ON p.id = s.project_id AND p.state = 'ready'
     WHERE s.is_active AND d.slot >= s.effective_from AND (s.last_slot IS NULL OR s.last_slot < d.slot)`,
  );
  let enqueued = 0;
  for (const due of rows) {
    const project = await loadProject(ctx.db, due.project_id);
    if (!project) continue;
    const done = await inTransaction(ctx.db, async (tx) => {
      const claimed = await tx.query(
        "UPDATE scheduled_backups SET last_slot = $2 WHERE id = $1 AND is_active AND (last_slot IS NULL OR last_slot < $2) RETURNING id",
        [due.id, due.slot],
      );
      if (!claimed.rowCount) return false;
      const { job } = await createBackup(ctx, project, due.label ?? "scheduled", { scheduledBackupId: due.id, tx });
      await tx.query("UPDATE scheduled_backups SET last_run_at = now(), last_job_id = $2, updated_at = now() WHERE id = $1", [due.id, job.id]);
      return true;
    });
    if (done) enqueued++;
  }
  return enqueued;
}

/**
 * Backups older than their project's retention_days go (blob, then row). The
 * newest verified backup of a project and pinned backups are never deleted.
 */
export async function applyRetention(ctx: AppContext): Promise<number> {
  const { rows } = await ctx.db.query<{ id: string; project_id: string }>(
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
  for (const b of rows) {
    await ctx.blobs.delete(backupKey(b));
    await ctx.db.query("DELETE FROM backups WHERE id = $1", [b.id]);
  }
  return rows.length;
}
