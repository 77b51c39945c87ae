// Job handlers for backups: take (and verify), verify again, restore.
import pg from "pg";
import type { AppContext } from "../context.js";
import type { JobContext, JobHandler } from "../platform/jobs/worker.js";
import { PermanentError, errorMessage } from "../platform/jobs/errors.js";
import { scrubSecrets } from "../platform/jobs/scrub.js";
import { quoteIdent } from "../platform/dataplane/sql.js";
import { databaseExists, dropDatabase, prepareEmptyTenantDatabase } from "../platform/dataplane/provision.js";
import type { PgEndpoint } from "../platform/dataplane/pgtools.js";
import { tenantEndpoint, withTenantSession, type TenantLogin } from "../platform/dataplane/tenant-session.js";
import { loadProject, type ProjectRow } from "../projects/service.js";
import { forgetSnapshot } from "../previews/dataplane.js";
import { compareRowCounts, countRows, dumpToBlob, extensionsForArchive, restoreFromBlob } from "./dataplane.js";
import { insertBackup, loadBackup, type BackupRow } from "./service.js";

export const backupKey = (b: { project_id: string; id: string }) => `backups/${b.project_id}/${b.id}.dump`;

async function projectOf(ctx: AppContext, id: string): Promise<ProjectRow> {
  const project = await loadProject(ctx.db, id);
  if (!project || project.state === "deleted" || project.state === "deleting") throw new PermanentError(`project ${id} is ${project?.state ?? "gone"}`);
  return project;
}

async function backupOf(ctx: AppContext, job: JobContext): Promise<BackupRow> {
  const backup = await loadBackup(ctx.db, String(job.job.payload.backup_id));
  if (!backup) throw new PermanentError(`backup ${job.job.payload.backup_id} no longer exists`);
  return backup;
}

/** The project's own role: everything backups do inside its databases logs in as it. */
export function projectLogin(ctx: AppContext, job: JobContext, project: ProjectRow): TenantLogin {
  const password = ctx.box.open(project.role_password_sealed);
  job.addSecret(password);
  return { role: project.role_name, password };
}

/** A database on the project's cluster, reached as the project's role (restores never run as a superuser). */
async function asProjectRole(ctx: AppContext, job: JobContext, project: ProjectRow, database: string): Promise<PgEndpoint> {
  return tenantEndpoint(ctx.clusters, project.cluster_id, database, projectLogin(ctx, job, project));
}

/** An empty database for the project's role with the extensions the archive needs made by the platform, ready for pg_restore as that role. */
async function prepareTarget(ctx: AppContext, project: ProjectRow, database: string, archiveKey: string): Promise<void> {
  const extensions = await extensionsForArchive(ctx, project.cluster_id, archiveKey);
  await prepareEmptyTenantDatabase(ctx.clusters, project.cluster_id, database, project.role_name, extensions);
}

/** Dumps the project into the blob store and records the result on the backup row. */
async function takeBackup(ctx: AppContext, job: JobContext, project: ProjectRow, backup: BackupRow): Promise<BackupRow> {
  if (backup.state === "completed") return backup; // a retry after the dump was recorded
  await ctx.db.query("UPDATE backups SET state = 'running' WHERE id = $1", [backup.id]);
  const key = backupKey(backup);
  ctx.faults.check("backup.before_dump");
  const result = await dumpToBlob(ctx, job, project.cluster_id, project.database_name, projectLogin(ctx, job, project), key);
  const { rows } = await ctx.db.query<BackupRow>(
    `UPDATE backups SET state = 'completed', backup_key = $2, size_bytes = $3, sha256 = $4, row_counts = $5, snapshot_at = $6,
       completed_at = now(), error = NULL WHERE id = $1 RETURNING *`,
    [backup.id, key, result.sizeBytes, result.sha256, JSON.stringify(result.rowCounts), result.snapshotAt],
  );
  return rows[0];
}

