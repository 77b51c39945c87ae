-- A preview's latest schema diff against production (issue #17): the DDL that would turn
-- production's schema into the preview's, each statement with its risk.
CREATE TABLE schema_diffs (
  preview_database_id text PRIMARY KEY REFERENCES preview_databases(id),
  project_id text NOT NULL,
  job_id text NOT NULL,
  statements jsonb NOT NULL,
  summary jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
