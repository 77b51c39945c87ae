// The projects table: its row type and every statement that writes it (one writer per table).
import type { Project } from "@capydb/api";
import type { Queryable } from "../platform/store/db.js";

export interface ProjectRow {
  id: string;
  organization_id: string;
  name: string;
  slug: string;
  state: Project["state"];
  region: string;
  plan: string;
  environment: string;
  cluster_id: string;
  database_name: string;
  role_name: string;
  role_password_sealed: string;
  max_connections: number;
  statement_timeout: string;
  idle_transaction_timeout: string;
  storage_limit_bytes: number;
  latest_job_id: string | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  // from the cluster
  public_host: string;
  direct_port: number;
  pooled_port: number;
  ssl_mode: string;
}

export const SELECT_PROJECT = `SELECT p.*, c.public_host, c.direct_port, c.pooled_port, c.ssl_mode FROM projects p JOIN clusters c ON c.id = p.cluster_id`;

export async function loadProject(db: Queryable, id: string): Promise<ProjectRow | null> {
  const { rows } = await db.query<ProjectRow>({ name: "load_project", text: `${SELECT_PROJECT} WHERE p.id = $1`, values: [id] });
  return rows[0] ?? null;
}

/** Records the job now working on the project (shown as the project's latest_job_id). */
export async function recordLatestJob(db: Queryable, projectId: string, jobId: string): Promise<void> {
  await db.query("UPDATE projects SET latest_job_id = $2, updated_at = now() WHERE id = $1", [projectId, jobId]);
}
