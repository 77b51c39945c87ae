import type { Queryable } from "../../store/db.js";
import { DEFAULT_JOB_LIMITS, maxRuntimeFor, type JobLimits } from "../limits.js";
import type { JobRow } from "../types.js";

/**
 * Claims up to `limit` due jobs with FOR UPDATE SKIP LOCKED and gives each a lease.
 *
 * A job with a locked_resource is a candidate only when it is the oldest pending
 * job of that resource and the resource's lock row is free (or its holder's lease
 * ran out). The lock row is taken with SKIP LOCKED and re-checked by Postgres
 * after a concurrent claim commits, so two jobs of one resource never run at once.
 *
 * A job of an organization is a candidate only while fewer than
 * `maxRunningPerOrganization` of that organization's jobs run, counted over every
 * worker process: the claim holds the organization's row in job_organization_claims
 * (SKIP LOCKED: another claim of it is under way) and passes over the organization
 * when the row's `claims` moved since this statement's snapshot (a claim committed
 * that the running count below cannot see). Among this claim's own candidates, an
 * organization gets only its free slots, oldest first. Jobs of an organization at
 * its cap are filtered out during the index walk, so the jobs behind them are reached.
 *
 * Each claimed job is stamped with its type's maximum runtime.
 */
export async function claimJobs(
  db: Queryable,
  workerId: string,
  limit: number,
  leaseSeconds: number,
  types: string[],
  limits: JobLimits = DEFAULT_JOB_LIMITS,
): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `WITH candidate AS (
       SELECT j.id, j.locked_resource, j.organization_id, j.run_at, org.free_slots
       FROM jobs j
       LEFT JOIN LATERAL (
         SELECT $6::int - (SELECT count(*) FROM jobs r WHERE r.state = 'running' AND r.organization_id = held.organization_id)::int AS free_slots
         FROM (
           SELECT o.organization_id, o.claims FROM job_organization_claims o
           WHERE o.organization_id = j.organization_id
           FOR UPDATE SKIP LOCKED
         ) held
         -- held.claims is the row's latest version (row locking reads past the snapshot); s.claims the snapshot's
         WHERE held.claims = (SELECT s.claims FROM job_organization_claims s WHERE s.organization_id = held.organization_id)
       ) org ON j.organization_id IS NOT NULL
       WHERE j.state = 'pending' AND j.run_at <= now() AND j.type = ANY($4::text[])
         AND (j.organization_id IS NULL OR org.free_slots > 0)
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
     ), allowed AS (
       SELECT id, locked_resource, organization_id FROM (
         SELECT c.*, row_number() OVER (PARTITION BY c.organization_id ORDER BY c.run_at, c.id) AS nth FROM candidate c
       ) ranked
       WHERE organization_id IS NULL OR nth <= free_slots
     ), locks AS (
       UPDATE job_resource_locks l
       SET job_id = c.id, locked_until = now() + make_interval(secs => $3)
       FROM allowed c WHERE l.resource = c.locked_resource
     ), organization_claims AS (
       UPDATE job_organization_claims o SET claims = o.claims + 1
       WHERE o.organization_id IN (SELECT organization_id FROM allowed)
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
       max_runtime_seconds = ($5::int[])[array_position($4::text[], jobs.type)],
       updated_at = now()
     FROM allowed
     WHERE jobs.id = allowed.id
     RETURNING jobs.*`,
    [workerId, limit, leaseSeconds, types, types.map((t) => maxRuntimeFor(limits, t)), limits.maxRunningPerOrganization],
  );
  return rows;
}
