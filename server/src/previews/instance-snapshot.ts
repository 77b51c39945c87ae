// The project's snapshot on the instance engine: a stopped data directory made from
// production's running instance without a logical copy, taken when missing or too old,
// under an advisory lock clones hold shared and a refresh holds alone.
import type { AppContext } from "../context.js";
import { PermanentError } from "../platform/jobs/errors.js";
import { names } from "../platform/dataplane/names.js";
import type { ProjectRow } from "../projects/store.js";
import { withSnapshotLock } from "./dataplane.js";
import { loadSnapshot, nextSnapshotGeneration, recordSnapshot, useSnapshot } from "./store.js";
import { createOriginSlot, ORIGIN_SLOT_PREFIX } from "../platform/dataplane/privileged.js";
import { errorMessage } from "../platform/jobs/errors.js";
import { releaseUnusedOrigins, type Origin } from "./origins.js";

/**
 * Runs fn while the snapshot lock is held shared: clones read the snapshot together, a
 * refresh (which holds the lock alone) waits for them and they for it.
 */
async function withSnapshotShared<T>(ctx: AppContext, projectId: string, fn: () => Promise<T>): Promise<T> {
  const client = await ctx.db.connect();
  try {
    await client.query("SELECT pg_advisory_lock_shared(hashtext('capydb:snapshot:' || $1))", [projectId]);
    return await fn();
  } finally {
    await client.query("SELECT pg_advisory_unlock_shared(hashtext('capydb:snapshot:' || $1))", [projectId]).catch(() => {});
    client.release();
  }
}

/**
 * Runs fn with the project's snapshot in place and fresh enough (no older than the maximum
 * age, or than `freshSince` when given): taken from production's instance first when it is
 * not. Answers fn's result and the instant the snapshot's data is from.
 */
export async function withInstanceSnapshot<T>(
  ctx: AppContext,
  project: ProjectRow,
  freshSince: Date | null,
  fn: (snapshot: string, origin: Origin) => Promise<T>,
): Promise<{ result: T; takenAt: Date; origin: Origin }> {
  const engine = ctx.instances!;
  const production = await engine.instanceOf(project.cluster_id);
  if (!production) throw new PermanentError(`project ${project.id} has no instance of its own: its previews cannot be cloned at the file level`);
  const name = names.instanceSnapshot(project.database_name);
  const fresh = (taken: Date) => (freshSince ? taken >= freshSince : (Date.now() - taken.getTime()) / 1000 <= ctx.config.snapshotMaxAgeSeconds);
  for (let attempt = 0; attempt < 3; attempt++) {
    const used = await withSnapshotShared(ctx, project.id, async () => {
      const current = await useSnapshot(ctx.db, project.id);
      if (!current || current.database_name !== name || !engine.host.snapshotExists(name) || !fresh(current.taken_at)) return null;
      const origin = { slot: current.origin_slot, lsn: current.origin_lsn, error: current.origin_error };
      return { result: await fn(name, origin), takenAt: current.taken_at, origin };
    });
    if (used) return used;
    await withSnapshotLock(ctx, project.id, async () => {
      const current = await loadSnapshot(ctx.db, project.id);
      if (current && current.database_name === name && engine.host.snapshotExists(name) && fresh(current.taken_at)) return; // refreshed meanwhile
      // everything committed before this instant is in the snapshot
      const takenAt = new Date();
      const generation = await nextSnapshotGeneration(ctx.db);
      const slot = `${ORIGIN_SLOT_PREFIX}${project.id.replace(/[^a-z0-9]/g, "")}_${generation}`;
      let originError: string | null = null;
      const { lsn, originLsn } = await engine.snapshot(production, name, {
        copied: () => ctx.faults.check("instance.snapshot.copied"),
        // no origin (production holds a transaction open too long, or runs without wal_level =
        // logical since before an upgrade): the snapshot is taken all the same, and says why
        origin: () =>
          createOriginSlot(ctx.clusters, project.cluster_id, project.database_name, slot, ctx.config.instances.originSlotTimeoutSeconds).catch((err) => {
            originError = `no origin for writes since this snapshot: ${errorMessage(err)}`;
            return null;
          }),
      });
      await recordSnapshot(ctx.db, {
        project_id: project.id,
        cluster_id: project.cluster_id,
        database_name: name,
        generation,
        taken_at: takenAt,
        snapshot_dir: name,
        snapshot_lsn: lsn,
        origin: { slot: originLsn ? slot : null, lsn: originLsn, error: originLsn ? null : (originError ?? "no origin was made") },
      });
      await releaseUnusedOrigins(ctx, project);
    });
  }
  throw new Error(`the snapshot of project ${project.id} was replaced three times while a clone waited for it`);
}