/**
 * Restores the archive into a scratch database as the project's role and compares
 * exact row counts with those taken in the dump's snapshot; records the verdict.
 */
async function verify(ctx: AppContext, job: JobContext, project: ProjectRow, backup: BackupRow): Promise<string | null> {
  const scratch = `${project.database_name}_vf_${backup.id.slice(4, 12)}`;
  const admin = await ctx.clusters.pool(project.cluster_id);
  let problem: string | null = null;
  try {
    await prepareTarget(ctx, project, scratch, backup.backup_key!);
    await restoreFromBlob(ctx, job, backup.backup_key!, backup.sha256, await asProjectRole(ctx, job, project, scratch));
    // The restored data is the tenant's: counted as the tenant's role, like the backup's own counts.
    const counts = await withTenantSession(ctx.clusters, project.cluster_id, scratch, projectLogin(ctx, job, project), (c) => countRows(c), { applicationName: "capydb-verify", statementTimeoutSeconds: 6 * 3600 });
    problem = compareRowCounts(backup.row_counts ?? {}, counts);
  } catch (err) {
    if (err instanceof PermanentError) problem = err.message;
    else throw err; // transient: the job retries the verification
  } finally {
    await dropDatabase(admin, scratch).catch(() => {});
  }
  await ctx.db.query(
    `UPDATE backups SET verification_state = $2, verification_error = $3, verified_at = CASE WHEN $2 = 'verified' THEN now() END WHERE id = $1`,
    [backup.id, problem ? "failed" : "verified", problem ? scrubSecrets(problem) : null],
  );
  return problem;
}

export async function takeAndVerify(ctx: AppContext, job: JobContext, project: ProjectRow, backup: BackupRow): Promise<BackupRow> {
  const taken = await takeBackup(ctx, job, project, backup);
  const problem = await verify(ctx, job, project, taken);
  if (problem) throw new PermanentError(`backup ${taken.id} failed verification: ${problem}`);
  return taken;
}

/** A failed backup does not stay half-written in the blob store or listed as usable. */
async function failBackup(ctx: AppContext, backupId: string, error: unknown): Promise<void> {
  const backup = await loadBackup(ctx.db, backupId);
  if (!backup || backup.state === "completed") return; // completed but unverified: the backup exists, its verdict says why
  await ctx.blobs.delete(backupKey(backup)).catch(() => {});
  await ctx.db.query("UPDATE backups SET state = 'failed', error = $2, backup_key = NULL WHERE id = $1", [backupId, scrubSecrets(errorMessage(error))]);
}

async function setAllowConnections(admin: pg.Pool, database: string, allow: boolean): Promise<void> {
  await admin.query(`ALTER DATABASE ${quoteIdent(database)} WITH ALLOW_CONNECTIONS ${allow}`);
}

/** Refuses new connections to a database and ends the ones it has (PgBouncer's too). */
async function closeDatabase(ctx: AppContext, project: ProjectRow, admin: pg.Pool, database: string): Promise<void> {
  await setAllowConnections(admin, database, false);
  await ctx.pooler.kill(project.cluster_id, database).catch(() => {});
  await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [database]);
}

/**
 * Puts `built` in place of the project's database by renames: connections to both
 * are closed and refused for the instant of the swap; the previous database ends
 * up as `old` (dropped unless keepOld). Resumable: a retry picks up where an
 * interrupted swap stopped.
 */
