// Previews on the instance engine: each preview is a PostgreSQL instance of its own,
// a copy-on-write clone of the project's snapshot (a stopped data directory made from
// production's running instance without a logical copy). Creating, resetting and
// deleting cost the same at any size. In the clone, production's database and role are
// renamed to the preview's and the role gets the preview's password: the preview's
// instance holds no other database, role or password hash than its own.
import type { AppContext } from "../context.js";
import type { JobContext } from "../platform/jobs/worker.js";
import { PermanentError } from "../platform/jobs/errors.js";
import { quoteIdent } from "../platform/dataplane/sql.js";
import { names } from "../platform/dataplane/names.js";
import { databaseExists, ensureLoginRole, roleExists } from "../platform/dataplane/provision.js";
import type { InstanceRow } from "../platform/dataplane/instances/registry.js";
import type { ProjectRow } from "../projects/store.js";
import { withSnapshotLock } from "./dataplane.js";
import { loadSnapshot, nextSnapshotGeneration, recordSnapshot, useSnapshot, type PreviewRow } from "./store.js";

/** Whether a preview is made by cloning the project's instance snapshot (else: an empty instance, then the usual build). */
export function clonesSnapshot(preview: PreviewRow): boolean {
  return preview.source_kind === "project" && preview.mode === "full";
}

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
  fn: (snapshot: string) => Promise<T>,
): Promise<{ result: T; takenAt: Date }> {
  const engine = ctx.instances!;
  const production = await engine.instanceOf(project.cluster_id);
  if (!production) throw new PermanentError(`project ${project.id} has no instance of its own: its previews cannot be cloned at the file level`);
  const name = names.instanceSnapshot(project.database_name);
  const fresh = (taken: Date) => (freshSince ? taken >= freshSince : (Date.now() - taken.getTime()) / 1000 <= ctx.config.snapshotMaxAgeSeconds);
  for (let attempt = 0; attempt < 3; attempt++) {
    const used = await withSnapshotShared(ctx, project.id, async () => {
      const current = await useSnapshot(ctx.db, project.id);
      if (!current || current.database_name !== name || !engine.host.snapshotExists(name) || !fresh(current.taken_at)) return null;
      return { result: await fn(name), takenAt: current.taken_at };
    });
    if (used) return used;
    await withSnapshotLock(ctx, project.id, async () => {
      const current = await loadSnapshot(ctx.db, project.id);
      if (current && current.database_name === name && engine.host.snapshotExists(name) && fresh(current.taken_at)) return; // refreshed meanwhile
      // everything committed before this instant is in the snapshot
      const takenAt = new Date();
      const { lsn } = await engine.snapshot(production, name, { copied: () => ctx.faults.check("instance.snapshot.copied") });
      await recordSnapshot(ctx.db, {
        project_id: project.id,
        cluster_id: project.cluster_id,
        database_name: name,
        generation: await nextSnapshotGeneration(ctx.db),
        taken_at: takenAt,
        snapshot_dir: name,
        snapshot_lsn: lsn,
      });
    });
  }
  throw new Error(`the snapshot of project ${project.id} was replaced three times while a clone waited for it`);
}

/**
 * In a clone of production, production's database and role become the preview's, and
 * the role gets the preview's password and limits. Runs in the instance's maintenance
 * database (catalog changes only: no tenant code runs). Idempotent.
 */
async function adoptPreviewIdentity(ctx: AppContext, job: JobContext, preview: PreviewRow, project: ProjectRow): Promise<void> {
  const admin = await ctx.clusters.pool(preview.cluster_id);
  if (!(await databaseExists(admin, preview.database_name))) {
    await admin.query(`ALTER DATABASE ${quoteIdent(project.database_name)} RENAME TO ${quoteIdent(preview.database_name)}`);
  }
  if (!(await roleExists(admin, preview.role_name))) {
    await admin.query(`ALTER ROLE ${quoteIdent(project.role_name)} RENAME TO ${quoteIdent(preview.role_name)}`);
  }
  const password = ctx.box.open(preview.role_password_sealed);
  job.addSecret(password);
  await ensureLoginRole(admin, preview.role_name, password, { ...project, max_connections: preview.max_connections ?? project.max_connections });
}

async function previewInstance(ctx: AppContext, preview: PreviewRow): Promise<InstanceRow> {
  const row = await ctx.instances!.instanceOf(preview.cluster_id);
  if (!row) throw new PermanentError(`preview ${preview.id} has no instance`);
  return row;
}

/** Makes the preview's instance as a clone of the project's snapshot; answers the instant its data is from (null: made before, by a retried job). */
export async function createFromSnapshot(ctx: AppContext, job: JobContext, preview: PreviewRow, project: ProjectRow, fresh: boolean): Promise<Date | null> {
  const row = await previewInstance(ctx, preview);
  let at: Date | null = null;
  if (!ctx.instances!.host.exists(row.name)) {
    ({ takenAt: at } = await withInstanceSnapshot(ctx, project, fresh ? job.job.created_at : null, (snapshot) =>
      ctx.instances!.ensureFromSnapshot(row, snapshot),
    ));
  }
  await ctx.instances!.host.start(row.name);
  ctx.faults.check("preview.instance.cloned");
  await adoptPreviewIdentity(ctx, job, preview, project);
  return at;
}

/** Replaces the preview's data with a new clone of the snapshot; same instance, port, database, role and password. */
export async function resetFromSnapshot(ctx: AppContext, job: JobContext, preview: PreviewRow, project: ProjectRow, fresh: boolean): Promise<Date> {
  const row = await previewInstance(ctx, preview);
  await ctx.pooler.kill(preview.cluster_id, preview.database_name).catch(() => {});
  const { takenAt } = await withInstanceSnapshot(ctx, project, fresh ? job.job.created_at : null, (snapshot) =>
    ctx.instances!.replaceFromSnapshot(row, snapshot),
  );
  ctx.faults.check("preview.instance.relinked");
  await adoptPreviewIdentity(ctx, job, preview, project);
  return takenAt;
}

/** Makes the preview's instance empty, from the template (sources other than the project's data build into it as usual). */
export async function createEmptyInstance(ctx: AppContext, preview: PreviewRow): Promise<void> {
  await ctx.instances!.ensureFromTemplate(await previewInstance(ctx, preview));
}

/** Stops and removes the preview's instance. */
export async function destroyPreviewInstance(ctx: AppContext, preview: PreviewRow): Promise<void> {
  const row = await ctx.instances!.instanceOf(preview.cluster_id);
  if (row && row.state === "active") await ctx.instances!.destroy(row);
}
