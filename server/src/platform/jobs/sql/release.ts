import type { Queryable } from "../../store/db.js";

/**
 * Gives a running job back to the queue without counting the attempt, at graceful
 * shutdown, so another worker picks it up at once instead of after the lease: it is
 * due now, its resource is free, and idle workers listening are woken.
 */
export async function releaseJob(db: Queryable, jobId: string, leaseToken: string): Promise<boolean> {
  const { rows } = await db.query(
    `WITH released AS (
       -- the attempt is not counted, but the time it ran is (toward the maximum runtime)
       UPDATE jobs SET state = 'pending', attempts = greatest(attempts - 1, 0), run_at = now(),
         run_seconds = run_seconds + greatest(0, extract(epoch FROM clock_timestamp() - claimed_at)::float8),
         lease_token = NULL, lease_expires_at = NULL, updated_at = now()
       WHERE id = $1 AND lease_token = $2 AND state = 'running'
       RETURNING id, type, locked_resource
     ), unlocked AS (
       UPDATE job_resource_locks l SET job_id = NULL, locked_until = NULL
       FROM released WHERE l.resource = released.locked_resource AND l.job_id = released.id
     ), woken AS (
       SELECT pg_notify('capydb_jobs', released.type) FROM released
     )
     SELECT count(*)::int AS n FROM woken`,
    [jobId, leaseToken],
  );
  return rows[0].n === 1;
}
