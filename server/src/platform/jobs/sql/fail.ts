import type { Queryable } from "../../store/db.js";

export interface FailInput {
  jobId: string;
  leaseToken: string;
  error: string;
  classification: "transient" | "permanent";
  /** When the job should be retried (transient with attempts left); null fails it for good. */
  retryInMs: number | null;
}

/**
 * Records a failed attempt: back to pending with a later run_at when it will be
 * retried, else failed for good. Lease-checked like completion. Returns the new
 * state, or null when the lease was lost.
 */
export async function failJob(db: Queryable, input: FailInput): Promise<"pending" | "failed" | null> {
  const { rows } = await db.query<{ state: "pending" | "failed" }>(
    `WITH failed AS (
       UPDATE jobs SET
         state = CASE WHEN $5::float8 IS NULL THEN 'failed' ELSE 'pending' END,
         run_at = CASE WHEN $5::float8 IS NULL THEN run_at ELSE now() + make_interval(secs => $5::float8 / 1000) END,
         completed_at = CASE WHEN $5::float8 IS NULL THEN now() END,
         error = $3, retry_classification = $4, updated_at = now(),
         run_seconds = run_seconds + greatest(0, extract(epoch FROM clock_timestamp() - claimed_at)::float8),
         lease_token = NULL, lease_expires_at = NULL
       WHERE id = $1 AND lease_token = $2 AND state = 'running'
       RETURNING id, locked_resource, state
     ), unlocked AS (
       UPDATE job_resource_locks l SET job_id = NULL, locked_until = NULL
       FROM failed WHERE l.resource = failed.locked_resource AND l.job_id = failed.id
     )
     SELECT state FROM failed`,
    [input.jobId, input.leaseToken, input.error, input.classification, input.retryInMs],
  );
  return rows[0]?.state ?? null;
}
