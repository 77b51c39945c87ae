import type { Queryable } from "../../store/db.js";

export interface CompletionInput {
  jobId: string;
  leaseToken: string;
}

/**
 * Marks jobs succeeded and frees their resources, each only if this worker still
 * holds its lease: a job rescued after a lost lease and finished elsewhere is not
 * completed twice. Takes many jobs at once so a busy worker writes one statement
 * (and one commit) for all the jobs that finished together. Returns the ids
 * completed; a missing id means that job's lease was lost.
 */
export async function completeJobs(db: Queryable, jobs: CompletionInput[]): Promise<Set<string>> {
  if (jobs.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    `WITH done AS (
       UPDATE jobs SET state = 'succeeded', completed_at = now(), updated_at = now(),
         lease_token = NULL, lease_expires_at = NULL, error = NULL, retry_classification = NULL,
         run_seconds = run_seconds + greatest(0, extract(epoch FROM now() - claimed_at)::float8)
       FROM unnest($1::text[], $2::uuid[]) AS c(id, lease_token)
       WHERE jobs.id = c.id AND jobs.lease_token = c.lease_token AND jobs.state = 'running'
       RETURNING jobs.id, jobs.locked_resource
     ), unlocked AS (
       UPDATE job_resource_locks l SET job_id = NULL, locked_until = NULL
       FROM done WHERE l.resource = done.locked_resource AND l.job_id = done.id
     )
     SELECT id FROM done`,
    [jobs.map((j) => j.jobId), jobs.map((j) => j.leaseToken)],
  );
  return new Set(rows.map((r) => r.id));
}
