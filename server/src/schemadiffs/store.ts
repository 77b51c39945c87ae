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
