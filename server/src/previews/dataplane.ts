// What previews do on the data plane: the per-project snapshot database, clones
// of it, logical copies, and handing a clone's objects to the preview's role.
import type pg from "pg";
import type { AppContext } from "../context.js";
import type { JobContext } from "../platform/jobs/worker.js";
import { TransientError } from "../platform/jobs/errors.js";
import { quoteIdent } from "../platform/dataplane/sql.js";
import {
  createTenantDatabase,
  databaseExists,
  dropDatabase,
  grantTenantDatabase,
  platformExtensionsOf,
  prepareEmptyTenantDatabase,
} from "../platform/dataplane/provision.js";
import { dropTenantRole, reassignOwned } from "../platform/dataplane/privileged.js";
import { names } from "../platform/dataplane/names.js";
import { tenantEndpoint, withExportedSnapshot, type TenantLogin } from "../platform/dataplane/tenant-session.js";
import { dumpAndRestore, type PgEndpoint } from "../platform/dataplane/pgtools.js";
import type { ProjectRow } from "../projects/store.js";
import type { ProjectRef } from "../platform/lifecycle.js";
import { extensionsForArchive, restoreFromBlob } from "../backups/dataplane.js";
import {
  deleteSnapshot,
  deleteSpares,
  listUndeletedPreviews,
  loadSnapshot,
  markPreviewDeletedUnlessPromoted,
  nextSnapshotGeneration,
  recordSnapshot,
  useSnapshot,
  type SnapshotRow,
} from "./store.js";

export interface Snapshot {
  database: string;
  generation: number;
  takenAt: Date;
}

/** Connection details of a tenant role on the cluster, for pg_dump / pg_restore. */
async function endpoint(ctx: AppContext, clusterId: string, database: string, role: { name: string; password: string }): Promise<PgEndpoint> {
  return tenantEndpoint(ctx.clusters, clusterId, database, { role: role.name, password: role.password });
}

/**
 * Runs fn while holding the project's snapshot lock (a session advisory lock on the
 * control-plane database), so one refresh runs at a time per project.
 */
export async function withSnapshotLock<T>(ctx: AppContext, projectId: string, fn: () => Promise<T>): Promise<T> {
  const client = await ctx.db.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtext('capydb:snapshot:' || $1))", [projectId]);
    return await fn();
  } finally {
    await client.query("SELECT pg_advisory_unlock(hashtext('capydb:snapshot:' || $1))", [projectId]).catch(() => {});
    client.release();
  }
}

/** Like withSnapshotLock, but gives up at once (answering null) when someone holds the lock. */
export async function ifSnapshotLockFree<T>(ctx: AppContext, projectId: string, fn: () => Promise<T>): Promise<T | null> {
  const client = await ctx.db.connect();
  try {
    const got = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext('capydb:snapshot:' || $1)) AS ok", [projectId]);
    if (!got.rows[0].ok) return null;
    try {
      return await fn();
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext('capydb:snapshot:' || $1))", [projectId]).catch(() => {});
    }
  } finally {
    client.release();
  }
}

/**
 * The project's snapshot database, refreshed when missing, older than the maximum
 * age, or when `freshSince` asks for data newer than that instant. A snapshot that is
 * fresh enough is answered without waiting for the snapshot lock, so a create never
 * queues behind a background refresh; `use` records that a clone is made from it
 * (snapshots in use are refreshed ahead of their maximum age).
 */
