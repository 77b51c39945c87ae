// The import job: preflight again, copy into a new database as the project's
import { jobs } from "../jobs/catalogue.js";
import { payloadOf } from "../platform/jobs/define.js";
// role, and swap it in by rename only when the copy succeeded.
import type { AppContext } from "../context.js";
import type { JobHandler } from "../platform/jobs/worker.js";
import { PermanentError } from "../platform/jobs/errors.js";
import { dropDatabase, platformMadeExtensions, prepareEmptyTenantDatabase } from "../platform/dataplane/provision.js";
import type { ExtensionPlacement } from "../platform/dataplane/privileged.js";
import { extensionsForArchive } from "../backups/dataplane.js";
import { tenantEndpoint } from "../platform/dataplane/tenant-session.js";
import { finishTools, startDump, startRestore, TOLERATED_RESTORE_ERRORS } from "../platform/dataplane/pgtools.js";
import { loadProject, type ProjectRow } from "../projects/store.js";
import { swapDatabase } from "../platform/dataplane/swap.js";
import { names } from "../platform/dataplane/names.js";
import { NotAnArchive, sniffArchive } from "./archive.js";
import { preflight } from "./preflight.js";
import { sourceEndpoint } from "./source.js";
import { removeImportedDump } from "./uploads.js";

const buildName = (p: ProjectRow) => names.importBuild(p.database_name);
const oldName = (p: ProjectRow) => names.replaced(p.database_name);

/**
 * An empty database for the project's role. The untrusted, allow-listed extensions
 * the source needs are made by the platform where the source's dump expects them
 * (public for a source URL; what an uploaded archive's CREATE EXTENSION says):
 * safe because the database is new and no tenant can connect to it yet (checked by
 * the privileged module).
 */
async function prepareBuild(ctx: AppContext, project: ProjectRow, extensions: ExtensionPlacement[]): Promise<void> {
  const made = await platformMadeExtensions(await ctx.clusters.pool(project.cluster_id), ctx.config.extensionAllowlist, extensions);
  await prepareEmptyTenantDatabase(ctx.clusters, project.cluster_id, buildName(project), project.role_name, made);
}

export function importJobHandlers(ctx: AppContext): Record<string, JobHandler> {
  return {
    [jobs.importRun.type]: {
      async run(job) {
        const project = await loadProject(ctx.db, job.job.project_id!);
        if (!project || project.state !== "ready") throw new PermanentError(`project ${job.job.project_id} is not ready`);
        const password = ctx.box.open(project.role_password_sealed);
        job.addSecret(password);
        const target = await tenantEndpoint(ctx.clusters, project.cluster_id, buildName(project), { role: project.role_name, password });
        const payload = payloadOf(jobs.importRun, job.job);
        if (payload.source_url_sealed) {
          const url = ctx.box.open(payload.source_url_sealed);
          const checks = await preflight(ctx, project, url);
          if (checks.checked) job.addSecret(checks.checked.password);
          const failed = checks.checks.filter((c) => c.status === "fail" || (c.name === "target_empty" && c.status !== "pass" && !payload.replace));
          if (failed.length) throw new PermanentError(`preflight failed: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`);
          await prepareBuild(
            ctx,
            project,
            checks.source.extensions.map((e) => ({ name: e.name, schema: "public" })),
          );
          ctx.faults.check("import.before_copy");
          const dump = startDump(job, sourceEndpoint(checks.checked!), { binDir: ctx.config.pgBinDir, lockWaitSeconds: ctx.config.toolLockWaitSeconds });
          const restore = startRestore(job, target, ctx.config.pgBinDir);
          dump.stdout.pipe(restore.stdin);
          await finishTools(job, [dump, restore], TOLERATED_RESTORE_ERRORS);
        } else {
          const key = payload.object_key!;
          let sniffed;
          try {
            sniffed = await sniffArchive(await ctx.blobs.get(key));
          } catch (err) {
            if (err instanceof NotAnArchive) throw new PermanentError(err.message);
            throw err;
          }
          await prepareBuild(ctx, project, await extensionsForArchive(ctx, project.cluster_id, key));
          const restore = startRestore(job, target, ctx.config.pgBinDir);
          sniffed.stream.on("error", (err) => restore.stdin.destroy(err));
          sniffed.stream.pipe(restore.stdin);
          await finishTools(job, [restore], TOLERATED_RESTORE_ERRORS);
        }
        ctx.faults.check("import.after_copy");
        await swapDatabase(ctx, project.cluster_id, project.database_name, buildName(project), oldName(project));
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
          const admin = await ctx.clusters.pool(project.cluster_id);
          await dropDatabase(admin, buildName(project));
        } finally {
          if (object_key) await removeImportedDump(ctx, object_key);
        }
      },
    },
  };
}
