import type { Queryable } from "../../store/db.js";

/**
 * Jobs whose worker stopped renewing its lease (crashed, killed, partitioned) go
 * back to pending at once, or fail when they have used all their attempts.
 * Called by every worker periodically; SKIP LOCKED keeps concurrent rescuers apart.
 */
export async function rescueExpiredJobs(db: Queryable): Promise<Array<{ id: string; state: string }>> {
  const { rows } = await db.query<{ id: string; state: string }>(
    `WITH expired AS (
       SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < now()
       FOR UPDATE SKIP LOCKED
     )
     UPDATE jobs SET
       state = CASE WHEN jobs.attempts < jobs.max_attempts THEN 'pending' ELSE 'failed' END,
       completed_at = CASE WHEN jobs.attempts < jobs.max_attempts THEN NULL ELSE now() END,
       error = CASE WHEN jobs.attempts < jobs.max_attempts THEN jobs.error
                    ELSE 'the worker running this job stopped (lease expired) on its last attempt' END,
       retry_classification = 'transient',
       run_at = now(), lease_token = NULL, lease_expires_at = NULL, updated_at = now()
     FROM expired WHERE jobs.id = expired.id
     RETURNING jobs.id, jobs.state`,
  );
  return rows;
}
