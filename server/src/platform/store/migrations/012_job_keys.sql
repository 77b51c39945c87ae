-- De-duplication inside the queue (graphile-worker's job_key): at most one pending job
-- per key. Enqueueing a job whose key a pending job holds answers that job instead.
ALTER TABLE jobs ADD COLUMN job_key text;
CREATE UNIQUE INDEX jobs_pending_key_idx ON jobs (job_key) WHERE state = 'pending' AND job_key IS NOT NULL;
