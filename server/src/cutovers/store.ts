// The cutover_requests table: its row type, its statuses and every statement that reads or
// writes it (one writer per table).
//   open → acknowledged → in_progress → completed → rolled_back
//   open | acknowledged → canceled | rejected;   in_progress → failed
import type { CarryOver, CutoverRequest, WritesSinceOrigin } from "@capydb/api";

export type CutoverMode = CutoverRequest["mode"];
export type SchemaApplied = NonNullable<CutoverRequest["schema_applied"]>;
import type { Queryable } from "../platform/store/db.js";
import { listRows, type Listed, type Page } from "../http/pagination.js";

export type CutoverStatus = CutoverRequest["status"];

/** What a rollback needs to carry production's writes back (written before the swap). */
export interface CarryBack {
  slot: string | null;
  error: string | null;
  /** The previous data's tables (its instance is stopped afterwards), as the carry's plan reads a target. */
  previous_tables: unknown[];
}

export interface CutoverRow {
  id: string;
  organization_id: string;
  project_id: string;
  preview_database_id: string;
  status: CutoverStatus;
  customer_note: string | null;
  operator_note: string | null;
  external_ticket_ref: string | null;
  rejected_reason: string | null;
  failure_reason: string | null;
  requested_by_actor_kind: CutoverRequest["requested_by_actor_kind"];
  requested_by_actor_id: string;
  ack_at: Date | null;
  ack_by_user_id: string | null;
  pre_cutover_backup_id: string | null;
  promote_job_id: string | null;
  completed_at: Date | null;
  previous_database_name: string | null;
  rollback_until: Date | null;
  previous_dropped_at: Date | null;
  /** Instance engine: the preview's data directory before the swap, the instance holding the previous data, and its directory. */
  candidate_dir: string | null;
  previous_instance_cluster_id: string | null;
  previous_dir: string | null;
  rolled_back_at: Date | null;
  /** data: the preview's data becomes production's; schema: production keeps its data and gets the reviewed schema diff. */
  mode: CutoverMode;
  /** Schema mode: what was applied (statements, attempts) and what still differs after. */
  schema_applied: SchemaApplied | null;
  /** Production's writes since the preview's origin, frozen when the request was executed (live before). */
  writes_since_origin: WritesSinceOrigin | null;
  /** Data mode: the operator executed knowing some tables' writes cannot be carried. */
  accept_write_loss: boolean;
  /** Data mode, once executed: where carrying production's writes into the preview stands. */
  carry_over: CarryOver | null;
  /** Data mode, once swapped: the slot on the new production a rollback carries back from (or why there is none), and the previous data's tables. */
  carry_back: CarryBack | null;
  /** The rollback's carry of production's writes back into the previous data. */
  rollback_carry_over: CarryOver | null;
  rollback_accept_write_loss: boolean;
  rollback_job_id: string | null;
  created_at: Date;
  updated_at: Date;
}

/** Waiting on an operator: the customer may still cancel, the operator reject. */
export const AWAITING_OPERATOR: readonly CutoverStatus[] = ["open", "acknowledged"];
/** What an operator acknowledges. */
export const ACKNOWLEDGEABLE: readonly CutoverStatus[] = ["open"];
/** What an operator executes. */
export const EXECUTABLE: readonly CutoverStatus[] = ["acknowledged"];

export async function loadCutover(db: Queryable, id: string): Promise<CutoverRow | null> {
  return (await db.query<CutoverRow>("SELECT * FROM cutover_requests WHERE id = $1", [id])).rows[0] ?? null;
}

/** A project's cutover requests, newest first: all of them, or one page. */
export async function listProjectCutovers(db: Queryable, projectId: string, page: Page | null = null): Promise<Listed<CutoverRow>> {
  return listRows<CutoverRow>(
    db,
    { base: "SELECT * FROM cutover_requests", where: ["project_id = $1"], params: [projectId], createdAt: "created_at", id: "id", idOrder: "DESC" },
    page,
  );
}

/** Whose requests a listing shows: one project's, one organization's, or every one. */
export type CutoverScope = { projectId: string } | { organizationId: string } | "all";

export async function listCutovers(db: Queryable, scope: CutoverScope, status?: string, page: Page | null = null): Promise<Listed<CutoverRow>> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (status) where.push(`status = $${params.push(status)}`);
  if (scope !== "all") {
    if ("projectId" in scope) where.push(`project_id = $${params.push(scope.projectId)}`);
    else where.push(`organization_id = $${params.push(scope.organizationId)}`);
  }
  return listRows<CutoverRow>(
    db,
    { base: "SELECT * FROM cutover_requests", where, params, createdAt: "created_at", id: "id", idOrder: "DESC", unpagedLimit: 500 },
    page,
  );
}

