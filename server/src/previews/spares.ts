// Work done ahead of need, so that a preview create or reset waits for neither a copy
// nor a snapshot refresh:
// - a spare: one clone of a project's current snapshot, made in the background, that
//   the next create or reset takes by a rename (milliseconds) instead of copying the
//   data (seconds per gigabyte) while the user waits;
// - snapshots in use (cloned from within the last day) are refreshed in the background
//   shortly before they reach CAPYDB_SNAPSHOT_MAX_AGE_SECONDS.
//
// - snapshots nobody clones from any more are dropped with their spare (see
//   dropIdleSnapshots), so a project whose previews are gone gets its disk back.
//
// A spare is valid only for the snapshot generation it was cloned from: a refreshed
// snapshot makes it stale, and a stale spare is never taken, only dropped. Nobody can
// connect to a spare (datallowconn = false, CONNECT revoked from PUBLIC) until the job
// that takes it renames it to the preview's build name and grants the preview's role.
import { withInstanceSnapshot } from "./instance-snapshot.js";
import type { AppContext } from "../context.js";
import { jobs } from "../jobs/catalogue.js";
import { enqueue } from "../platform/jobs/define.js";
import type { JobContext } from "../platform/jobs/worker.js";
import { quoteIdent } from "../platform/dataplane/sql.js";
import { names } from "../platform/dataplane/names.js";
import { databaseExists, dropDatabase } from "../platform/dataplane/provision.js";
import { loadProject, type ProjectRow } from "../projects/store.js";
import { dropSpare, ensureSnapshot, ifSnapshotLockFree } from "./dataplane.js";
import { claimSpare, deleteIdleSnapshot, listIdleSnapshots, listSnapshotsToRefresh, loadSnapshot, loadSpare, recordSpare } from "./store.js";

const spareName = (project: ProjectRow, generation: number) => names.spare(project.database_name, generation);

/**
 * Takes the project's spare if it was cloned from snapshot `generation`: the row is
 * deleted first (so two jobs never take the same spare) and the database is renamed
 * to `target`. Answers false when there is no usable spare; the caller then clones.
 */
export async function takeSpare(ctx: AppContext, project: ProjectRow, generation: number, target: string): Promise<boolean> {
  if (!ctx.config.previewSpares) return false;
  const spare = await claimSpare(ctx.db, project.id, generation);
  if (spare === null) return false;
  const admin = await ctx.clusters.pool(project.cluster_id);
  if (!(await databaseExists(admin, spare))) return false;
  await dropDatabase(admin, target); // a leftover of an interrupted attempt
  await admin.query(`ALTER DATABASE ${quoteIdent(spare)} RENAME TO ${quoteIdent(target)}`);
  await admin.query(`ALTER DATABASE ${quoteIdent(target)} WITH ALLOW_CONNECTIONS true`);
  return true;
}

/** Asks for a spare to be made for the project, unless one is already on its way. */
export async function requestSpare(ctx: AppContext, project: ProjectRow): Promise<void> {
  if (!ctx.config.previewSpares || ctx.config.previewCloneStrategy === "logical") return;
  // One pending spare job per project: its dedupe key answers the pending one.
  await enqueue(
    ctx.db,
    jobs.previewSpare,
    { organizationId: project.organization_id, projectId: project.id, clusterId: project.cluster_id },
    {},
    {
      maxAttempts: ctx.config.jobMaxAttempts,
    },
  );
}

/**
 * The spare job: clones the current snapshot (if it is still fresh) into a database
 * nobody can connect to, and records it. A snapshot refreshed meanwhile makes the new
 * clone stale: it is dropped at once instead of recorded.
 */
