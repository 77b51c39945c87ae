// Cutover requests: the customer asks, an operator acknowledges or rejects, then
// executes (pre-cutover backup, then promote); rollback within the window.
import { recordLatestJob } from "../projects/store.js";
import type { CutoverRequest } from "@capydb/api";
import { jobs } from "../jobs/catalogue.js";
import { enqueue } from "../platform/jobs/define.js";
import type { AppContext } from "../context.js";
import type { Principal } from "../http/auth.js";
import { canAccess } from "../http/auth.js";
import { conflict, notFound, previewStateConflict, projectStateConflict } from "../http/errors.js";
import { inTransaction, type Queryable } from "../platform/store/db.js";
import { newId } from "../platform/secrets.js";
import type { ProjectRow } from "../projects/store.js";
import { loadPreview } from "../previews/service.js";

export interface CutoverRow {
  id: string;
  organization_id: string;
  project_id: string;
  preview_database_id: string;
  status: CutoverRequest["status"];
  customer_note: string | null;
  operator_note: string | null;
  external_ticket_ref: string | null;
  rejected_reason: string | null;
  failure_reason: string | null;
  requested_by_actor_kind: "api_key" | "user";
  requested_by_actor_id: string;
  ack_at: Date | null;
  ack_by_user_id: string | null;
  pre_cutover_backup_id: string | null;
  promote_job_id: string | null;
  completed_at: Date | null;
  previous_database_name: string | null;
  rollback_until: Date | null;
  previous_dropped_at: Date | null;
  rolled_back_at: Date | null;
  rollback_job_id: string | null;
  created_at: Date;
  updated_at: Date;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const toApiCutover = (r: CutoverRow): CutoverRequest => ({
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

export async function loadCutover(db: Queryable, id: string): Promise<CutoverRow | null> {
  return (await db.query<CutoverRow>("SELECT * FROM cutover_requests WHERE id = $1", [id])).rows[0] ?? null;
}

export async function cutoverFor(ctx: AppContext, principal: Principal, id: string): Promise<CutoverRow> {
  const row = await loadCutover(ctx.db, id);
  if (!row || !canAccess(principal, row.organization_id, row.project_id)) throw notFound(`cutover request ${id} not found`);
  return row;
}

export async function listForProject(db: Queryable, projectId: string): Promise<CutoverRow[]> {
  return (await db.query<CutoverRow>("SELECT * FROM cutover_requests WHERE project_id = $1 ORDER BY created_at DESC, id DESC", [projectId])).rows;
}

export async function listVisible(ctx: AppContext, principal: Principal, status?: string): Promise<CutoverRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (status) where.push(`status = $${params.push(status)}`);
  if (principal.kind === "project") where.push(`project_id = $${params.push(principal.projectId)}`);
  else if (principal.kind !== "admin") where.push(`organization_id = $${params.push(principal.organizationId)}`);
  const { rows } = await ctx.db.query<CutoverRow>(
    `SELECT * FROM cutover_requests ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY created_at DESC, id DESC LIMIT 500`,
    params,
  );
  return rows;
}

export async function createCutover(ctx: AppContext, principal: Principal, project: ProjectRow, previewId: string, note: string | null): Promise<CutoverRow> {
  const preview = await loadPreview(ctx.db, previewId);
  if (!preview || preview.project_id !== project.id) throw notFound(`preview database ${previewId} not found in project ${project.id}`);
  if (preview.state !== "ready") throw previewStateConflict(preview.state, `preview_id: preview is ${preview.state}; only a ready preview can be promoted`);
  if (project.state !== "ready") throw projectStateConflict(project.state, `project is ${project.state}`);
  try {
    const { rows } = await ctx.db.query<CutoverRow>(
      `INSERT INTO cutover_requests (id, organization_id, project_id, preview_database_id, status, customer_note, requested_by_actor_kind, requested_by_actor_id)
       VALUES ($1, $2, $3, $4, 'open', $5, $6, $7) RETURNING *`,
      [newId("cut"), project.organization_id, project.id, preview.id, note, principal.actorKind, principal.actorId],
    );
    return rows[0];
  } catch (err) {
    if ((err as { constraint?: string }).constraint === "cutover_requests_active_uniq") {
      throw conflict("the project already has a cutover request that is open, acknowledged or in progress", "cutover_already_open");
    }
    throw err;
  }
}

/** Moves a request from one of `from` to a new status; 409 naming the current status otherwise. */
async function transition(db: Queryable, id: string, from: string[], set: string, params: unknown[]): Promise<CutoverRow> {
  const { rows } = await db.query<CutoverRow>(`UPDATE cutover_requests SET ${set}, updated_at = now() WHERE id = $1 AND status = ANY($2::text[]) RETURNING *`, [
    id,
    from,
    ...params,
  ]);
  if (rows[0]) return rows[0];
  const current = await loadCutover(db, id);
  throw conflict(`cutover request is ${current?.status ?? "gone"}; this needs it to be ${from.join(" or ")}`, "cutover_state_conflict");
}

export const cancel = (ctx: AppContext, id: string) => transition(ctx.db, id, ["open", "acknowledged"], "status = 'canceled'", []);

export const acknowledge = (ctx: AppContext, id: string, operatorId: string, note: string | null, ticket: string | null) =>
  transition(
    ctx.db,
    id,
    ["open"],
    "status = 'acknowledged', ack_at = now(), ack_by_user_id = $3, operator_note = coalesce($4, operator_note), external_ticket_ref = coalesce($5, external_ticket_ref)",
    [operatorId, note, ticket],
  );

export const reject = (ctx: AppContext, id: string, reason: string, note: string | null) =>
  transition(ctx.db, id, ["open", "acknowledged"], "status = 'rejected', rejected_reason = $3, operator_note = coalesce($4, operator_note)", [reason, note]);

/** Execute: in_progress, and the job that backs production up and then promotes. */
export async function execute(ctx: AppContext, cutover: CutoverRow): Promise<CutoverRow> {
  return inTransaction(ctx.db, async (tx) => {
    const jobId = newId("job");
    const row = await transition(tx, cutover.id, ["acknowledged"], "status = 'in_progress', promote_job_id = $3", [jobId]);
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

export async function rollback(ctx: AppContext, cutover: CutoverRow): Promise<CutoverRow> {
  if (cutover.status !== "completed")
    throw conflict(`cutover request is ${cutover.status}; only a completed cutover can be rolled back`, "cutover_state_conflict");
  if (!cutover.rollback_until || cutover.rollback_until.getTime() < Date.now() || cutover.previous_dropped_at) {
    throw conflict("the rollback window has passed: the previous production database is gone", "rollback_window_passed");
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
    const { rows } = await tx.query<CutoverRow>("UPDATE cutover_requests SET rollback_job_id = $2, updated_at = now() WHERE id = $1 RETURNING *", [
      cutover.id,
      jobId,
    ]);
    await recordLatestJob(tx, cutover.project_id, jobId);
    return rows[0];
  });
}
