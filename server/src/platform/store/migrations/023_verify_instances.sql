-- A backup of a project on the instance engine is verified in a throwaway instance of its own
-- (from the template), not in a scratch database on production's instance: the restore's WAL
-- then never passes through production (where its origin slots would have to decode it and
-- hold it back). The verify instance records the job that made it, so a retry removes it.
ALTER TABLE instances DROP CONSTRAINT instances_purpose_check;
ALTER TABLE instances ADD CONSTRAINT instances_purpose_check CHECK (purpose IN ('production', 'preview', 'build', 'verify'));
