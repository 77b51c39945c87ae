// Cutover requests: the customer asks, an operator acknowledges or rejects, then
// executes (pre-cutover backup, then promote); rollback within the window.
import { recordLatestJob } from "../projects/store.js";
import type { CarryOver, CutoverRequest, CutoverSchemaReview, WritesSinceOrigin } from "@capydb/api";
import { planCarryOver, planToApi } from "./carry-over.js";
import { planCarryBack, rollbackCarryOf } from "./carry-steps.js";
import { API_COUNT, CHECK_COUNT, toApiWrites, writesSinceOrigin } from "../previews/origins.js";
import { jobs } from "../jobs/catalogue.js";
import { enqueue } from "../platform/jobs/define.js";
import type { AppContext } from "../context.js";
import type { Principal } from "../http/auth.js";
import type { Listed, Page } from "../http/pagination.js";
import { canAccess } from "../http/auth.js";
import { conflict, notFound, previewStateConflict, projectStateConflict, unavailable } from "../http/errors.js";
import { errorMessage } from "../platform/jobs/errors.js";
import { inTransaction, type Queryable } from "../platform/store/db.js";
import { newId } from "../platform/secrets.js";
import { loadProject, type ProjectRow } from "../projects/store.js";
import { loadPreview } from "../previews/store.js";
import { insertPendingReview, loadReviews, type CutoverReviewRow } from "../schemadiffs/store.js";
import { productionSchemaFingerprint } from "../schemadiffs/review.js";
import { schemaChanges } from "../schemadiffs/review.js";
import {
  ACKNOWLEDGEABLE,
  AWAITING_OPERATOR,
  EXECUTABLE,
  insertCutover,
  listCutovers,
  loadCutover,
  markCutoverAcknowledged,
  markCutoverCanceled,
  markCutoverInProgress,
  markCutoverRejected,
  recordRollbackJob,
  type CutoverMode,
  type CutoverRow,
  type CutoverScope,
} from "./store.js";

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toApiReview(r: CutoverReviewRow | undefined): CutoverSchemaReview | null {
  if (!r) return null;
  return {
    state: r.state,
    taken_at: r.updated_at.toISOString(),
    statements: r.statements,
    summary: r.summary,
    production_schema_sha256: r.production_schema_sha256,
    error: r.error,
  };
}

/**
 * Production's writes since the origin and how they would be carried: live while the request
 * waits for the operator (production keeps writing); as the execute job recorded them after.
 */
async function writesOf(ctx: AppContext, r: CutoverRow): Promise<{ writes: WritesSinceOrigin | null; carry: CarryOver | null }> {
  if (r.mode === "schema") return { writes: null, carry: null }; // production keeps its data: nothing is lost
  const frozen = { writes: r.writes_since_origin, carry: r.carry_over };
  // in progress: the job counts and records it (a response to execute does not decode the slot again)
  if (!["open", "acknowledged"].includes(r.status) || r.writes_since_origin) return frozen;
  const [project, preview] = await Promise.all([loadProject(ctx.db, r.project_id), loadPreview(ctx.db, r.preview_database_id)]);
  if (!project || !preview || preview.state !== "ready") return frozen;
  try {
    const plan = await planCarryOver(ctx, project, preview, API_COUNT);
    return { writes: toApiWrites(plan.writes), carry: r.carry_over ?? planToApi(plan, r.accept_write_loss) };
  } catch (err) {
    // a catalog that cannot be read now: the count alone, and why the plan is missing
    const writes = toApiWrites(await writesSinceOrigin(ctx, project, preview, API_COUNT));
    return { writes, carry: r.carry_over ?? planToApi(unknownPlan(errorMessage(err)), r.accept_write_loss) };
  }
}

/** What a rollback would carry back: live while it can be asked for (a completed data cutover in its window); as done after. */
async function rollbackCarryShown(ctx: AppContext, r: CutoverRow): Promise<CarryOver | null> {
  if (r.mode === "schema" || !r.carry_back) return r.rollback_carry_over;
  // once a rollback is asked for, its job counts and records it
  const waiting = r.status === "completed" && !r.previous_dropped_at && !r.rollback_job_id;
  if (!waiting) return r.rollback_carry_over;
  const project = await loadProject(ctx.db, r.project_id);
  if (!project) return r.rollback_carry_over;
  return rollbackCarryOf(ctx, r, project).catch((err: unknown) => planToApi(unknownPlan(errorMessage(err)), r.rollback_accept_write_loss));
}

