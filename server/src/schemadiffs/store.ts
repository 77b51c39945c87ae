// The schema_diffs table: each preview's latest schema diff against production (one writer).
import type { Queryable } from "../platform/store/db.js";
import type { Statement } from "./risk.js";

export interface SchemaDiffRow {
  preview_database_id: string;
  project_id: string;
  job_id: string;
  statements: Statement[];
  summary: { safe: number; risky: number; destructive: number };
  created_at: Date;
}

export async function loadSchemaDiff(db: Queryable, previewId: string): Promise<SchemaDiffRow | null> {
  return (await db.query<SchemaDiffRow>("SELECT * FROM schema_diffs WHERE preview_database_id = $1", [previewId])).rows[0] ?? null;
}

export async function saveSchemaDiff(db: Queryable, row: Omit<SchemaDiffRow, "created_at">): Promise<void> {
  await db.query(
    `INSERT INTO schema_diffs (preview_database_id, project_id, job_id, statements, summary) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)
     ON CONFLICT (preview_database_id) DO UPDATE SET job_id = EXCLUDED.job_id, statements = EXCLUDED.statements,
       summary = EXCLUDED.summary, created_at = now()`,
    [row.preview_database_id, row.project_id, row.job_id, JSON.stringify(row.statements), JSON.stringify(row.summary)],
  );
}

// ---------------------------------------------------------------- cutover_schema_reviews

export type ReviewPhase = "opened" | "executed";

export interface CutoverReviewRow {
  cutover_id: string;
  phase: ReviewPhase;
  state: "pending" | "ready" | "failed";
  job_id: string;
  statements: Statement[];
  summary: { safe: number; risky: number; destructive: number };
  production_schema: string | null;
  production_schema_sha256: string | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
}

/** The review a job is about to compute (the opened phase is pending from the request's creation). */
export async function insertPendingReview(db: Queryable, cutoverId: string, phase: ReviewPhase, jobId: string): Promise<void> {
  await db.query(`INSERT INTO cutover_schema_reviews (cutover_id, phase, state, job_id) VALUES ($1, $2, 'pending', $3) ON CONFLICT DO NOTHING`, [
    cutoverId,
    phase,
    jobId,
  ]);
}

export async function saveReview(
  db: Queryable,
  r: Pick<CutoverReviewRow, "cutover_id" | "phase" | "job_id" | "statements" | "summary" | "production_schema" | "production_schema_sha256">,
): Promise<void> {
  await db.query(
    `INSERT INTO cutover_schema_reviews (cutover_id, phase, state, job_id, statements, summary, production_schema, production_schema_sha256)
     VALUES ($1, $2, 'ready', $3, $4::jsonb, $5::jsonb, $6, $7)
     ON CONFLICT (cutover_id, phase) DO UPDATE SET state = 'ready', job_id = EXCLUDED.job_id, statements = EXCLUDED.statements,
       summary = EXCLUDED.summary, production_schema = EXCLUDED.production_schema,
       production_schema_sha256 = EXCLUDED.production_schema_sha256, error = NULL, updated_at = now()`,
    [r.cutover_id, r.phase, r.job_id, JSON.stringify(r.statements), JSON.stringify(r.summary), r.production_schema, r.production_schema_sha256],
  );
}

export async function markReviewFailed(db: Queryable, cutoverId: string, phase: ReviewPhase, jobId: string, error: string): Promise<void> {
  await db.query(
    `INSERT INTO cutover_schema_reviews (cutover_id, phase, state, job_id, error) VALUES ($1, $2, 'failed', $3, $4)
     ON CONFLICT (cutover_id, phase) DO UPDATE SET state = 'failed', job_id = EXCLUDED.job_id, error = EXCLUDED.error, updated_at = now()
     WHERE cutover_schema_reviews.state <> 'ready'`,
    [cutoverId, phase, jobId, error],
  );
}

export async function loadReviews(db: Queryable, cutoverIds: string[]): Promise<CutoverReviewRow[]> {
  if (cutoverIds.length === 0) return [];
  return (await db.query<CutoverReviewRow>("SELECT * FROM cutover_schema_reviews WHERE cutover_id = ANY($1::text[])", [cutoverIds])).rows;
}
