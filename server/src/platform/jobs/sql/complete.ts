import type { Queryable } from "../../store/db.js";

/**
 * Marks a job succeeded and frees its resource, only if this worker still holds
 * the lease: a job rescued after a lost lease and finished elsewhere is not
 * completed twice. Returns false when the lease was lost.
 */
export async function completeJob(db: Queryable, jobId: string, leaseToken: string): Promise<boolean> {
  const { rows } = await db.query(
    `WITH done AS (
       UPDATE jobs SET state = 'succeeded', completed_at = now(), updated_at = now(),
         lease_token = NULL, lease_expires_at = NULL, error = NULL, retry_classification = NULL
       WHERE id = $1 AND lease_token = $2 AND state = 'running'
       RETURNING id, locked_resource
     ), unlocked AS (
       UPDATE job_resource_locks l SET job_id = NULL, locked_until = NULL
       FROM done WHERE l.resource = done.locked_resource AND l.job_id = done.id
     )
     SELECT count(*)::int AS n FROM done`,
    [jobId, leaseToken],
  );
  return rows[0].n === 1;
}