const unknownPlan = (why: string) => ({
  possible: false,
  reason: `the tables production wrote could not be checked against the preview: ${why}`,
  notCarried: [],
});

/** The requests as the API shows them, each with its schema evidence (one query for all). */
export async function presentCutovers(ctx: AppContext, rows: CutoverRow[]): Promise<CutoverRequest[]> {
  const reviews = await loadReviews(
    ctx.db,
    rows.map((r) => r.id),
  );
  const writes = new Map<string, { writes: WritesSinceOrigin | null; carry: CarryOver | null; back: CarryOver | null }>();
  for (const r of rows) writes.set(r.id, { ...(await writesOf(ctx, r)), back: await rollbackCarryShown(ctx, r) });
  return rows.map((r) => {
    const opened = reviews.find((v) => v.cutover_id === r.id && v.phase === "opened");
    const executed = reviews.find((v) => v.cutover_id === r.id && v.phase === "executed");
    const both = opened?.production_schema != null && executed?.production_schema != null;
    const changed = both ? opened.production_schema_sha256 !== executed.production_schema_sha256 : null;
    return {
      ...toApiCutover(r),
      writes_since_origin: writes.get(r.id)?.writes ?? null,
      carry_over: writes.get(r.id)?.carry ?? null,
      rollback_carry_over: writes.get(r.id)?.back ?? null,
      schema_diff_at_open: toApiReview(opened),
      schema_diff_at_execute: toApiReview(executed),
      production_schema_changed: changed,
      production_schema_changes: changed ? schemaChanges(opened!.production_schema!, executed!.production_schema!) : null,
    };
  });
}

export const presentCutover = async (ctx: AppContext, row: CutoverRow): Promise<CutoverRequest> => (await presentCutovers(ctx, [row]))[0];

const toApiCutover = (
  r: CutoverRow,
): Omit<
  CutoverRequest,
  | "schema_diff_at_open"
  | "schema_diff_at_execute"
  | "production_schema_changed"
  | "production_schema_changes"
  | "writes_since_origin"
  | "carry_over"
  | "rollback_carry_over"
