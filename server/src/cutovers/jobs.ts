// The cutover jobs: execute (pre-cutover backup, then promote by rename swap) and
// rollback (swap the previous production database back within the window).
import { markPreviewPromoted } from "../previews/store.js";
import type { AppContext } from "../context.js";
import { jobs } from "../jobs/catalogue.js";
import { payloadOf } from "../platform/jobs/define.js";
import type { JobContext, JobHandler } from "../platform/jobs/worker.js";
import { productionSchemaFingerprint, recordCutoverReview } from "../schemadiffs/review.js";
import { applyReviewedSchema } from "../schemadiffs/apply.js";
import { computeSchemaDiff } from "../schemadiffs/diff.js";
import { loadReviews, markReviewFailed } from "../schemadiffs/store.js";
import { PermanentError, errorMessage } from "../platform/jobs/errors.js";
import { scrubSecrets } from "../platform/jobs/scrub.js";
import { quoteIdent } from "../platform/dataplane/sql.js";
import { databaseExists, dropDatabase, grantTenantDatabase } from "../platform/dataplane/provision.js";
import { dropOwned, dropTenantRole, reassignOwned } from "../platform/dataplane/privileged.js";
import { loadProject, type ProjectRow } from "../projects/store.js";
import type { ProjectRef } from "../platform/lifecycle.js";
import { loadPreview, type PreviewRow } from "../previews/store.js";
import { dropPreviousInstance, instancePair, reopenPreviewDatabase, rollBackInstanceSwap, undoInstancePromotion } from "./instances.js";
import { carryName, dropCarry, planCarryOver, planToApi, releaseDirectWrites } from "./carry-over.js";
import { abandonCarryOver, dropCarryBack, promoteCarryingWrites, rollBackCarryingWrites } from "./carry-steps.js";
import { insertBackup, loadBackup } from "../backups/store.js";
import { takeAndVerify } from "../backups/take.js";
import { rollBackSwap, swapDatabase } from "../platform/dataplane/swap.js";
import { names } from "../platform/dataplane/names.js";
import {
  cancelProjectCutovers,
  listPreviousPastWindow,
  listProjectKeptPrevious,
  loadCutover,
  markCutoverCompleted,
  markCutoverFailed,
  markCutoverRolledBack,
  markDeletedProjectPreviousDropped,
  markPreviousDropped,
  recordPreCutoverBackup,
  markSchemaCutoverCompleted,
  recordWritesSinceOrigin,
  recordCarryOver,
  type CutoverRow,
} from "./store.js";
import { toApiWrites, writesSinceOrigin } from "../previews/origins.js";

/**
 * The executed phase of the request's schema review, once per request (a retried job keeps the
 * first). Evidence, not a gate: when it cannot be taken the request says why and the cutover
 * the operator asked for goes on.
 */
async function reviewAtExecute(ctx: AppContext, job: JobContext, cutoverId: string, project: ProjectRow, preview: PreviewRow): Promise<void> {
  const [done] = await loadReviews(ctx.db, [cutoverId]).then((rows) => rows.filter((r) => r.phase === "executed" && r.state === "ready"));
  if (done) return;
  try {
    await recordCutoverReview(ctx, job, cutoverId, "executed", project, preview);
  } catch (err) {
    if (job.signal.aborted) throw err;
    job.log.warn({ cutover_id: cutoverId, err: scrubSecrets(errorMessage(err)) }, "the schema diff at execute could not be taken");
    await markReviewFailed(ctx.db, cutoverId, "executed", job.job.id, scrubSecrets(errorMessage(err)));
  }
}

/**
 * Schema mode: the statements reviewed when the request was opened, applied to production if
 * its schema is still the one reviewed; then what still differs from the preview is recorded.
 * A retry after the commit finds production's schema moved and the diff empty: done.
 */
async function migrateProduction(ctx: AppContext, job: JobContext, cut: CutoverRow, project: ProjectRow, preview: PreviewRow): Promise<void> {
  const [review] = (await loadReviews(ctx.db, [cut.id])).filter((r) => r.phase === "opened" && r.state === "ready");
  if (!review) throw new PermanentError("the schema review taken when the request was opened is not there: a schema cutover applies only a reviewed diff");
  let attempts = 0;
  if ((await productionSchemaFingerprint(ctx, project, { signal: job.signal })) === review.production_schema_sha256) {
    ctx.faults.check("schema_cutover.before_apply");
    ({ attempts } = await applyReviewedSchema(ctx, job, project, review.statements));
  } else if (preview.state !== "ready" || (await computeSchemaDiff(ctx, job, project, preview)).length > 0) {
    throw new PermanentError(
      "production's schema changed since this request's diff was reviewed: nothing was applied; open a new cutover request to review the diff again",
    );
  }
  const residual = preview.state === "ready" ? await computeSchemaDiff(ctx, job, project, preview) : [];
  await markSchemaCutoverCompleted(ctx.db, cut.id, { statements: review.statements.length, attempts, residual });
  await ctx.lifecycle.productionReplaced(project);
}

