// Job handlers for preview databases: create, reset and delete.
import type { AppContext } from "../context.js";
import { enqueue } from "../platform/jobs/define.js";
import { jobs } from "../jobs/catalogue.js";
import { payloadOf } from "../platform/jobs/define.js";
import type { JobContext, JobHandler } from "../platform/jobs/worker.js";
import { PermanentError, errorMessage } from "../platform/jobs/errors.js";
import { scrubSecrets } from "../platform/jobs/scrub.js";
import { databaseExists, dropDatabase, ensureLoginRole } from "../platform/dataplane/provision.js";
import { dropTenantRole } from "../platform/dataplane/privileged.js";
import { projectLogin } from "../projects/login.js";
import { loadProject, type ProjectRow } from "../projects/store.js";
import { buildPreviewDatabase, dropAsideCopies, ensureSnapshot, type CloneSource } from "./dataplane.js";
import { names } from "../platform/dataplane/names.js";
import { restoreAside, swapAside } from "../platform/dataplane/swap.js";
import {
  loadPreview,
  markPreviewDeleted,
  markPreviewFailed,
  markPreviewReady,
  markPreviewReset,
  markPreviewResetFailed,
  markPreviewResetting,
  recordPreviewDataTime,
  recordPreviewError,
  recordMaskingVerified,
  type PreviewRow,
} from "./store.js";
import { loadBackup } from "../backups/store.js";
import { makeSpare, refreshSnapshot, requestSpare, takeSpare } from "./spares.js";
import { maskBuildInPlace } from "./masked.js";
import { clonesSnapshot, createEmptyInstance, createFromSnapshot, destroyPreviewInstance, resetFromSnapshot } from "./instances.js";
import { releaseUnusedOrigins } from "./origins.js";

/** Where a build happens before it is renamed into place: the preview is never half made. */
const buildName = (p: PreviewRow) => names.previewBuild(p.database_name);
/** Where a reset puts the data it replaces, until a follow-up job drops it. */
const asideName = (p: PreviewRow, jobId: string) => names.previewAside(p.database_name, jobId);

async function previewOf(ctx: AppContext, job: JobContext): Promise<{ preview: PreviewRow; project: ProjectRow }> {
  const preview = await loadPreview(ctx.db, job.job.preview_database_id!);
  if (!preview) throw new PermanentError(`preview ${job.job.preview_database_id} no longer exists`);
  const project = await loadProject(ctx.db, preview.project_id);
  if (!project) throw new PermanentError(`project ${preview.project_id} no longer exists`);
  return { preview, project };
}

/**
 * Builds the preview's data into its build database and returns the instant the
 * data holds. Full copies of the project's data come from the snapshot database
 * (a template clone) unless the logical strategy is configured.
 */
async function build(ctx: AppContext, job: JobContext, preview: PreviewRow, project: ProjectRow, fresh: boolean): Promise<Date | null> {
  const role = { name: preview.role_name, password: ctx.box.open(preview.role_password_sealed) };
  job.addSecret(role.password);
  let source: CloneSource;
  let takenAt: Date | null = null;
  if (preview.source_kind === "empty") {
    source = { kind: "empty" };
  } else if (preview.source_kind === "backup") {
    const backup = await loadBackup(ctx.db, preview.source_backup_id!);
    if (!backup || !backup.backup_key) throw new PermanentError(`backup ${preview.source_backup_id} no longer exists`);
    source = { kind: "backup", key: backup.backup_key, sha256: backup.sha256 };
    takenAt = backup.snapshot_at;
  } else if (preview.mode === "schema_only" || ctx.config.previewCloneStrategy === "logical") {
    source = {
      kind: "logical",
      clusterId: project.cluster_id,
      database: project.database_name,
      schemaOnly: preview.mode === "schema_only",
      login: projectLogin(ctx, job, project),
    };
  } else {
    const snapshot = await ensureSnapshot(ctx, job, project, fresh ? job.job.created_at : null);
    takenAt = snapshot.takenAt;
    const spareTaken = await takeSpare(ctx, project, snapshot.generation, buildName(preview));
    if (spareTaken) job.log.info({ job_id: job.job.id }, "took the project's spare clone of its snapshot");
    source = {
      kind: "template",
      template: snapshot.database,
      strategy: ctx.config.previewCloneStrategy === "wal_log" ? "WAL_LOG" : "FILE_COPY",
      fromRole: project.role_name,
      spareTaken,
    };
  }
  ctx.faults.check("preview.build.before_copy");
  const logicalAt = await buildPreviewDatabase(ctx, job, preview.cluster_id, buildName(preview), role, source);
  ctx.faults.check("preview.build.after_copy");
  if (preview.masked) {
    // rows of production (or of a backup of it) are masked in the build, before it is swapped
    // in; a preview of the schema alone, or an empty one, holds none
    const holdsRows = source.kind === "template" || source.kind === "backup" || (source.kind === "logical" && !source.schemaOnly);
    const at = holdsRows ? await maskBuildInPlace(ctx, preview, project, buildName(preview), role.password) : new Date();
    await recordMaskingVerified(ctx.db, preview.id, at);
  }
  // The next create or reset finds a spare ready (made in the background, after this copy).
  if (source.kind === "template") await requestSpare(ctx, project);
  return takenAt ?? logicalAt;
}

