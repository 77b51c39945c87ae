// Moving a project made on the shared engine to an instance of its own (an operator's job:
// `npx capydb projects move-to-instance <id>`). The tenant's database is copied logically
// (pg_dump | pg_restore, as on an import) into a new instance, then the project points at it.
// Writes must not be lost, so the project is down while it is copied: its role may not log in
// (NOLOGIN, its sessions ended), and the copy is read by a temporary login role that is a
// member of the tenant's role (no superuser session in the tenant's database). The pooled
// connection string stays the same; the direct one changes port (the instance's).
import type { AppContext } from "../context.js";
import { jobs } from "../jobs/catalogue.js";
import { enqueue, payloadOf } from "../platform/jobs/define.js";
import type { JobContext, JobHandler } from "../platform/jobs/worker.js";
import { PermanentError, errorMessage } from "../platform/jobs/errors.js";
import { scrubSecrets } from "../platform/jobs/scrub.js";
import { inTransaction } from "../platform/store/db.js";
import { newId, newPassword, scramVerifier } from "../platform/secrets.js";
import type { JobRow } from "../platform/jobs/types.js";
import { quoteIdent, quoteLiteral } from "../platform/dataplane/sql.js";
import {
  dropDatabase,
  ensureLoginRole,
  platformExtensionsOf,
  platformMadeExtensions,
  prepareEmptyTenantDatabase,
  roleExists,
} from "../platform/dataplane/provision.js";
import { dropTenantRole } from "../platform/dataplane/privileged.js";
import { finishTools, startDump, startRestore, TOLERATED_RESTORE_ERRORS } from "../platform/dataplane/pgtools.js";
import { tenantEndpoint } from "../platform/dataplane/tenant-session.js";
import { badRequest, conflict } from "../http/errors.js";
import { allocateOrRefuse } from "./service.js";
import { loadProject, lockProjectState, moveProjectToCluster, recordLatestJob, type ProjectRow } from "./store.js";

/** The temporary role that reads the project's database during a move (a member of the tenant's role). */
const readerRole = (project: ProjectRow) => `${project.role_name}_mv`;

/** Enqueues the move (platform admins only): the instance is allocated now, made by the job. */
export async function moveToInstance(ctx: AppContext, project: ProjectRow): Promise<JobRow> {
  if (!ctx.instances) throw badRequest("this server runs the shared engine only (CAPYDB_DATA_PLANE_ENGINE=shared): there is no instance to move to");
  if (await ctx.instances.instanceOf(project.cluster_id)) throw conflict(`project ${project.id} already has an instance of its own`);
  if (project.state !== "ready") throw conflict(`project is ${project.state}: only a ready project can be moved`, "project_not_ready");
  return inTransaction(ctx.db, async (tx) => {
    const state = await lockProjectState(tx, project.id);
    if (state?.state !== "ready") throw conflict(`project is ${state?.state}: only a ready project can be moved`, "project_not_ready");
    const instance = await allocateOrRefuse(() =>
      ctx.instances!.allocate(tx, project.id, "production", project.max_connections + ctx.config.clusterConnectionReserve),
    );
    const jobId = newId("job");
    await recordLatestJob(tx, project.id, jobId);
    return enqueue(
      tx,
      jobs.projectMove,
      { organizationId: project.organization_id, projectId: project.id, clusterId: project.cluster_id },
      { from_cluster_id: project.cluster_id, to_cluster_id: instance.cluster_id },
      { id: jobId, maxAttempts: ctx.config.jobMaxAttempts },
    );
  });
}

/** The tenant's role may log in again (or not) on the shared cluster. */
async function setLogin(ctx: AppContext, clusterId: string, role: string, login: boolean): Promise<void> {
  const admin = await ctx.clusters.pool(clusterId);
  await admin.query(`ALTER ROLE ${quoteIdent(role)} WITH ${login ? "LOGIN" : "NOLOGIN"}`);
  if (!login) {
    await admin.query("SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE usename = $1", [role]);
  }
}

