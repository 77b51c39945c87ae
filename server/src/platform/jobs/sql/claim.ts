import type { Queryable } from "../../store/db.js";
import type { JobRow } from "../types.js";

/**
 * Claims up to `limit` due jobs with FOR UPDATE SKIP LOCKED and gives each a lease.
 *
 * A job with a locked_resource is a candidate only when it is the oldest pending
 * job of that resource and the resource's lock row is free (or its holder's lease
 * ran out). The lock row is taken with SKIP LOCKED and re-checked by Postgres
 * after a concurrent claim commits, so two jobs of one resource never run at once.
 */
export async function claimJobs(db: Queryable, workerId: string, limit: number, leaseSeconds: number, types: string[]): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `WITH candidate AS (
       SELECT j.id, j.locked_resource
       FROM jobs j
       WHERE j.state = 'pending' AND j.run_at <= now() AND j.type = ANY($4::text[])
         AND (j.locked_resource IS NULL OR (
           NOT EXISTS (
             SELECT 1 FROM jobs o
             WHERE o.state = 'pending' AND o.locked_resource = j.locked_resource AND (o.run_at, o.id) < (j.run_at, j.id)
           )
           AND EXISTS (
             SELECT 1 FROM job_resource_locks l
             WHERE l.resource = j.locked_resource AND (l.job_id IS NULL OR l.locked_until < now())
             FOR UPDATE SKIP LOCKED
           )
         ))
       ORDER BY j.run_at, j.id
       LIMIT $2
       FOR UPDATE OF j SKIP LOCKED
     ), locks AS (
       UPDATE job_resource_locks l
       SET job_id = c.id, locked_until = now() + make_interval(secs => $3)
       FROM candidate c WHERE l.resource = c.locked_resource
     )
     UPDATE jobs SET
       state = 'running',
       -- a cleanup-only pass is not another attempt at the work
       attempts = jobs.attempts + CASE WHEN jobs.cleanup_only THEN 0 ELSE 1 END,
       claimed_by = $1,
       -- clock_timestamp(): the moment the row is taken, after any job it waited on
       -- has committed (now() is this statement's start, which can be earlier)
       claimed_at = clock_timestamp(),
       started_at = coalesce(jobs.started_at, clock_timestamp()),
       lease_token = gen_random_uuid(),
       lease_expires_at = now() + make_interval(secs => $3),
       updated_at = now()
     FROM candidate
     WHERE jobs.id = candidate.id
     RETURNING jobs.*`,
    [workerId, limit, leaseSeconds, types],
  );
  return rows;
}
