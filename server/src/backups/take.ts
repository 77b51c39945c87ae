// Taking a backup and verifying it: what a backup job does, and what a restore's
// safety backup and a cutover's pre-cutover backup do too.
import type { AppContext } from "../context.js";
import type { JobContext } from "../platform/jobs/worker.js";
import { PermanentError } from "../platform/jobs/errors.js";
import { scrubSecrets } from "../platform/jobs/scrub.js";
import { dropDatabase, prepareEmptyTenantDatabase } from "../platform/dataplane/provision.js";
import { names } from "../platform/dataplane/names.js";
import type { PgEndpoint } from "../platform/dataplane/pgtools.js";
import { tenantEndpoint, withTenantSession } from "../platform/dataplane/tenant-session.js";
import type { ProjectRow } from "../projects/store.js";
import { projectLogin } from "../projects/login.js";
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

/**
 * Restores the archive into a scratch database as the project's role and compares
 * exact row counts with those taken in the dump's snapshot; records the verdict.
 */
export async function verify(ctx: AppContext, job: JobContext, project: ProjectRow, backup: BackupRow): Promise<string | null> {
  const scratch = names.verification(project.database_name, backup.id);
  const admin = await ctx.clusters.pool(project.cluster_id);
  let problem: string | null = null;
  try {
    await prepareTarget(ctx, project, scratch, backup.backup_key!);
    await restoreFromBlob(ctx, job, backup.backup_key!, backup.sha256, await asProjectRole(ctx, job, project, scratch));
    // The restored data is the tenant's: counted as the tenant's role, like the backup's own counts.
    const counts = await withTenantSession(ctx.clusters, project.cluster_id, scratch, projectLogin(ctx, job, project), (c) => countRows(c), {
      applicationName: "capydb-verify",
      statementTimeoutSeconds: 6 * 3600,
    });
    problem = compareRowCounts(backup.row_counts ?? {}, counts);
  } catch (err) {
    if (err instanceof PermanentError) problem = err.message;
    else throw err; // transient: the job retries the verification
  } finally {
    await dropDatabase(admin, scratch).catch(() => {});
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
