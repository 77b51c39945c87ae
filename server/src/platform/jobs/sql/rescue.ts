import type { Queryable } from "../../store/db.js";

/**
 * Jobs whose worker stopped renewing its lease (crashed, killed, partitioned) go
 * back to pending at once. One that has used all its attempts goes back marked
 * cleanup_only: the worker that claims it runs only the handler's cleanup, then
 * fails it. The dead attempt counts toward the job's maximum runtime until now
 * (it held a worker slot and its organization's cap that long), so the next claim
 * gives it only what is left (or, when nothing is, only its cleanup: see the worker). Called by every worker periodically; SKIP
 * LOCKED keeps concurrent rescuers apart.
 */
export async function rescueExpiredJobs(db: Queryable): Promise<Array<{ id: string; state: string; cleanup_only: boolean }>> {
  const { rows } = await db.query<{ id: string; state: string; cleanup_only: boolean }>(
    `WITH expired AS (
       SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < now()
       FOR UPDATE SKIP LOCKED
     )
     UPDATE jobs SET
       state = 'pending',
       cleanup_only = jobs.cleanup_only OR jobs.attempts >= jobs.max_attempts,
       error = CASE WHEN jobs.attempts < jobs.max_attempts THEN jobs.error
                    ELSE 'the worker running this job stopped (lease expired) on its last attempt' END,
       retry_classification = 'transient',
       run_seconds = jobs.run_seconds + greatest(0, extract(epoch FROM now() - jobs.claimed_at)::float8),
       run_at = now(), lease_token = NULL, lease_expires_at = NULL, updated_at = now()
     FROM expired WHERE jobs.id = expired.id
     RETURNING jobs.id, jobs.state, jobs.cleanup_only`,
  );
  return rows;
}
