import type { Queryable } from "../../store/db.js";

/**
 * Extends a running job's lease; false when the lease was lost: rescued by another
 * worker, or already expired (its resource may then have been given to another job,
 * so a worker that stalled past its lease must stop rather than renew).
 */
export async function renewLease(db: Queryable, jobId: string, leaseToken: string, leaseSeconds: number): Promise<boolean> {
  const { rows } = await db.query(
    `WITH renewed AS (
       UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3)
       WHERE id = $1 AND lease_token = $2 AND state = 'running' AND lease_expires_at > now()
       RETURNING id, locked_resource
     ), lock_row AS (
       UPDATE job_resource_locks l SET locked_until = now() + make_interval(secs => $3)
       FROM renewed WHERE l.resource = renewed.locked_resource AND l.job_id = renewed.id
     )
     SELECT count(*)::int AS n FROM renewed`,
    [jobId, leaseToken, leaseSeconds],
  );
  return rows[0].n === 1;
}
