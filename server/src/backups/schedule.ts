// The scheduler's backup tasks: enqueue due scheduled backups (once per slot),
// and delete backups past their retention.
import type { AppContext } from "../context.js";
import { inTransaction } from "../platform/store/db.js";
import { loadProject } from "../projects/store.js";
import { backupKey } from "./take.js";
import { createBackup } from "./service.js";
import { claimScheduleSlot, deleteBackupRow, recordScheduledRun, selectBackupsPastRetention, selectDueSchedules } from "./store.js";

/**
 * For each active schedule, the latest slot (today or yesterday at cron_hour:cron_minute
 * UTC, by the database's clock) that is due and not yet run gets exactly one
 * backup: the conditional UPDATE of last_slot is the claim, so concurrent
 * schedulers and a restart after downtime enqueue once, and only the latest missed slot.
 */
export async function enqueueDueBackups(ctx: AppContext): Promise<number> {
  const rows = await selectDueSchedules(ctx.db);
  let enqueued = 0;
  for (const due of rows) {
    const project = await loadProject(ctx.db, due.project_id);
    if (!project) continue;
    const done = await inTransaction(ctx.db, async (tx) => {
      if (!(await claimScheduleSlot(tx, due.id, due.slot))) return false;
      const { job } = await createBackup(ctx, project, due.label ?? "scheduled", { scheduledBackupId: due.id, tx });
      await recordScheduledRun(tx, due.id, job.id);
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
  const rows = await selectBackupsPastRetention(ctx.db);
  for (const b of rows) {
    await ctx.blobs.delete(backupKey(b));
    await deleteBackupRow(ctx.db, b.id);
  }
  return rows.length;
}
