-- Restores and imports on the instance engine build the new data in an instance of their own
-- and swap its data directory with production's. The build instance records the job that made
-- it and the directory it was made in, so a retried job knows whether the swap happened.
ALTER TABLE instances DROP CONSTRAINT instances_purpose_check;
ALTER TABLE instances ADD CONSTRAINT instances_purpose_check CHECK (purpose IN ('production', 'preview', 'build'));
ALTER TABLE instances ADD COLUMN built_by_job_id text;
ALTER TABLE instances ADD COLUMN built_dir text;
CREATE INDEX instances_built_by_job_idx ON instances (built_by_job_id) WHERE built_by_job_id IS NOT NULL;