/** 409-like refusal in the job too (more tables may have been written since the request was executed). */
async function assertCarryAccepted(ctx: AppContext, cut: CutoverRow, project: ProjectRow, preview: PreviewRow): Promise<void> {
  if (cut.accept_write_loss) return;
  const plan = await planCarryOver(ctx, project, preview);
  if (plan.notCarried.length > 0) {
    await recordCarryOver(ctx.db, cut.id, planToApi(plan, false));
    throw new PermanentError(
      `production's writes to ${plan.notCarried.map((t) => `${t.table} (${t.reason})`).join("; ")} cannot be carried into the preview: nothing was changed; execute again with accept_write_loss: true to go on without them`,
    );
  }
}

const previousName = (project: ProjectRow, cut: CutoverRow) => names.cutoverPrevious(project.database_name, cut.id);

async function load(ctx: AppContext, cutoverId: string): Promise<{ cut: CutoverRow; project: ProjectRow; preview: PreviewRow }> {
  const cut = await loadCutover(ctx.db, cutoverId);
  if (!cut) throw new PermanentError(`cutover request ${cutoverId} no longer exists`);
  const project = await loadProject(ctx.db, cut.project_id);
  const preview = await loadPreview(ctx.db, cut.preview_database_id);
  if (!project || !preview) throw new PermanentError("the project or the preview no longer exists");
  return { cut, project, preview };
}

export function cutoverJobHandlers(ctx: AppContext): Record<string, JobHandler> {
  return {
    [jobs.cutoverExecute.type]: {
      async run(job) {
        const loaded = await load(ctx, payloadOf(jobs.cutoverExecute, job.job).cutover_id);
        const { project, preview } = loaded;
        let cut = loaded.cut; // gains the pre-cutover backup's id below
        if (cut.status !== "in_progress") throw new PermanentError(`cutover request is ${cut.status}`);
        // an earlier attempt may have closed the preview's database for the swap (the steps below read it)
        if (cut.mode === "data") {
          const pair = await instancePair(ctx, project, preview).catch(() => null);
          if (pair) await reopenPreviewDatabase(ctx, preview, pair);
        }
        // 0. The schema evidence as of now, beside the one taken when the request was opened.
        if (preview.state === "ready") await reviewAtExecute(ctx, job, cut.id, project, preview);
        // what production wrote since the preview's data was taken: a data cutover does not carry it over (yet)
        if (cut.mode === "data" && preview.state === "ready" && !cut.writes_since_origin) {
          await recordWritesSinceOrigin(ctx.db, cut.id, toApiWrites(await writesSinceOrigin(ctx, project, preview)));
        }
        // what cannot be carried is refused before anything is done, unless the operator accepted it
        if (cut.mode === "data" && preview.state === "ready") await assertCarryAccepted(ctx, cut, project, preview);
        // 1. A pre-cutover backup of production, pinned against retention; no backup, no cutover.
        if (!cut.pre_cutover_backup_id) {
          const backup = await insertBackup(ctx.db, project, { label: `pre-cutover backup for ${cut.id}`, createdByJobId: job.job.id, pinned: true });
          await recordPreCutoverBackup(ctx.db, cut.id, backup.id);
          cut = { ...cut, pre_cutover_backup_id: backup.id };
        }
        const backup = (await loadBackup(ctx.db, cut.pre_cutover_backup_id!))!;
        try {
          await takeAndVerify(ctx, job, project, backup);
        } catch (err) {
          if (err instanceof PermanentError) throw new PermanentError(`pre-cutover backup failed, nothing was changed: ${err.message}`);
          throw err;
        }
        // 2, schema mode: production keeps its data and gets the reviewed statements.
        if (cut.mode === "schema") {
          await migrateProduction(ctx, job, cut, project, preview);
          return;
        }
        // 2. Promote. On the instance engine: a swap of the two instances' data directories.
        const pair = await instancePair(ctx, project, preview);
        if (pair) {
          if (preview.state !== "promoted") {
            if (preview.state !== "ready") throw new PermanentError(`preview is ${preview.state}; only a ready preview can be promoted`);
            const previous = await promoteCarryingWrites(ctx, job, cut, project, preview, pair);
            await markPreviewPromoted(ctx.db, preview.id);
            await ctx.lifecycle.productionReplaced(project);
            await markCutoverCompleted(ctx.db, cut.id, project.database_name, ctx.config.cutoverRollbackWindowSeconds, previous);
            return;
          }
          await ctx.lifecycle.productionReplaced(project);
          return;
        }
        // On a shared cluster: production's role takes over every object of the preview, then the rename swap.
        const admin = await ctx.clusters.pool(project.cluster_id);
        const old = previousName(project, cut);
        if (preview.state !== "promoted") {
          if (preview.state !== "ready") throw new PermanentError(`preview is ${preview.state}; only a ready preview can be promoted`);
          await reassignOwned(ctx.clusters, project.cluster_id, preview.database_name, preview.role_name, project.role_name);
          await dropOwned(ctx.clusters, project.cluster_id, preview.database_name, preview.role_name); // only privileges are left to drop
          await grantTenantDatabase(admin, preview.database_name, project.role_name);
          ctx.faults.check("cutover.before_swap");
          await swapDatabase(ctx, project.cluster_id, project.database_name, preview.database_name, old, { keepOld: true });
          await markPreviewPromoted(ctx.db, preview.id);
          await dropTenantRole(ctx.clusters, project.cluster_id, preview.role_name);
        }
        await ctx.lifecycle.productionReplaced(project);
        await markCutoverCompleted(ctx.db, cut.id, old, ctx.config.cutoverRollbackWindowSeconds);
      },
      async cleanup(job, error) {
        // Production keeps serving its previous data; the preview is handed back to its role.
        const { cut, project, preview } = await load(ctx, payloadOf(jobs.cutoverExecute, job.job).cutover_id);
        // schema mode changed production in one transaction or not at all, and never touched the preview
        const pair = cut.mode === "schema" ? null : await instancePair(ctx, project, preview).catch(() => null);
        if (cut.mode === "schema") {
          // nothing to undo
        } else if (pair) {
          if (preview.state !== "promoted") {
            await undoInstancePromotion(ctx, (await loadCutover(ctx.db, cut.id)) ?? cut, project, preview, pair);
            await abandonCarryOver(ctx, cut, project, preview);
          }
        } else if (preview.state !== "promoted") {
          await rollBackSwap(ctx, project.cluster_id, project.database_name, preview.database_name, previousName(project, cut), { keepBuilt: true });
          const admin = await ctx.clusters.pool(project.cluster_id);
          if (await databaseExists(admin, preview.database_name)) {
            await reassignOwned(ctx.clusters, project.cluster_id, preview.database_name, project.role_name, preview.role_name);
            await admin.query(`REVOKE ALL ON DATABASE ${quoteIdent(preview.database_name)} FROM ${quoteIdent(project.role_name)}`);
            await grantTenantDatabase(admin, preview.database_name, preview.role_name);
          }
        }
        await markCutoverFailed(ctx.db, cut.id, scrubSecrets(errorMessage(error)));
      },
    },
    [jobs.cutoverRollback.type]: {
      async run(job) {
        const { cut, project } = await load(ctx, payloadOf(jobs.cutoverRollback, job.job).cutover_id);
        if (cut.status === "rolled_back") return;
        if (cut.status !== "completed" || !cut.previous_database_name) throw new PermanentError(`cutover request is ${cut.status}`);
        if (cut.previous_instance_cluster_id) {
          // production's writes since the cutover carried back when it kept a slot for that; else the plain swap back
          if (!(await rollBackCarryingWrites(ctx, job, cut, project))) {
            await rollBackInstanceSwap(ctx, cut, project);
            // the previous data was left with its direct sessions held (a data cutover's pause)
            await releaseDirectWrites(ctx, project);
          }
          // and with the slot the cutover's carry read (a data cutover's pause leaves it there)
          await dropCarry(ctx, carryName(cut.id), project);
          await ctx.lifecycle.productionReplaced(project);
          await markCutoverRolledBack(ctx.db, cut.id);
          return;
        }
        const admin = await ctx.clusters.pool(project.cluster_id);
        const promoted = names.cutoverRolledBack(project.database_name, cut.id);
        if (await databaseExists(admin, cut.previous_database_name)) {
          await swapDatabase(ctx, project.cluster_id, project.database_name, cut.previous_database_name, promoted);
        } else if (!(await databaseExists(admin, promoted))) {
          throw new PermanentError("the previous production database is gone: the rollback window has passed");
        }
        await dropDatabase(admin, promoted);
        await ctx.lifecycle.productionReplaced(project);
        await markCutoverRolledBack(ctx.db, cut.id);
      },
    },
  };
}

