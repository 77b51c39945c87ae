// Restores and imports on the instance engine: the new data is built in an instance of its
// own (from the template: the project's role with its password and ceilings, an empty
// database with the extensions the platform makes), filled as the project's role, then its
// data directory and production's are swapped (stop, relink, start). Production keeps its
// port, names and password, serves its old data until the swap, and is never touched by a
// build that fails; the old data leaves with the build instance.
//
// The build instance records the job that made it and the directory it was made in: a
// retried job sees whether production already points at that directory (the swap happened)
// or starts the build again from nothing.
import type { AppContext } from "../context.js";
import type { JobContext } from "../platform/jobs/worker.js";
import { PermanentError } from "../platform/jobs/errors.js";
import { InstanceLimitError } from "../platform/dataplane/instances/registry.js";
import type { InstanceRow } from "../platform/dataplane/instances/registry.js";
import type { ExtensionPlacement } from "../platform/dataplane/privileged.js";
import type { PgEndpoint } from "../platform/dataplane/pgtools.js";
import { ensureLoginRole, prepareEmptyTenantDatabase } from "../platform/dataplane/provision.js";
import { tenantEndpoint } from "../platform/dataplane/tenant-session.js";
import { inTransaction } from "../platform/store/db.js";
import { projectLogin } from "./login.js";
import type { ProjectRow } from "./store.js";

export interface Rebuild {
  /** The extensions the platform makes in the new database, asked of the build instance (its admin pool is ctx.clusters.pool(clusterId)). */
  extensions: (clusterId: string) => Promise<ExtensionPlacement[]>;
  /** Fills the new, empty database (reached as the project's role). */
  fill: (target: PgEndpoint) => Promise<void>;
}

/** Production's instance when the project has one (else null: the project is on a shared cluster). */
export async function productionInstance(ctx: AppContext, project: ProjectRow): Promise<InstanceRow | null> {
  return (await ctx.instances?.instanceOf(project.cluster_id)) ?? null;
}

async function allocateBuild(ctx: AppContext, job: JobContext, project: ProjectRow, production: InstanceRow): Promise<InstanceRow> {
  try {
    return await inTransaction(ctx.db, (tx) => ctx.instances!.allocate(tx, project.id, "build", production.max_connections, job.job.id));
  } catch (err) {
    if (err instanceof InstanceLimitError) throw new PermanentError(`no instance could be made to build the new data in: ${err.message}`);
    throw err;
  }
}

/** Whether production already holds the build's data (the swap happened). */
function swapped(ctx: AppContext, production: InstanceRow, build: InstanceRow | null): boolean {
  return Boolean(build?.built_dir && ctx.instances!.host.dataTarget(production.name) === build.built_dir);
}

/** Builds the project's new data in an instance of its own and swaps it in as production's. */
export async function rebuildProduction(ctx: AppContext, job: JobContext, project: ProjectRow, production: InstanceRow, how: Rebuild): Promise<void> {
  const engine = ctx.instances!;
  let build = await engine.buildOf(job.job.id);
  if (!swapped(ctx, production, build)) {
    // an earlier attempt's build may be incomplete: it is not trusted, the build starts over
    if (build) await engine.destroy(build);
    build = await allocateBuild(ctx, job, project, production);
    await engine.ensureFromTemplate(build);
    build = { ...build, built_dir: await engine.recordBuiltDir(build) };
    const login = projectLogin(ctx, job, project);
    await ensureLoginRole(await ctx.clusters.pool(build.cluster_id), project.role_name, login.password, project);
    await prepareEmptyTenantDatabase(ctx.clusters, build.cluster_id, project.database_name, project.role_name, await how.extensions(build.cluster_id));
    await how.fill(await tenantEndpoint(ctx.clusters, build.cluster_id, project.database_name, login));
    ctx.faults.check("rebuild.built");
    await ctx.pooler.kill(project.cluster_id, project.database_name).catch(() => {});
    await engine.swapStopped(production, build);
    ctx.faults.check("rebuild.swapped");
  }
  await engine.host.start(production.name);
  // the build instance now holds production's previous data
  await engine.destroy(build!);
}

/** A rebuild that failed for good: production keeps (or is back on) its data and runs; the build goes. */
export async function abandonRebuild(ctx: AppContext, jobId: string, project: ProjectRow): Promise<void> {
  const production = await productionInstance(ctx, project);
  if (!production) return;
  const build = await ctx.instances!.buildOf(jobId);
  await ctx.instances!.host.start(production.name);
  if (build) await ctx.instances!.destroy(build);
}