async function enqueueDrop(ctx: AppContext, preview: PreviewRow, database: string): Promise<void> {
  await enqueue(
    ctx.db,
    jobs.databaseDrop,
    {
      organizationId: preview.organization_id,
      projectId: preview.project_id,
      previewDatabaseId: preview.id,
      clusterId: preview.cluster_id,
    },
    { database },
    { maxAttempts: ctx.config.jobMaxAttempts },
  );
}

export function previewJobHandlers(ctx: AppContext): Record<string, JobHandler> {
  return {
    [jobs.databaseDrop.type]: {
      async run(job) {
        // Only the aside copies of previews are dropped this way.
        const { database } = payloadOf(jobs.databaseDrop, job.job);
        if (!names.isPreviewAside(database)) throw new PermanentError(`refusing to drop ${database}: not an aside copy`);
        await dropDatabase(await ctx.clusters.pool(job.job.cluster_id!), database);
      },
    },
    [jobs.snapshotRefresh.type]: {
      async run(job) {
        job.log.info({ job_id: job.job.id }, await refreshSnapshot(ctx, job));
      },
    },
    [jobs.previewSpare.type]: {
      async run(job) {
        job.log.info({ job_id: job.job.id }, await makeSpare(ctx, job));
      },
    },
    [jobs.previewCreate.type]: {
      async run(job) {
        const { preview, project } = await previewOf(ctx, job);
        if (preview.state !== "creating") throw new PermanentError(`preview is ${preview.state}, not creating`);
        if (project.state !== "ready") throw new PermanentError(`project is ${project.state}`);
        const instance = await ctx.instances?.instanceOf(preview.cluster_id);
        if (instance && clonesSnapshot(preview)) {
          const at = await createFromSnapshot(ctx, job, preview, project, payloadOf(jobs.previewCreate, job.job).fresh);
          if (at) await recordPreviewDataTime(ctx.db, preview.id, at);
          await ctx.pooler.sync(preview.cluster_id);
          await markPreviewReady(ctx.db, preview.id);
          return;
        }
        // other sources build into the preview's own (empty) instance as they would on a shared cluster
        if (instance) await createEmptyInstance(ctx, preview);
        const admin = await ctx.clusters.pool(preview.cluster_id);
        // A retry that finds the database in place only has the bookkeeping left.
        if (!(await databaseExists(admin, preview.database_name))) {
          const password = ctx.box.open(preview.role_password_sealed);
          job.addSecret(password);
          // A preview's role gets its own (smaller) connection limit: what admission control counted for it.
          await ensureLoginRole(admin, preview.role_name, password, { ...project, max_connections: preview.max_connections ?? project.max_connections });
          const at = await build(ctx, job, preview, project, payloadOf(jobs.previewCreate, job.job).fresh);
          await recordPreviewDataTime(ctx.db, preview.id, at);
          await swapAside(ctx, preview.cluster_id, buildName(preview), preview.database_name, asideName(preview, job.job.id));
        }
        await ctx.pooler.sync(preview.cluster_id);
        await markPreviewReady(ctx.db, preview.id);
      },
      async cleanup(job, error) {
        // A failed create leaves no database or role behind (on the instance engine: no instance).
        const { preview } = await previewOf(ctx, job);
        if (await ctx.instances?.instanceOf(preview.cluster_id)) {
          await destroyPreviewInstance(ctx, preview);
        } else {
          const admin = await ctx.clusters.pool(preview.cluster_id);
          await dropDatabase(admin, buildName(preview));
          await dropDatabase(admin, preview.database_name);
          await dropTenantRole(ctx.clusters, preview.cluster_id, preview.role_name);
        }
        await markPreviewFailed(ctx.db, preview.id, scrubSecrets(errorMessage(error)));
        await ctx.pooler.sync(preview.cluster_id).catch(() => {});
      },
    },
    [jobs.previewReset.type]: {
      async run(job) {
        const { preview, project } = await previewOf(ctx, job);
        if (!["ready", "resetting"].includes(preview.state)) throw new PermanentError(`preview is ${preview.state}: only a ready preview can be reset`);
        if (
          preview.cluster_id !== project.cluster_id &&
          !(await ctx.instances?.instanceOf(preview.cluster_id)) &&
          (await ctx.instances?.instanceOf(project.cluster_id))
        ) {
          throw new PermanentError("this preview was made before its project moved to an instance of its own: delete it and create a new one");
        }
        await markPreviewResetting(ctx.db, preview.id);
        if (clonesSnapshot(preview) && (await ctx.instances?.instanceOf(preview.cluster_id))) {
          // a new clone of the snapshot relinked in place of the instance's data
          const at = await resetFromSnapshot(ctx, job, preview, project, payloadOf(jobs.previewReset, job.job).fresh);
          await ctx.pooler.sync(preview.cluster_id);
          await markPreviewReset(ctx.db, preview.id, at);
          return;
        }
        // Same role, password, host, port and database name: only the data changes.
        const at = await build(ctx, job, preview, project, payloadOf(jobs.previewReset, job.job).fresh);
        const aside = await swapAside(ctx, preview.cluster_id, buildName(preview), preview.database_name, asideName(preview, job.job.id));
        await markPreviewReset(ctx.db, preview.id, at);
        // The old data goes in a job of its own, off this reset's path.
        if (aside) await enqueueDrop(ctx, preview, aside);
      },
      async cleanup(job, error) {
        // The old data is still in place (a build is swapped in only when complete), or
        // aside if the swap stopped between its renames: it goes back.
        const { preview } = await previewOf(ctx, job);
        const instance = await ctx.instances?.instanceOf(preview.cluster_id);
        // the relink is atomic: the instance holds its old data or the new, and runs again
        if (instance?.state === "active" && ctx.instances!.host.exists(instance.name)) await ctx.instances!.host.start(instance.name);
        const admin = await ctx.clusters.pool(preview.cluster_id);
        await restoreAside(ctx, preview.cluster_id, preview.database_name, asideName(preview, job.job.id));
        await dropDatabase(admin, buildName(preview));
        await markPreviewResetFailed(ctx.db, preview.id, `reset failed: ${scrubSecrets(errorMessage(error))}`);
      },
    },
    [jobs.previewDelete.type]: {
      async run(job) {
        const { preview } = await previewOf(ctx, job);
        await ctx.pooler.kill(preview.cluster_id, preview.database_name).catch(() => {});
        if (await ctx.instances?.instanceOf(preview.cluster_id)) {
          await destroyPreviewInstance(ctx, preview);
          await markPreviewDeleted(ctx.db, preview.id);
          await ctx.pooler.sync(preview.cluster_id);
          const project = await loadProject(ctx.db, preview.project_id);
          if (project?.state === "ready" && preview.origin_slot) await releaseUnusedOrigins(ctx, project);
          return;
        }
        const admin = await ctx.clusters.pool(preview.cluster_id);
        await dropDatabase(admin, buildName(preview));
        await dropAsideCopies(admin, preview.database_name);
        await dropDatabase(admin, preview.database_name);
        await dropTenantRole(ctx.clusters, preview.cluster_id, preview.role_name);
        await markPreviewDeleted(ctx.db, preview.id);
        await ctx.pooler.sync(preview.cluster_id);
      },
      async cleanup(job, error) {
        await recordPreviewError(ctx.db, job.job.preview_database_id, scrubSecrets(errorMessage(error)));
      },
    },
  };
}
