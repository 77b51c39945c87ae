-- Bounded work per job and per organization (see platform/jobs/limits.ts).
--
-- A job's runtime is summed over its attempts (a dead worker's attempt counted until it
-- is rescued), so a job whose worker keeps dying, or that keeps being retried, still
-- meets its maximum runtime; the claiming worker stamps the limit of the job's type.
ALTER TABLE jobs ADD COLUMN max_runtime_seconds integer;
ALTER TABLE jobs ADD COLUMN run_seconds double precision NOT NULL DEFAULT 0;

-- One row per organization with jobs: a claim takes jobs of an organization only while
-- holding its row (FOR UPDATE SKIP LOCKED), so concurrent claims in several processes
-- take turns, and bumps `claims`, so a claim whose snapshot predates another's commit
-- sees the row moved and leaves that organization to its next round (it would count
-- the organization's running jobs without the other claim's).
CREATE TABLE job_organization_claims (
  organization_id text PRIMARY KEY,
  claims bigint NOT NULL DEFAULT 0
);
INSERT INTO job_organization_claims (organization_id)
SELECT DISTINCT organization_id FROM jobs WHERE organization_id IS NOT NULL AND state IN ('pending', 'running');
-- Made by a trigger rather than by enqueueJob, so a job inserted by any writer (a server
-- of the previous version during a rolling deploy, say) has its row: without one, no
-- claim would ever take the job.
CREATE FUNCTION job_organization_claims_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_organization_claims (organization_id) VALUES (NEW.organization_id) ON CONFLICT (organization_id) DO NOTHING;
  RETURN NULL;
END
$$;
CREATE TRIGGER jobs_organization_claims_row AFTER INSERT ON jobs
FOR EACH ROW WHEN (NEW.organization_id IS NOT NULL) EXECUTE FUNCTION job_organization_claims_row();

-- The claim counts each candidate organization's running jobs.
CREATE INDEX jobs_running_org_idx ON jobs (organization_id) WHERE state = 'running';
