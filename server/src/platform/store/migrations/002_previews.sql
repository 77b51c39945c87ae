-- Preview databases and the per-project snapshot databases they are cloned from.

CREATE TABLE preview_databases (
  id text PRIMARY KEY,
  project_id text NOT NULL REFERENCES projects(id),
  organization_id text NOT NULL REFERENCES organizations(id),
  name text NOT NULL,
  state text NOT NULL CHECK (state IN ('creating', 'ready', 'resetting', 'failed', 'deleting', 'deleted', 'promoted')),
  mode text NOT NULL CHECK (mode IN ('full', 'schema_only')),
  source_kind text NOT NULL CHECK (source_kind IN ('project', 'backup', 'empty')),
  source_backup_id text,
  source_backup_key text,
  source_database text,
  source_restore_time timestamptz,
  cluster_id text NOT NULL REFERENCES clusters(id),
  database_name text NOT NULL,
  role_name text NOT NULL,
  role_password_sealed text NOT NULL,
  ttl_seconds integer NOT NULL,
  ttl_expires_at timestamptz NOT NULL,
  latest_job_id text,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
-- A name is unique among a project's live previews; deleted ones free it.
CREATE UNIQUE INDEX preview_databases_live_name_uniq ON preview_databases (project_id, name) WHERE state NOT IN ('deleted', 'promoted');
CREATE UNIQUE INDEX preview_databases_database_uniq ON preview_databases (cluster_id, database_name) WHERE state <> 'deleted';
CREATE INDEX preview_databases_project_idx ON preview_databases (project_id, created_at DESC);
-- The scheduler's expiry sweep.
CREATE INDEX preview_databases_expiry_idx ON preview_databases (ttl_expires_at) WHERE state IN ('creating', 'ready', 'resetting', 'failed');

-- The current snapshot of a project's data: a database nobody connects to
-- (datallowconn = false), so CREATE DATABASE ... TEMPLATE can clone it at any time.
CREATE TABLE project_snapshots (
  project_id text PRIMARY KEY REFERENCES projects(id),
  cluster_id text NOT NULL REFERENCES clusters(id),
  database_name text NOT NULL,
  generation integer NOT NULL,
  -- the instant of the MVCC snapshot the data was dumped in
  taken_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