export async function ensureSnapshot(
  ctx: AppContext,
  job: JobContext,
  project: ProjectRow,
  freshSince: Date | null,
  opts: { use?: boolean } = {},
): Promise<Snapshot> {
  const use = opts.use ?? true;
  const admin = await ctx.clusters.pool(project.cluster_id);
  const usable = async (): Promise<SnapshotRow | null> => {
    const current = use ? await useSnapshot(ctx.db, project.id) : await loadSnapshot(ctx.db, project.id);
    if (!current || !(await databaseExists(admin, current.database_name))) return null;
    const ageSeconds = (Date.now() - current.taken_at.getTime()) / 1000;
    const freshEnough = freshSince ? current.taken_at >= freshSince : ageSeconds <= ctx.config.snapshotMaxAgeSeconds;
    return freshEnough ? current : null;
  };
  const found = await usable();
  if (found) return { database: found.database_name, generation: found.generation, takenAt: found.taken_at };
  return withSnapshotLock(ctx, project.id, async () => {
    // Another job may have refreshed it while we waited for the lock.
    const again = await usable();
    if (again) return { database: again.database_name, generation: again.generation, takenAt: again.taken_at };
    const current = await loadSnapshot(ctx.db, project.id);
    const generation = await nextSnapshotGeneration(ctx.db);
    const database = names.snapshot(project.database_name, generation);
    const password = ctx.box.open(project.role_password_sealed);
    job.addSecret(password);
    const login = { role: project.role_name, password };
    await prepareEmptyTenantDatabase(
      ctx.clusters,
      project.cluster_id,
      database,
      project.role_name,
      await platformExtensionsOf(ctx.clusters, project.cluster_id, project.database_name, login),
    );
    // Dump exactly the exported snapshot, as the project's role: taken_at is the instant whose data the snapshot holds.
    const source = await endpoint(ctx, project.cluster_id, project.database_name, { name: project.role_name, password });
    const target = await endpoint(ctx, project.cluster_id, database, { name: project.role_name, password });
    const takenAt = await withExportedSnapshot(ctx.clusters, project.cluster_id, project.database_name, login, "capydb-snapshot", async (snapshot) => {
      await dumpAndRestore(job, { source, target, snapshot: snapshot.id, binDir: ctx.config.pgBinDir, lockWaitSeconds: ctx.config.toolLockWaitSeconds });
      return snapshot.at;
    });
    // Nobody may connect to a snapshot: that is what lets it serve as a template at any time.
    await admin.query(`REVOKE ALL ON DATABASE ${quoteIdent(database)} FROM ${quoteIdent(project.role_name)}`);
    await admin.query(`ALTER DATABASE ${quoteIdent(database)} WITH ALLOW_CONNECTIONS false`);
    await recordSnapshot(ctx.db, { project_id: project.id, cluster_id: project.cluster_id, database_name: database, generation, taken_at: takenAt });
    // The previous generation goes, and its spare with it; DROP waits for clones still reading it.
    await dropSpare(ctx, project, generation);
    if (current && current.database_name !== database) await dropDatabase(admin, current.database_name);
    return { database, generation, takenAt };
  });
}

export type CloneSource =
  | {
      kind: "template";
      template: string;
      strategy: "FILE_COPY" | "WAL_LOG";
      fromRole: string;
      /** a spare clone of the template already renamed to the target */ spareTaken: boolean;
    }
  | {
      kind: "logical";
      /** where the source database is: production's cluster (on the instance engine, not the preview's instance) */
      clusterId: string;
      database: string;
      schemaOnly: boolean;
      /** the source's own role: the copy reads it as that role */
      login: TenantLogin;
    }
  | { kind: "backup"; key: string; sha256: string | null }
  | { kind: "empty" };

/**
 * Makes `database` for the preview's role from a source: a template clone whose
 * objects are then handed over with REASSIGN OWNED (catalog-only, fast), a logical
 * copy restored as the preview's role, or an empty database. Returns the instant
 * whose data a logical copy holds.
 */