> => ({
  id: r.id,
  organization_id: r.organization_id,
  project_id: r.project_id,
  preview_database_id: r.preview_database_id,
  status: r.status,
  customer_note: r.customer_note,
  operator_note: r.operator_note,
  external_ticket_ref: r.external_ticket_ref,
  rejected_reason: r.rejected_reason,
  failure_reason: r.failure_reason,
  requested_by_actor_kind: r.requested_by_actor_kind,
  requested_by_actor_id: r.requested_by_actor_id,
  mode: r.mode,
  schema_applied: r.schema_applied,
  ack_at: iso(r.ack_at),
  ack_by_user_id: r.ack_by_user_id,
  pre_cutover_backup_id: r.pre_cutover_backup_id,
  promote_job_id: r.promote_job_id,
  rollback_job_id: r.rollback_job_id,
  rollback_until: iso(r.rollback_until),
  completed_at: iso(r.completed_at),
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

export async function cutoverFor(ctx: AppContext, principal: Principal, id: string): Promise<CutoverRow> {
  const row = await loadCutover(ctx.db, id);
  if (!row || !canAccess(principal, row.organization_id, row.project_id)) throw notFound(`cutover request ${id} not found`);
  return row;
}

export async function listVisible(ctx: AppContext, principal: Principal, status?: string, page: Page | null = null): Promise<Listed<CutoverRow>> {
  const scope: CutoverScope =
    principal.kind === "admin" ? "all" : principal.kind === "project" ? { projectId: principal.projectId } : { organizationId: principal.organizationId };
  return listCutovers(ctx.db, scope, status, page);
}

export async function createCutover(
  ctx: AppContext,
  principal: Principal,
  project: ProjectRow,
  previewId: string,
  note: string | null,
  mode: CutoverMode = "data",
): Promise<CutoverRow> {
  const preview = await loadPreview(ctx.db, previewId);
  if (!preview || preview.project_id !== project.id) throw notFound(`preview database ${previewId} not found in project ${project.id}`);
  if (preview.state !== "ready") throw previewStateConflict(preview.state, `preview_id: preview is ${preview.state}; only a ready preview can be promoted`);
  if (project.state !== "ready") throw projectStateConflict(project.state, `project is ${project.state}`);
  // a schema cutover moves no data: a masked preview's schema is as good as any
  if (preview.masked && mode === "data") {
    throw conflict(
      "preview_id: this preview's data is masked: promoting it would replace production's data with masked data. Ask for mode \"schema\" (production keeps its data, gets the schema), or promote a preview made with masked: false (an organization key)",
    );
  }
  return inTransaction(ctx.db, async (tx) => {
    const row = await insertCutover(tx, {
      id: newId("cut"),
      organizationId: project.organization_id,
      projectId: project.id,
      previewId: preview.id,
      note,
      actorKind: principal.actorKind,
      actorId: principal.actorId,
      mode,
    });
    if (!row) throw conflict("the project already has a cutover request that is open, acknowledged or in progress", "cutover_already_open");
    // The evidence the operator acknowledges on: the preview's schema diff against production, taken now.
    const jobId = newId("job");
    await insertPendingReview(tx, row.id, "opened", jobId);
    await enqueue(
      tx,
      jobs.cutoverSchemaDiff,
      { organizationId: row.organization_id, projectId: row.project_id, previewDatabaseId: row.preview_database_id, clusterId: preview.cluster_id },
      { cutover_id: row.id },
      { id: jobId, maxAttempts: ctx.config.jobMaxAttempts },
    );
    return row;
  });
}

/** The request was not moved (it is in none of `from`): 409 naming its current status. */
async function notMoved(db: Queryable, id: string, from: readonly string[]): Promise<never> {
  const current = await loadCutover(db, id);
  throw conflict(`cutover request is ${current?.status ?? "gone"}; this needs it to be ${from.join(" or ")}`, "cutover_state_conflict");
}

export const cancel = async (ctx: AppContext, id: string) => (await markCutoverCanceled(ctx.db, id)) ?? notMoved(ctx.db, id, AWAITING_OPERATOR);

export const acknowledge = async (ctx: AppContext, id: string, operatorId: string, note: string | null, ticket: string | null) =>
  (await markCutoverAcknowledged(ctx.db, id, operatorId, note, ticket)) ?? notMoved(ctx.db, id, ACKNOWLEDGEABLE);

export const reject = async (ctx: AppContext, id: string, reason: string, note: string | null) =>
  (await markCutoverRejected(ctx.db, id, reason, note)) ?? notMoved(ctx.db, id, AWAITING_OPERATOR);

/**
 * A schema cutover applies what was reviewed: the review taken when the request was opened must
 * be there, and production's schema must still be what it was then (else 409: a new request
 * reviews it again). The job checks once more after its backup.
 */
async function assertReviewStands(ctx: AppContext, cutover: CutoverRow): Promise<void> {
  const [review] = (await loadReviews(ctx.db, [cutover.id])).filter((r) => r.phase === "opened");
  if (!review || review.state !== "ready") {
    const why = review?.state === "failed" ? `failed (${review.error})` : (review?.state ?? "missing");
    throw conflict(`the schema review taken when this request was opened is ${why}: a schema cutover applies only a reviewed diff`, "schema_review_not_ready");
  }
  const project = await loadProject(ctx.db, cutover.project_id);
  if (!project) throw notFound(`project ${cutover.project_id} not found`);
  // an operator's request waits a bounded time: a table production's traffic keeps locked makes it a 503 to retry, not a hang
  const now = await productionSchemaFingerprint(ctx, project, { lockWaitSeconds: 10, timeoutMs: 30_000 }).catch((err: unknown) => {
    throw unavailable(`production's schema could not be read to check it against the review (${errorMessage(err)}): try again`);
  });
  if (now !== review.production_schema_sha256) {
    throw conflict(
      "production's schema changed since this request's schema diff was reviewed: cancel it and open a new cutover request to review the diff again",
      "production_schema_moved",
    );
  }
}

/**
 * A data cutover loses no write silently: when some tables' writes since the origin cannot be
 * carried into the preview, execute answers 409 listing them unless the operator accepts it.
 */
async function assertNoSilentWriteLoss(ctx: AppContext, cutover: CutoverRow): Promise<void> {
  const [project, preview] = await Promise.all([loadProject(ctx.db, cutover.project_id), loadPreview(ctx.db, cutover.preview_database_id)]);
  if (!project || !preview || preview.state !== "ready") return; // the job says what is wrong
  const plan = await planCarryOver(ctx, project, preview, CHECK_COUNT).catch((err: unknown) => {
    throw unavailable(`the tables production wrote since the preview's origin could not be checked (${errorMessage(err)}): try again`);
  });
  if (plan.notCarried.length === 0) return;
  throw conflict(
    `accept_write_loss: production's writes to ${plan.notCarried.map((t) => `${t.table} (${t.reason})`).join("; ")} cannot be carried into the preview; execute with accept_write_loss: true to promote it without them`,
    "write_loss_not_accepted",
  );
}

/** Execute: in_progress, and the job that backs production up and then promotes (data) or migrates it (schema). */
export async function execute(ctx: AppContext, cutover: CutoverRow, acceptWriteLoss = false): Promise<CutoverRow> {
  if (cutover.mode === "schema" && EXECUTABLE.includes(cutover.status)) await assertReviewStands(ctx, cutover);
  if (cutover.mode === "data" && !acceptWriteLoss && EXECUTABLE.includes(cutover.status)) await assertNoSilentWriteLoss(ctx, cutover);
  return inTransaction(ctx.db, async (tx) => {
    const jobId = newId("job");
    const row = (await markCutoverInProgress(tx, cutover.id, jobId, acceptWriteLoss)) ?? (await notMoved(tx, cutover.id, EXECUTABLE));
    await enqueue(
      tx,
      jobs.cutoverExecute,
      {
        organizationId: cutover.organization_id,
        projectId: cutover.project_id,
        previewDatabaseId: cutover.preview_database_id,
      },
      { cutover_id: cutover.id },
      { id: jobId, maxAttempts: ctx.config.jobMaxAttempts },
    );
    await recordLatestJob(tx, cutover.project_id, jobId);
    return row;
  });
}

export async function rollback(ctx: AppContext, cutover: CutoverRow, acceptWriteLoss = false): Promise<CutoverRow> {
  if (cutover.status !== "completed")
    throw conflict(`cutover request is ${cutover.status}; only a completed cutover can be rolled back`, "cutover_state_conflict");
  if (cutover.mode === "schema") {
    throw conflict(
      `a schema cutover keeps no previous database: restore its pre-cutover backup ${cutover.pre_cutover_backup_id} (POST /v1/backups/${cutover.pre_cutover_backup_id}/restore) to undo it, which also undoes production's writes since`,
      "cutover_state_conflict",
    );
  }
  if (!cutover.rollback_until || cutover.rollback_until.getTime() < Date.now() || cutover.previous_dropped_at) {
    throw conflict("the rollback window has passed: the previous production database is gone", "rollback_window_passed");
  }
  if (cutover.mode === "data" && cutover.carry_back?.slot && !acceptWriteLoss) {
    const project = await loadProject(ctx.db, cutover.project_id);
    const plan = project
      ? await planCarryBack(ctx, cutover, project, CHECK_COUNT).catch((err: unknown) => {
          throw unavailable(`the tables production wrote since the cutover could not be checked (${errorMessage(err)}): try again`);
        })
      : null;
    if (plan && plan.notCarried.length > 0) {
      throw conflict(
        `accept_write_loss: production's writes since the cutover to ${plan.notCarried.map((t) => `${t.table} (${t.reason})`).join("; ")} cannot be carried back into the previous data; roll back with accept_write_loss: true to go on without them`,
        "write_loss_not_accepted",
      );
    }
  }
  return inTransaction(ctx.db, async (tx) => {
    const jobId = newId("job");
    await enqueue(
      tx,
      jobs.cutoverRollback,
      { organizationId: cutover.organization_id, projectId: cutover.project_id },
      { cutover_id: cutover.id },
      {
        id: jobId,
        maxAttempts: ctx.config.jobMaxAttempts,
      },
    );
    const row = await recordRollbackJob(tx, cutover.id, jobId, acceptWriteLoss);
    await recordLatestJob(tx, cutover.project_id, jobId);
    return row;
  });
}
