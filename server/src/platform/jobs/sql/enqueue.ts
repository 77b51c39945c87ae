import type { Queryable } from "../../store/db.js";
import type { JobRow } from "../types.js";

export interface EnqueueInput {
  id: string;
  type: string;
  payload?: Record<string, unknown>;
  organizationId?: string | null;
  projectId?: string | null;
  previewDatabaseId?: string | null;
  clusterId?: string | null;
  lockedResource?: string | null;
  maxAttempts?: number;
  runAt?: Date | null;
}

/**
 * Inserts a job, makes sure its resource has a lock row, and wakes the workers.
 * Runs inside the caller's transaction so a job exists exactly when the change
 * that asked for it is committed.
 */
export async function enqueueJob(db: Queryable, input: EnqueueInput): Promise<JobRow> {
  const { rows } = await db.query<JobRow>(
    `WITH lock_row AS (
       INSERT INTO job_resource_locks (resource) SELECT $7::text WHERE $7::text IS NOT NULL
       ON CONFLICT (resource) DO NOTHING
     ), notified AS (
       SELECT pg_notify('capydb_jobs', $2)
     )
     INSERT INTO jobs (id, type, payload, organization_id, project_id, preview_database_id, cluster_id, locked_resource, max_attempts, run_at)
     SELECT $1, $2, $3, $4, $5, $6, $8, $7, $9, coalesce($10, now()) FROM notified
     RETURNING *`,
    [
      input.id,
      input.type,
      JSON.stringify(input.payload ?? {}),
      input.organizationId ?? null,
      input.projectId ?? null,
      input.previewDatabaseId ?? null,
      input.lockedResource ?? null,
      input.clusterId ?? null,
      input.maxAttempts ?? 5,
      input.runAt ?? null,
    ],
  );
  return rows[0];
}
