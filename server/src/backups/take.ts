// Taking a backup and verifying it: what a backup job does, and what a restore's
// safety backup and a cutover's pre-cutover backup do too.
import type { AppContext } from "../context.js";
import type { JobContext } from "../platform/jobs/worker.js";
import { PermanentError } from "../platform/jobs/errors.js";
import { scrubSecrets } from "../platform/jobs/scrub.js";
import { dropDatabase, ensureLoginRole, prepareEmptyTenantDatabase } from "../platform/dataplane/provision.js";
import { InstanceLimitError } from "../platform/dataplane/instances/registry.js";
import { inTransaction } from "../platform/store/db.js";
import { names } from "../platform/dataplane/names.js";
import type { PgEndpoint } from "../platform/dataplane/pgtools.js";
import { tenantEndpoint, withTenantSession } from "../platform/dataplane/tenant-session.js";
import type { ProjectRow } from "../projects/store.js";
import { projectLogin } from "../projects/login.js";
import { productionInstance } from "../projects/rebuild.js";
import { compareRowCounts, countRows, dumpToBlob, extensionsForArchive, restoreFromBlob } from "./dataplane.js";
import { markBackupCompleted, markBackupRunning, recordBackupVerification, type BackupRow } from "./store.js";

export const backupKey = (b: { project_id: string; id: string }) => `backups/${b.project_id}/${b.id}.dump`;

/** A database on the project's cluster, reached as the project's role (restores never run as a superuser). */
export async function asProjectRole(ctx: AppContext, job: JobContext, project: ProjectRow, database: string): Promise<PgEndpoint> {
  return tenantEndpoint(ctx.clusters, project.cluster_id, database, projectLogin(ctx, job, project));
}

/** An empty database for the project's role with the extensions the archive needs made by the platform, ready for pg_restore as that role. */
export async function prepareTarget(ctx: AppContext, project: ProjectRow, database: string, archiveKey: string): Promise<void> {
  const extensions = await extensionsForArchive(ctx, project.cluster_id, archiveKey);
  await prepareEmptyTenantDatabase(ctx.clusters, project.cluster_id, database, project.role_name, extensions);
}

/** Dumps the project into the blob store and records the result on the backup row. */
async function takeBackup(ctx: AppContext, job: JobContext, project: ProjectRow, backup: BackupRow): Promise<BackupRow> {
  if (backup.state === "completed") return backup; // a retry after the dump was recorded
  await markBackupRunning(ctx.db, backup.id);
  const key = backupKey(backup);
  ctx.faults.check("backup.before_dump");
  const result = await dumpToBlob(ctx, job, project.cluster_id, project.database_name, projectLogin(ctx, job, project), key);
  return markBackupCompleted(ctx.db, backup.id, key, result);
}

/** Where a verification restores: a cluster and a scratch database on it, removed by `cleanUp`. */
interface VerifyPlace {
  clusterId: string;
  database: string;
  cleanUp: () => Promise<void>;
}

/**
 * On the instance engine, a throwaway instance of the verification's own (from the template,
 * with the project's role and password): the restore's WAL never passes through production,
 * whose origin slots would otherwise have to decode it and hold it back. A retried job
 * removes its earlier attempt's instance first. When the host has no room for one more
 * instance, the scratch database goes on production's instance as on a shared cluster.
 */
async function verifyPlace(ctx: AppContext, job: JobContext, project: ProjectRow, backup: BackupRow): Promise<VerifyPlace> {
  const database = names.verification(project.database_name, backup.id);
  const production = await productionInstance(ctx, project);
  const onCluster = async (clusterId: string): Promise<VerifyPlace> => {
    const admin = await ctx.clusters.pool(clusterId);
    return { clusterId, database, cleanUp: () => dropDatabase(admin, database).catch(() => {}) };
  };
  if (!production) return onCluster(project.cluster_id);
  const engine = ctx.instances!;
  const earlier = await engine.buildOf(job.job.id, "verify");
  if (earlier) await engine.destroy(earlier);
  let instance;
  try {
    instance = await inTransaction(ctx.db, (tx) => engine.allocate(tx, project.id, "verify", 5, job.job.id));
  } catch (err) {
    if (!(err instanceof InstanceLimitError)) throw err;
    ctx.log.warn({ project_id: project.id, backup_id: backup.id }, `verifying on production's instance: ${err.message}`);
    return onCluster(project.cluster_id);
  }
  const cleanUp = () => engine.destroy(instance).catch((e) => ctx.log.warn({ err: (e as Error).message }, "could not remove a verify instance"));
  try {
    await engine.ensureFromTemplate(instance);
    await ensureLoginRole(await ctx.clusters.pool(instance.cluster_id), project.role_name, projectLogin(ctx, job, project).password, project);
  } catch (err) {
    await cleanUp();
    throw err;
  }
  return { clusterId: instance.cluster_id, database, cleanUp };
}

/**
 * Restores the archive into a scratch database as the project's role and compares
 * exact row counts with those taken in the dump's snapshot; records the verdict.
 */
export async function verify(ctx: AppContext, job: JobContext, project: ProjectRow, backup: BackupRow): Promise<string | null> {
  const place = await verifyPlace(ctx, job, project, backup);
  let problem: string | null = null;
  try {
    const extensions = await extensionsForArchive(ctx, place.clusterId, backup.backup_key!);
    await prepareEmptyTenantDatabase(ctx.clusters, place.clusterId, place.database, project.role_name, extensions);
    const login = projectLogin(ctx, job, project);
    await restoreFromBlob(ctx, job, backup.backup_key!, backup.sha256, await tenantEndpoint(ctx.clusters, place.clusterId, place.database, login));
    // The restored data is the tenant's: counted as the tenant's role, like the backup's own counts.
    const counts = await withTenantSession(ctx.clusters, place.clusterId, place.database, login, (c) => countRows(c), {
      applicationName: "capydb-verify",
      statementTimeoutSeconds: 6 * 3600,
    });
    problem = compareRowCounts(backup.row_counts ?? {}, counts);
  } catch (err) {
    if (err instanceof PermanentError) problem = err.message;
    else throw err; // transient: the job retries the verification
  } finally {
    await place.cleanUp();
  }
  await recordBackupVerification(ctx.db, backup.id, problem ? scrubSecrets(problem) : null);
  return problem;
}

export async function takeAndVerify(ctx: AppContext, job: JobContext, project: ProjectRow, backup: BackupRow): Promise<BackupRow> {
  const taken = await takeBackup(ctx, job, project, backup);
  const problem = await verify(ctx, job, project, taken);
  if (problem) throw new PermanentError(`backup ${taken.id} failed verification: ${problem}`);
  return taken;
}