export async function swapDatabase(ctx: AppContext, project: ProjectRow, built: string, old: string, opts: { keepOld?: boolean } = {}): Promise<void> {
  const admin = await ctx.clusters.pool(project.cluster_id);
  const live = project.database_name;
  const liveExists = await databaseExists(admin, live);
  const builtExists = await databaseExists(admin, built);
  if (liveExists && builtExists) {
    await closeDatabase(ctx, project, admin, built);
    await closeDatabase(ctx, project, admin, live);
    await dropDatabase(admin, old);
    await admin.query(`ALTER DATABASE ${quoteIdent(live)} RENAME TO ${quoteIdent(old)}`);
    ctx.faults.check("swap.between_renames");
    await admin.query(`ALTER DATABASE ${quoteIdent(built)} RENAME TO ${quoteIdent(live)}`);
  } else if (!liveExists && builtExists) {
    await admin.query(`ALTER DATABASE ${quoteIdent(built)} RENAME TO ${quoteIdent(live)}`);
  } else if (!liveExists) {
    throw new PermanentError(`neither ${live} nor ${built} exists: cannot complete the swap`);
  }
  await setAllowConnections(admin, live, true);
  if (opts.keepOld) {
    if (await databaseExists(admin, old)) await setAllowConnections(admin, old, false);
  } else {
    await dropDatabase(admin, old);
  }
}

/** Undoes a half-done swap: the previous database goes back under the live name. */
export async function rollBackSwap(ctx: AppContext, project: ProjectRow, built: string, old: string, opts: { keepBuilt?: boolean } = {}): Promise<void> {
  const admin = await ctx.clusters.pool(project.cluster_id);
  if (!(await databaseExists(admin, project.database_name)) && (await databaseExists(admin, old))) {
    await admin.query(`ALTER DATABASE ${quoteIdent(old)} RENAME TO ${quoteIdent(project.database_name)}`);
  }
  if (await databaseExists(admin, project.database_name)) await setAllowConnections(admin, project.database_name, true);
  if (opts.keepBuilt) {
    if (await databaseExists(admin, built)) await setAllowConnections(admin, built, true);
  } else {
    await dropDatabase(admin, built);
  }
}

export function backupJobHandlers(ctx: AppContext): Record<string, JobHandler> {
  return {
    "backup.create": {
      async run(job) {
        const backup = await backupOf(ctx, job);
        await takeAndVerify(ctx, job, await projectOf(ctx, backup.project_id), backup);
      },
      async cleanup(job, error) {
        await failBackup(ctx, String(job.job.payload.backup_id), error);
      },
    },
    "backup.verify": {
      async run(job) {
        const backup = await backupOf(ctx, job);
        const problem = await verify(ctx, job, await projectOf(ctx, backup.project_id), backup);
        if (problem) throw new PermanentError(`backup ${backup.id} failed verification: ${problem}`);
      },
    },
    "backup.restore": {
      async run(job) {
        const source = await backupOf(ctx, job);
        const project = await projectOf(ctx, source.project_id);
        // First a safety backup of the current data (found again on retry).
        let safety = (await ctx.db.query<BackupRow>("SELECT * FROM backups WHERE created_by_job_id = $1", [job.job.id])).rows[0];
        safety ??= await insertBackup(ctx.db, project, { label: `safety backup before restoring ${source.id}`, createdByJobId: job.job.id });
        await takeAndVerify(ctx, job, project, safety);
        const built = `${project.database_name}_rs`;
        const old = `${project.database_name}_pre`;
        const admin = await ctx.clusters.pool(project.cluster_id);
        // A retry after the swap's first rename must not rebuild: the build is all there is.
        if (await databaseExists(admin, project.database_name)) {
          await prepareTarget(ctx, project, built, source.backup_key!);
          await restoreFromBlob(ctx, job, source.backup_key!, source.sha256, await asProjectRole(ctx, job, project, built));
        }
        await swapDatabase(ctx, project, built, old);
        // Previews made from now on must hold the restored data, not a snapshot of the replaced one.
        await forgetSnapshot(ctx, project);
        await ctx.pooler.sync(project.cluster_id);
      },
      async cleanup(job) {
        const source = await loadBackup(ctx.db, String(job.job.payload.backup_id));
        const project = source && (await loadProject(ctx.db, source.project_id));
        if (project) await rollBackSwap(ctx, project, `${project.database_name}_rs`, `${project.database_name}_pre`);
      },
    },
  };
}