/** A new open request; null when the project already has one open, acknowledged or in progress. */
export async function insertCutover(
  db: Queryable,
  r: { id: string; organizationId: string; projectId: string; previewId: string; note: string | null; actorKind: string; actorId: string; mode: CutoverMode },
): Promise<CutoverRow | null> {
  try {
    const { rows } = await db.query<CutoverRow>(
      `INSERT INTO cutover_requests (id, organization_id, project_id, preview_database_id, status, customer_note, requested_by_actor_kind, requested_by_actor_id, mode)
       VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8) RETURNING *`,
      [r.id, r.organizationId, r.projectId, r.previewId, r.note, r.actorKind, r.actorId, r.mode],
    );
    return rows[0];
  } catch (err) {
    if ((err as { constraint?: string }).constraint === "cutover_requests_active_uniq") return null;
    throw err;
  }
}

/** Moves a request from one of `from` to a new status; null when it was in none of them (or is gone). */
async function moveCutover(db: Queryable, id: string, from: readonly CutoverStatus[], set: string, params: unknown[]): Promise<CutoverRow | null> {
  const { rows } = await db.query<CutoverRow>(`UPDATE cutover_requests SET ${set}, updated_at = now() WHERE id = $1 AND status = ANY($2::text[]) RETURNING *`, [
    id,
    from,
    ...params,
  ]);
  return rows[0] ?? null;
}

export const markCutoverCanceled = (db: Queryable, id: string) => moveCutover(db, id, AWAITING_OPERATOR, "status = 'canceled'", []);

export const markCutoverAcknowledged = (db: Queryable, id: string, operatorId: string, note: string | null, ticket: string | null) =>
  moveCutover(
    db,
    id,
    ACKNOWLEDGEABLE,
    "status = 'acknowledged', ack_at = now(), ack_by_user_id = $3, operator_note = coalesce($4, operator_note), external_ticket_ref = coalesce($5, external_ticket_ref)",
    [operatorId, note, ticket],
  );

export const markCutoverRejected = (db: Queryable, id: string, reason: string, note: string | null) =>
  moveCutover(db, id, AWAITING_OPERATOR, "status = 'rejected', rejected_reason = $3, operator_note = coalesce($4, operator_note)", [reason, note]);

/** in_progress, with the id of the job that backs production up and then promotes. */
export const markCutoverInProgress = (db: Queryable, id: string, promoteJobId: string, acceptWriteLoss = false) =>
  moveCutover(db, id, EXECUTABLE, "status = 'in_progress', promote_job_id = $3, accept_write_loss = $4", [promoteJobId, acceptWriteLoss]);

export async function recordPreCutoverBackup(db: Queryable, id: string, backupId: string): Promise<void> {
  await db.query("UPDATE cutover_requests SET pre_cutover_backup_id = $2, updated_at = now() WHERE id = $1", [id, backupId]);
}

/** Promoted: the previous production database is kept under `previousName` for the rollback window. */
export async function markCutoverCompleted(
  db: Queryable,
  id: string,
  previousName: string,
  rollbackWindowSeconds: number,
  previousInstance: { clusterId: string; dir: string } | null = null,
): Promise<void> {
  await db.query(
    `UPDATE cutover_requests SET status = 'completed', completed_at = now(), previous_database_name = $2,
       rollback_until = now() + make_interval(secs => $3), failure_reason = NULL, updated_at = now(),
       previous_instance_cluster_id = $4, previous_dir = $5 WHERE id = $1`,
    [id, previousName, rollbackWindowSeconds, previousInstance?.clusterId ?? null, previousInstance?.dir ?? null],
  );
}

/** On the instance engine: the preview's data directory, recorded before production's and its are swapped. */
export async function recordCandidateDir(db: Queryable, id: string, dir: string): Promise<void> {
  await db.query("UPDATE cutover_requests SET candidate_dir = $2, updated_at = now() WHERE id = $1 AND candidate_dir IS NULL", [id, dir]);
}

export async function markCutoverFailed(db: Queryable, id: string, reason: string): Promise<void> {
  await db.query("UPDATE cutover_requests SET status = 'failed', failure_reason = $2, updated_at = now() WHERE id = $1 AND status = 'in_progress'", [
    id,
    reason,
  ]);
}

export async function recordRollbackJob(db: Queryable, id: string, jobId: string, acceptWriteLoss = false): Promise<CutoverRow> {
  const { rows } = await db.query<CutoverRow>(
    "UPDATE cutover_requests SET rollback_job_id = $2, rollback_accept_write_loss = $3, updated_at = now() WHERE id = $1 RETURNING *",
    [id, jobId, acceptWriteLoss],
  );
  return rows[0];
}

