// The import job: preflight again, copy into a new database as the project's role, and
// swap it in only when the copy succeeded (by renames on a shared cluster; on the instance
// engine the new database is built in an instance of its own whose data directory is swapped
// with production's).
import { jobs } from "../jobs/catalogue.js";
import { payloadOf } from "../platform/jobs/define.js";
import type { AppContext } from "../context.js";
import type { Readable } from "node:stream";
import type { JobContext, JobHandler } from "../platform/jobs/worker.js";
import { PermanentError } from "../platform/jobs/errors.js";
import { dropDatabase, platformMadeExtensions, prepareEmptyTenantDatabase } from "../platform/dataplane/provision.js";
import type { ExtensionPlacement } from "../platform/dataplane/privileged.js";
import { extensionsForArchive } from "../backups/dataplane.js";
import { tenantEndpoint } from "../platform/dataplane/tenant-session.js";
import { finishTools, startDump, startRestore, TOLERATED_RESTORE_ERRORS, type PgEndpoint } from "../platform/dataplane/pgtools.js";
import { loadProject, type ProjectRow } from "../projects/store.js";
import { projectLogin } from "../projects/login.js";
import { abandonRebuild, productionInstance, rebuildProduction } from "../projects/rebuild.js";
import { swapDatabase } from "../platform/dataplane/swap.js";
import { names } from "../platform/dataplane/names.js";
import { NotAnArchive, sniffArchive } from "./archive.js";
import { preflight } from "./preflight.js";
import { sourceEndpoint } from "./source.js";
import { removeImportedDump } from "./uploads.js";

const buildName = (p: ProjectRow) => names.importBuild(p.database_name);
const oldName = (p: ProjectRow) => names.replaced(p.database_name);

/** What an import puts in the project's new database, wherever that database is built. */
interface Copy {
  /**
   * The extensions the source needs, made by the platform where the source's dump expects
   * them (public for a source URL; what an uploaded archive's CREATE EXTENSION says) when
   * allow-listed and untrusted: safe because the database is new and no tenant can connect
   * to it yet (checked by the privileged module). Asked of the cluster that builds it.
   */
  extensions: (clusterId: string) => Promise<ExtensionPlacement[]>;
  fill: (target: PgEndpoint) => Promise<void>;
}

/** Preflights a source URL again: the copy from it, or a PermanentError naming what failed. */
async function copyFromUrl(ctx: AppContext, job: JobContext, project: ProjectRow, url: string, replace: boolean): Promise<Copy> {
  const checks = await preflight(ctx, project, url);
  if (checks.checked) job.addSecret(checks.checked.password);
  const failed = checks.checks.filter((c) => c.status === "fail" || (c.name === "target_empty" && c.status !== "pass" && !replace));
  if (failed.length) throw new PermanentError(`preflight failed: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`);
  const wanted = checks.source.extensions.map((e) => ({ name: e.name, schema: "public" }));
  return {
    extensions: async (clusterId) => platformMadeExtensions(await ctx.clusters.pool(clusterId), ctx.config.extensionAllowlist, wanted),
    async fill(target) {
      ctx.faults.check("import.before_copy");
      const dump = startDump(job, sourceEndpoint(checks.checked!), { binDir: ctx.config.pgBinDir, lockWaitSeconds: ctx.config.toolLockWaitSeconds });
      const restore = startRestore(job, target, ctx.config.pgBinDir);
      dump.stdout.pipe(restore.stdin);
      await finishTools(job, [dump, restore], TOLERATED_RESTORE_ERRORS);
    },
  };
}

async function sniff(ctx: AppContext, key: string): Promise<Readable> {
  try {
    return (await sniffArchive(await ctx.blobs.get(key))).stream;
  } catch (err) {
    if (err instanceof NotAnArchive) throw new PermanentError(err.message);
    throw err;
  }
}

/** An uploaded dump (refused at once unless it is a pg_dump archive). */
async function copyFromUpload(ctx: AppContext, job: JobContext, key: string): Promise<Copy> {
  (await sniff(ctx, key)).destroy();
  return {
    extensions: (clusterId) => extensionsForArchive(ctx, clusterId, key),
    async fill(target) {
      const archive = await sniff(ctx, key);
      const restore = startRestore(job, target, ctx.config.pgBinDir);
      archive.on("error", (err) => restore.stdin.destroy(err));
      archive.pipe(restore.stdin);
      await finishTools(job, [restore], TOLERATED_RESTORE_ERRORS);
    },
  };
}

export function importJobHandlers(ctx: AppContext): Record<string, JobHandler> {
  return {
    [jobs.importRun.type]: {
      async run(job) {
        const project = await loadProject(ctx.db, job.job.project_id!);
        if (!project || project.state !== "ready") throw new PermanentError(`project ${job.job.project_id} is not ready`);
        const payload = payloadOf(jobs.importRun, job.job);
        const copy = payload.source_url_sealed
          ? await copyFromUrl(ctx, job, project, ctx.box.open(payload.source_url_sealed), Boolean(payload.replace))
          : await copyFromUpload(ctx, job, payload.object_key!);
        const production = await productionInstance(ctx, project);
        if (production) {
          await rebuildProduction(ctx, job, project, production, {
            extensions: copy.extensions,
            fill: async (target) => {
              await copy.fill(target);
              ctx.faults.check("import.after_copy");
            },
          });
        } else {
          const made = await copy.extensions(project.cluster_id);
          await prepareEmptyTenantDatabase(ctx.clusters, project.cluster_id, buildName(project), project.role_name, made);
          await copy.fill(await tenantEndpoint(ctx.clusters, project.cluster_id, buildName(project), projectLogin(ctx, job, project)));
          ctx.faults.check("import.after_copy");
          await swapDatabase(ctx, project.cluster_id, project.database_name, buildName(project), oldName(project));
        }
        // Previews made from now on must hold the imported data, not a snapshot of the replaced one.
        await ctx.lifecycle.productionReplaced(project);
        // The import is done: a dump left behind by a failed removal goes with the upload's row in the sweep.
        if (payload.object_key) await removeImportedDump(ctx, payload.object_key).catch(() => {});
      },
      async cleanup(job) {
        // The project keeps its previous data: only the build goes, and the uploaded
        // dump with it (the upload was single-use: nothing else will import it).
        const { object_key } = payloadOf(jobs.importRun, job.job);
        try {
          const project = await loadProject(ctx.db, job.job.project_id!);
          if (!project) return;
          if (await productionInstance(ctx, project)) await abandonRebuild(ctx, job.job.id, project);
          else await dropDatabase(await ctx.clusters.pool(project.cluster_id), buildName(project));
        } finally {
          if (object_key) await removeImportedDump(ctx, object_key);
        }
      },
    },
  };
}