export async function buildPreviewDatabase(
  ctx: AppContext,
  job: JobContext,
  clusterId: string,
  database: string,
  role: { name: string; password: string },
  source: CloneSource,
): Promise<Date | null> {
  const admin = await ctx.clusters.pool(clusterId);
  if (source.kind === "template" && source.spareTaken) {
    await grantTenantDatabase(admin, database, role.name);
    await reassignOwned(ctx.clusters, clusterId, database, source.fromRole, role.name);
    return null;
  }
  if (source.kind === "template") {
    await dropDatabase(admin, database); // a leftover of an interrupted attempt
    try {
      await createTenantDatabase(admin, database, role.name, { template: source.template, strategy: source.strategy });
    } catch (err) {
      // A refresh replaced the snapshot between our reading it and cloning it: the next attempt clones the new one.
      if ((err as { code?: string }).code === "3D000")
        throw new TransientError(`the snapshot ${source.template} was replaced while the clone started; trying again`);
      throw err;
    }
    await reassignOwned(ctx.clusters, clusterId, database, source.fromRole, role.name);
    return null;
  }
  const extensions =
    source.kind === "logical"
      ? await platformExtensionsOf(ctx.clusters, source.clusterId, source.database, source.login)
      : source.kind === "backup"
        ? await extensionsForArchive(ctx, clusterId, source.key)
        : [];
  await prepareEmptyTenantDatabase(ctx.clusters, clusterId, database, role.name, extensions);
  if (source.kind === "empty") return null;
  if (source.kind === "backup") {
    await restoreFromBlob(ctx, job, source.key, source.sha256, await endpoint(ctx, clusterId, database, role));
    return null;
  }
  job.addSecret(source.login.password);
  const from = await endpoint(ctx, source.clusterId, source.database, { name: source.login.role, password: source.login.password });
  const to = await endpoint(ctx, clusterId, database, role);
  return withExportedSnapshot(ctx.clusters, source.clusterId, source.database, source.login, "capydb-snapshot", async (snapshot) => {
    await dumpAndRestore(job, {
      source: from,
      target: to,
      snapshot: snapshot.id,
      schemaOnly: source.schemaOnly,
      binDir: ctx.config.pgBinDir,
      lockWaitSeconds: ctx.config.toolLockWaitSeconds,
    });
    return snapshot.at;
  });
}

/** When a project goes, its previews and snapshot go with it (before its role can be dropped). */
export async function dropProjectPreviews(ctx: AppContext, project: ProjectRef): Promise<void> {
  const admin = await ctx.clusters.pool(project.cluster_id);
  for (const p of await listUndeletedPreviews(ctx.db, project.id)) {
    const instance = await ctx.instances?.instanceOf(p.cluster_id);
    if (instance) {
      // a preview of its own instance: the whole instance goes
      if (instance.state === "active") await ctx.instances!.destroy(instance);
      await markPreviewDeletedUnlessPromoted(ctx.db, p.id);
      continue;
    }
    await ctx.pooler.kill(project.cluster_id, p.database_name).catch(() => {});
    await dropDatabase(admin, names.previewBuild(p.database_name));
    await dropAsideCopies(admin, p.database_name);
    await dropDatabase(admin, p.database_name);
    await dropTenantRole(ctx.clusters, project.cluster_id, p.role_name);
    await markPreviewDeletedUnlessPromoted(ctx.db, p.id);
  }
  await forgetSnapshot(ctx, project);
}

/**
 * Drops the project's snapshot and spare: after production's data was replaced (a
 * restore, an import, a cutover), previews must not be cloned from the old data.
 */
export async function forgetSnapshot(ctx: AppContext, project: ProjectRef): Promise<void> {
  await withSnapshotLock(ctx, project.id, async () => {
    await dropSpare(ctx, project);
    const databases = await deleteSnapshot(ctx.db, project.id);
    const admin = await ctx.clusters.pool(project.cluster_id);
    for (const database of databases) await dropDatabase(admin, database);
    // on the instance engine the snapshot is a directory of the host
    if (ctx.instances && (await ctx.instances.instanceOf(project.cluster_id))) await ctx.instances.dropSnapshot(names.instanceSnapshot(project.database_name));
  });
}

/**
 * Drops the project's spare, whatever its generation (the snapshot went or was replaced).
 * Here rather than in spares.ts, so that snapshots and spares do not import each other.
 */
export async function dropSpare(ctx: AppContext, project: ProjectRef, keepGeneration?: number): Promise<void> {
  const databases = await deleteSpares(ctx.db, project.id, keepGeneration);
  const admin = await ctx.clusters.pool(project.cluster_id);
  for (const database of databases) await dropDatabase(admin, database);
}

/** A preview's copies renamed aside by resets, whatever their number. */
export async function dropAsideCopies(admin: pg.Pool, database: string): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE starts_with(datname, $1)", [
    names.previewAsidePrefix(database),
  ]);
  for (const r of rows) await dropDatabase(admin, r.datname);
}
