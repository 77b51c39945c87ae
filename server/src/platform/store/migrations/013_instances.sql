-- The instance engine: a PostgreSQL instance of the platform's per project (production) and
-- per preview. Each instance is also a row of clusters (engine 'instance'), so everything that
-- reaches a database through its cluster (admin pools, tenant sessions, pg_dump) reaches it.
ALTER TABLE clusters ADD COLUMN engine text NOT NULL DEFAULT 'shared' CHECK (engine IN ('shared', 'instance'));

CREATE TABLE instances (
  cluster_id text PRIMARY KEY REFERENCES clusters(id),
  -- its data directory under the host's root (data/<name>)
  name text NOT NULL UNIQUE,
  -- the cluster whose host runs it: its PgBouncer routes the instance's databases
  host_cluster_id text NOT NULL REFERENCES clusters(id),
  project_id text NOT NULL,
  purpose text NOT NULL CHECK (purpose IN ('production', 'preview')),
  port integer NOT NULL,
  max_connections integer NOT NULL,
  shared_buffers_mb integer NOT NULL,
  state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'deleted')),
  created_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
CREATE UNIQUE INDEX instances_port_uniq ON instances (port) WHERE state = 'active';
CREATE INDEX instances_project_idx ON instances (project_id) WHERE state = 'active';

-- A project's snapshot on the instance engine is a stopped data directory (snapshots/<name>).
ALTER TABLE project_snapshots ADD COLUMN snapshot_dir text;
ALTER TABLE project_snapshots ADD COLUMN snapshot_lsn pg_lsn;