/** Rolled back: the previous production database is production again, so none is kept. */
export async function markCutoverRolledBack(db: Queryable, id: string): Promise<void> {
  await db.query("UPDATE cutover_requests SET status = 'rolled_back', rolled_back_at = now(), previous_dropped_at = now(), updated_at = now() WHERE id = $1", [
    id,
  ]);
}

/** Completed requests whose rollback window has passed with their previous production still kept (a batch). */
export async function listPreviousPastWindow(db: Queryable): Promise<CutoverRow[]> {
  const { rows } = await db.query<CutoverRow>(
    "SELECT * FROM cutover_requests WHERE status = 'completed' AND rollback_until < now() AND previous_dropped_at IS NULL AND previous_database_name IS NOT NULL LIMIT 50",
  );
  return rows;
}

export async function markPreviousDropped(db: Queryable, id: string): Promise<void> {
  await db.query("UPDATE cutover_requests SET previous_dropped_at = now(), updated_at = now() WHERE id = $1", [id]);
}

/** The previous production databases a project still has kept. */
export async function listProjectKeptPrevious(
  db: Queryable,
  projectId: string,
): Promise<Array<{ id: string; previous_database_name: string; previous_instance_cluster_id: string | null }>> {
  const { rows } = await db.query<{ id: string; previous_database_name: string; previous_instance_cluster_id: string | null }>(
    "SELECT id, previous_database_name, previous_instance_cluster_id FROM cutover_requests WHERE project_id = $1 AND previous_database_name IS NOT NULL AND previous_dropped_at IS NULL",
    [projectId],
  );
  return rows;
}

/** As markPreviousDropped, for a deleted project's request: updated_at is left as it was. */
export async function markDeletedProjectPreviousDropped(db: Queryable, id: string): Promise<void> {
  await db.query("UPDATE cutover_requests SET previous_dropped_at = now() WHERE id = $1", [id]);
}

/** A deleted project's requests still waiting on an operator (AWAITING_OPERATOR) are canceled. */
export async function cancelProjectCutovers(db: Queryable, projectId: string): Promise<void> {
  await db.query("UPDATE cutover_requests SET status = 'canceled', updated_at = now() WHERE project_id = $1 AND status IN ('open', 'acknowledged')", [
    projectId,
  ]);
}

/** The previous production databases kept on a cluster (for the reconciler: they should exist). */
export async function keptPreviousOnCluster(db: Queryable, clusterId: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.previous_database_name AS name FROM cutover_requests c JOIN projects p ON p.id = c.project_id
       WHERE p.cluster_id = $1 AND c.previous_database_name IS NOT NULL AND c.previous_dropped_at IS NULL`,
    [clusterId],
  );
  return rows.map((r) => r.name);
}

/** Freezes the count of production's writes since the origin (once: a retried execute keeps the first). */
export async function recordWritesSinceOrigin(db: Queryable, id: string, writes: WritesSinceOrigin): Promise<void> {
  await db.query("UPDATE cutover_requests SET writes_since_origin = $2::jsonb WHERE id = $1 AND writes_since_origin IS NULL", [id, JSON.stringify(writes)]);
}

/** Schema mode: production got the reviewed statements; no previous database is kept (a rollback restores the pre-cutover backup). */
export async function markSchemaCutoverCompleted(db: Queryable, id: string, applied: SchemaApplied): Promise<void> {
  await db.query(
    `UPDATE cutover_requests SET status = 'completed', completed_at = now(), schema_applied = $2::jsonb, failure_reason = NULL, updated_at = now()
      WHERE id = $1`,
    [id, JSON.stringify(applied)],
  );
}

/** Where carrying production's writes stands (the execute job writes it as it goes). */
export async function recordCarryOver(db: Queryable, id: string, carry: CarryOver): Promise<void> {
  await db.query("UPDATE cutover_requests SET carry_over = $2::jsonb, updated_at = now() WHERE id = $1", [id, JSON.stringify(carry)]);
}

export async function recordCarryBack(db: Queryable, id: string, back: CarryBack): Promise<void> {
  await db.query("UPDATE cutover_requests SET carry_back = $2::jsonb, updated_at = now() WHERE id = $1", [id, JSON.stringify(back)]);
}

export async function recordRollbackCarryOver(db: Queryable, id: string, carry: CarryOver): Promise<void> {
  await db.query("UPDATE cutover_requests SET rollback_carry_over = $2::jsonb, updated_at = now() WHERE id = $1", [id, JSON.stringify(carry)]);
}
