import type { Queryable } from "../../store/db.js";
import type { JobRow } from "../types.js";
import { currentRequestedBy } from "../../requested-by.js";

export interface EnqueueInput {
  id: string;
  type: string;
  payload?: Record<string, unknown>;
  organizationId?: string | null;
  projectId?: string | null;
  previewDatabaseId?: string | null;
  clusterId?: string | null;
  lockedResource?: string | null;
  /** At most one pending job per key: a second enqueue answers the pending one. */
  jobKey?: string | null;
  maxAttempts?: number;
  runAt?: Date | null;
}

/**
 * Inserts a job, makes sure its resource has a lock row, and wakes the workers.
 * Runs inside the caller's transaction so a job exists exactly when the change
 * that asked for it is committed.
 */
export async function enqueueJob(db: Queryable, input: EnqueueInput): Promise<JobRow> {
  // the caller of the request being handled, if any (none for the platform's own work)
  const requestedBy = currentRequestedBy();
  const { rows } = await db.query<JobRow>(
    `WITH lock_row AS (
       INSERT INTO job_resource_locks (resource) SELECT $7::text WHERE $7::text IS NOT NULL
       ON CONFLICT (resource) DO NOTHING
     ), notified AS (
       SELECT pg_notify('capydb_jobs', $2)
     )
     INSERT INTO jobs (id, type, payload, organization_id, project_id, preview_database_id, cluster_id, locked_resource, max_attempts, run_at, job_key,
                       requested_by_actor_kind, requested_by_actor_id, requested_by_pr_number, requested_by_sha)
     SELECT $1, $2, $3, $4, $5, $6, $8, $7, $9, coalesce($10, now()), $11, $12, $13, $14, $15 FROM notified
     ON CONFLICT (job_key) WHERE state = 'pending' AND job_key IS NOT NULL DO NOTHING
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
      input.jobKey ?? null,
      requestedBy?.actorKind ?? null,
      requestedBy?.actorId ?? null,
      requestedBy?.prNumber ?? null,
      requestedBy?.sha ?? null,
    ],
  );
  if (rows[0]) return rows[0];
  // A pending job holds the key: it is the answer (read in this statement's own snapshot
  // if it committed since, or taken by a worker meanwhile: enqueue again).
  const pending = await db.query<JobRow>("SELECT * FROM jobs WHERE job_key = $1 AND state = 'pending'", [input.jobKey]);
  return pending.rows[0] ?? enqueueJob(db, input);
}