async function copy(ctx: AppContext, job: JobContext, project: ProjectRow, from: string, to: string): Promise<void> {
  const password = ctx.box.open(project.role_password_sealed);
  job.addSecret(password);
  const source = await ctx.clusters.pool(from);
  // the reader: a login role of the platform's, member of the tenant's role (reads what it can)
  const reader = { role: readerRole(project), password: newPassword() };
  job.addSecret(reader.password);
  const verifier = quoteLiteral(scramVerifier(reader.password));
  if (await roleExists(source, reader.role)) await source.query(`ALTER ROLE ${quoteIdent(reader.role)} WITH LOGIN PASSWORD ${verifier}`);
  else
    await source.query(
      `CREATE ROLE ${quoteIdent(reader.role)} WITH LOGIN PASSWORD ${verifier} NOSUPERUSER NOCREATEDB NOCREATEROLE IN ROLE ${quoteIdent(project.role_name)}`,
    );
  await source.query(`GRANT CONNECT ON DATABASE ${quoteIdent(project.database_name)} TO ${quoteIdent(reader.role)}`);
  // the tenant is out: no write made after the copy's snapshot can be lost
  await ctx.pooler.kill(from, project.database_name).catch(() => {});
  await setLogin(ctx, from, project.role_name, false);
  ctx.faults.check("project.move.before_copy");

  // the instance, the role with its own password and settings, an empty database with the extensions the platform made
  const instance = (await ctx.instances!.instanceOf(to))!;
  await ctx.instances!.ensureFromTemplate(instance);
  await ensureLoginRole(await ctx.clusters.pool(to), project.role_name, password, project);
  const extensions = await platformExtensionsOf(ctx.clusters, from, project.database_name, reader);
  const made = await platformMadeExtensions(await ctx.clusters.pool(to), ctx.config.extensionAllowlist, extensions);
  await prepareEmptyTenantDatabase(ctx.clusters, to, project.database_name, project.role_name, made);

  const dump = startDump(job, await tenantEndpoint(ctx.clusters, from, project.database_name, reader), {
    binDir: ctx.config.pgBinDir,
    lockWaitSeconds: ctx.config.toolLockWaitSeconds,
  });
  const restore = startRestore(job, await tenantEndpoint(ctx.clusters, to, project.database_name, { role: project.role_name, password }), ctx.config.pgBinDir);
  dump.stdout.pipe(restore.stdin);
  await finishTools(job, [dump, restore], TOLERATED_RESTORE_ERRORS);
}

/** What the shared cluster kept of the project goes: its database, its role, the reader, its snapshot. */
async function dropLeftovers(ctx: AppContext, project: ProjectRow, from: string): Promise<void> {
  await ctx.lifecycle.productionReplaced({ ...project, cluster_id: from });
  await ctx.pooler.kill(from, project.database_name).catch(() => {});
  await dropDatabase(await ctx.clusters.pool(from), project.database_name);
  await dropTenantRole(ctx.clusters, from, readerRole(project));
  await dropTenantRole(ctx.clusters, from, project.role_name);
  await ctx.pooler.sync(from);
}

export function projectMoveHandlers(ctx: AppContext): Record<string, JobHandler> {
  return {
    [jobs.projectMove.type]: {
      async run(job) {
        const { from_cluster_id: from, to_cluster_id: to } = payloadOf(jobs.projectMove, job.job);
        const project = await loadProject(ctx.db, job.job.project_id!);
        if (!project) throw new PermanentError(`project ${job.job.project_id} no longer exists`);
        if (project.cluster_id === from) {
          await copy(ctx, job, project, from, to);
          ctx.faults.check("project.move.after_copy");
          await moveProjectToCluster(ctx.db, project.id, from, to);
        }
        // a retry after the switch has only the shared cluster's leftovers to remove
        await dropLeftovers(ctx, project, from);
        await ctx.pooler.sync(to);
      },
      async cleanup(job, error) {
        const { from_cluster_id: from, to_cluster_id: to } = payloadOf(jobs.projectMove, job.job);
        const project = await loadProject(ctx.db, job.job.project_id!);
        if (!project || project.cluster_id !== from) return; // switched: the move stands
        // the project stays where it was, and may log in again
        await setLogin(ctx, from, project.role_name, true);
        if (await roleExists(await ctx.clusters.pool(from), readerRole(project))) await dropTenantRole(ctx.clusters, from, readerRole(project));
        const instance = await ctx.instances?.instanceOf(to);
        if (instance?.state === "active") await ctx.instances!.destroy(instance);
        job.log.warn(
          { project_id: project.id, err: scrubSecrets(errorMessage(error)) },
          "moving the project to an instance failed: it stays on the shared cluster",
        );
      },
    },
  };
}