/** The scheduler's task: previous production databases go once their rollback window has passed. */
export async function dropExpiredPrevious(ctx: AppContext): Promise<number> {
  const expired = await listPreviousPastWindow(ctx.db);
  for (const cut of expired) {
    const project = await loadProject(ctx.db, cut.project_id);
    if (cut.previous_instance_cluster_id) {
      await dropPreviousInstance(ctx, cut.previous_instance_cluster_id);
      if (project) await dropCarryBack(ctx, cut, project);
    } else if (project) await dropDatabase(await ctx.clusters.pool(project.cluster_id), cut.previous_database_name!);
    await markPreviousDropped(ctx.db, cut.id);
  }
  return expired.length;
}

/** When a project goes, the previous production databases kept for rollback go with it. */
export async function dropProjectCutoverLeftovers(ctx: AppContext, project: ProjectRef): Promise<void> {
  const kept = await listProjectKeptPrevious(ctx.db, project.id);
  const admin = await ctx.clusters.pool(project.cluster_id);
  for (const r of kept) {
    if (r.previous_instance_cluster_id) await dropPreviousInstance(ctx, r.previous_instance_cluster_id);
    else await dropDatabase(admin, r.previous_database_name);
    await markDeletedProjectPreviousDropped(ctx.db, r.id);
  }
  await cancelProjectCutovers(ctx.db, project.id);
}
