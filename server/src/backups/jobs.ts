// Job handlers for backups: take (and verify), verify again, restore.
import type { AppContext } from "../context.js";
import { jobs } from "../jobs/catalogue.js";
import { payloadOf } from "../platform/jobs/define.js";
import type { JobContext, JobHandler } from "../platform/jobs/worker.js";
import { PermanentError, errorMessage } from "../platform/jobs/errors.js";
import { scrubSecrets } from "../platform/jobs/scrub.js";
import { databaseExists } from "../platform/dataplane/provision.js";
import { names } from "../platform/dataplane/names.js";
import { rollBackSwap, swapDatabase } from "../platform/dataplane/swap.js";
import { loadProject, type ProjectRow } from "../projects/store.js";
import { abandonRebuild, productionInstance, rebuildProduction } from "../projects/rebuild.js";
import { extensionsForArchive, restoreFromBlob } from "./dataplane.js";
import { findBackupCreatedByJob, insertBackup, loadBackup, markBackupFailed, type BackupRow } from "./store.js";
import { asProjectRole, backupKey, prepareTarget, takeAndVerify, verify } from "./take.js";

async function projectOf(ctx: AppContext, id: string): Promise<ProjectRow> {
  const project = await loadProject(ctx.db, id);
  if (!project || project.state === "deleted" || project.state === "deleting") throw new PermanentError(`project ${id} is ${project?.state ?? "gone"}`);
  return project;
}

async function backupOf(ctx: AppContext, job: JobContext, definition: typeof jobs.backupCreate): Promise<BackupRow> {
  const { backup_id } = payloadOf(definition, job.job);
  const backup = await loadBackup(ctx.db, backup_id);
  if (!backup) throw new PermanentError(`backup ${backup_id} no longer exists`);
  return backup;
}

/** A failed backup does not stay half-written in the blob store or listed as usable. */
async function failBackup(ctx: AppContext, backupId: string, error: unknown): Promise<void> {
  const backup = await loadBackup(ctx.db, backupId);
  if (!backup || backup.state === "completed") return; // completed but unverified: the backup exists, its verdict says why
  await ctx.blobs.delete(backupKey(backup)).catch(() => {});
  await markBackupFailed(ctx.db, backupId, scrubSecrets(errorMessage(error)));
}

export function backupJobHandlers(ctx: AppContext): Record<string, JobHandler> {
  return {
    [jobs.backupCreate.type]: {
      async run(job) {
        const backup = await backupOf(ctx, job, jobs.backupCreate);
        await takeAndVerify(ctx, job, await projectOf(ctx, backup.project_id), backup);
      },
      async cleanup(job, error) {
        await failBackup(ctx, payloadOf(jobs.backupCreate, job.job).backup_id, error);
      },
    },
    [jobs.backupVerify.type]: {
      async run(job) {
        const backup = await backupOf(ctx, job, jobs.backupVerify);
        const problem = await verify(ctx, job, await projectOf(ctx, backup.project_id), backup);
        if (problem) throw new PermanentError(`backup ${backup.id} failed verification: ${problem}`);
      },
    },
    [jobs.backupRestore.type]: {
      async run(job) {
        const source = await backupOf(ctx, job, jobs.backupRestore);
        const project = await projectOf(ctx, source.project_id);
        // First a safety backup of the current data (found again on retry).
        let safety = await findBackupCreatedByJob(ctx.db, job.job.id);
        safety ??= await insertBackup(ctx.db, project, { label: `safety backup before restoring ${source.id}`, createdByJobId: job.job.id });
        await takeAndVerify(ctx, job, project, safety);
        const production = await productionInstance(ctx, project);
        if (production) {
          // the instance engine: restored into an instance of its own, then swapped in
          await rebuildProduction(ctx, job, project, production, {
            extensions: (clusterId) => extensionsForArchive(ctx, clusterId, source.backup_key!),
            fill: (target) => restoreFromBlob(ctx, job, source.backup_key!, source.sha256, target),
          });
          await ctx.lifecycle.productionReplaced(project);
          return;
        }
        const built = names.restoreBuild(project.database_name);
        const old = names.replaced(project.database_name);
        const admin = await ctx.clusters.pool(project.cluster_id);
        // A retry after the swap's first rename must not rebuild: the build is all there is.
        if (await databaseExists(admin, project.database_name)) {
          await prepareTarget(ctx, project, built, source.backup_key!);
          await restoreFromBlob(ctx, job, source.backup_key!, source.sha256, await asProjectRole(ctx, job, project, built));
        }
        await swapDatabase(ctx, project.cluster_id, project.database_name, built, old);
        // Previews made from now on must hold the restored data, not a snapshot of the replaced one.
        await ctx.lifecycle.productionReplaced(project);
      },
      async cleanup(job) {
        const source = await loadBackup(ctx.db, payloadOf(jobs.backupRestore, job.job).backup_id);
        const project = source && (await loadProject(ctx.db, source.project_id));
        if (project && (await productionInstance(ctx, project))) await abandonRebuild(ctx, job.job.id, project);
        else if (project)
          await rollBackSwap(ctx, project.cluster_id, project.database_name, names.restoreBuild(project.database_name), names.replaced(project.database_name));
      },
    },
  };
}