export async function makeSpare(ctx: AppContext, job: JobContext): Promise<string> {
  const project = await loadProject(ctx.db, job.job.project_id!);
  if (!project || project.state !== "ready") return "the project is gone or not ready: no spare";
  if (!ctx.config.previewSpares || ctx.config.previewCloneStrategy === "logical") return "spares are turned off";
  const current = () => loadSnapshot(ctx.db, project.id);
  const snapshot = await current();
  if (!snapshot) return "the project has no snapshot: no spare";
  if ((Date.now() - snapshot.taken_at.getTime()) / 1000 > ctx.config.snapshotMaxAgeSeconds) {
    return "the snapshot is older than its maximum age: the next preview refreshes it and asks for a spare again";
  }
  await dropSpare(ctx, project, snapshot.generation); // a spare of an older snapshot
  const existing = await loadSpare(ctx.db, project.id);
  const admin = await ctx.clusters.pool(project.cluster_id);
  if (existing && (await databaseExists(admin, existing))) return "a spare is ready already";

  const name = spareName(project, snapshot.generation);
  await dropDatabase(admin, name); // a leftover of an interrupted attempt
  const strategy = ctx.config.previewCloneStrategy === "wal_log" ? "WAL_LOG" : "FILE_COPY";
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(snapshot.database_name)} STRATEGY ${strategy} ALLOW_CONNECTIONS false`);
  } catch (err) {
    // The snapshot was replaced (and dropped) while we waited for it: nothing to clone.
    if ((await current())?.generation !== snapshot.generation) return "the snapshot was refreshed meanwhile: no spare of the old one";
    throw err;
  }
  await admin.query(`REVOKE ALL ON DATABASE ${quoteIdent(name)} FROM PUBLIC`);
  const recorded = await recordSpare(ctx.db, { project_id: project.id, cluster_id: project.cluster_id, database_name: name, generation: snapshot.generation });
  if (!recorded) {
    await dropDatabase(admin, name);
    return "the snapshot was refreshed meanwhile: the spare of the old one was dropped";
  }
  return `spare ${name} is ready`;
}

/** A snapshot counts as in use when a create or reset cloned from it this recently. */
const IN_USE_SECONDS = 24 * 3600;

/** How long before its maximum age a snapshot in use is refreshed. */
export function refreshLeadSeconds(maxAgeSeconds: number): number {
  return Math.min(maxAgeSeconds / 5, 600);
}

/**
 * The scheduler's task: a refresh job for every snapshot in use that is about to
 * reach its maximum age (one job per project at a time).
 */
export async function enqueueSnapshotRefreshes(ctx: AppContext): Promise<number> {
  if (!ctx.config.snapshotRefreshAhead || ctx.config.previewCloneStrategy === "logical") return 0;
  const maxAge = ctx.config.snapshotMaxAgeSeconds;
  if (maxAge === 0) return 0; // every clone refreshes: nothing to do ahead
  const rows = await listSnapshotsToRefresh(ctx.db, maxAge - refreshLeadSeconds(maxAge), IN_USE_SECONDS, jobs.snapshotRefresh.type);
  for (const r of rows) {
    await enqueue(
      ctx.db,
      jobs.snapshotRefresh,
      { organizationId: r.organization_id, projectId: r.project_id, clusterId: r.cluster_id },
      {},
      {
        maxAttempts: ctx.config.jobMaxAttempts,
      },
    );
  }
  return rows.length;
}

/** The refresh job: a new snapshot generation (unless one newer than the job exists), then a spare of it. */
export async function refreshSnapshot(ctx: AppContext, job: JobContext): Promise<string> {
  const project = await loadProject(ctx.db, job.job.project_id!);
  if (!project || project.state !== "ready") return "the project is gone or not ready: no refresh";
  if (await ctx.instances?.instanceOf(project.cluster_id)) {
    // the instance engine's snapshot: a file-level copy of production, no spare needed
    const { takenAt } = await withInstanceSnapshot(ctx, project, job.job.created_at, async () => {});
    return `the instance snapshot holds the data of ${takenAt.toISOString()}`;
  }
  const snapshot = await ensureSnapshot(ctx, job, project, job.job.created_at, { use: false });
  await requestSpare(ctx, project);
  return `snapshot generation ${snapshot.generation} holds the data of ${snapshot.takenAt.toISOString()}`;
}

/**
 * The scheduler's task: a snapshot past its maximum age that nobody cloned from for a
 * day serves nobody (the next create refreshes it anyway, and refresh-ahead has stopped
 * for it), so it is dropped together with its spare, giving their disk back. Previews
 * made from it are databases of their own and stay. Decided again under the snapshot
 * lock, so a refresh or clone starting meanwhile wins; a few per scheduler tick.
 */
export async function dropIdleSnapshots(ctx: AppContext): Promise<number> {
  const maxAge = ctx.config.snapshotMaxAgeSeconds;
  let dropped = 0;
  for (const project_id of await listIdleSnapshots(ctx.db, maxAge, IN_USE_SECONDS)) {
    const project = await loadProject(ctx.db, project_id);
    if (!project) continue;
    // A refresh holding the lock means the snapshot is in use after all: leave it.
    await ifSnapshotLockFree(ctx, project.id, async () => {
      const gone = await deleteIdleSnapshot(ctx.db, project.id, maxAge, IN_USE_SECONDS);
      if (gone.length === 0) return; // used or refreshed meanwhile
      await dropSpare(ctx, project);
      const admin = await ctx.clusters.pool(project.cluster_id);
      for (const database of gone) await dropDatabase(admin, database);
      if (ctx.instances && (await ctx.instances.instanceOf(project.cluster_id))) for (const name of gone) await ctx.instances.dropSnapshot(name);
      ctx.log.info({ project_id: project.id, database: gone[0] }, "dropped a snapshot nobody cloned from for a day, and its spare");
      dropped++;
    });
  }
  return dropped;
}
