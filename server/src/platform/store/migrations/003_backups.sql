-- Backups (pg_dump -Fc in the blob store, verified by restoring) and daily schedules.

CREATE TABLE backups (
  id text PRIMARY KEY,
  project_id text NOT NULL REFERENCES projects(id),
  organization_id text NOT NULL REFERENCES organizations(id),
  label text,
  state text NOT NULL CHECK (state IN ('pending', 'running', 'completed', 'failed')),
  database_name text NOT NULL,
  backup_key text,
  size_bytes bigint,
  sha256 text,
  -- exact per-table row counts taken in the MVCC snapshot the dump was taken from
  row_counts jsonb,
  -- the instant of that snapshot: the point in time the backup holds
  snapshot_at timestamptz,
  verification_state text NOT NULL DEFAULT 'pending' CHECK (verification_state IN ('pending', 'verified', 'failed')),
  verification_error text,
  verified_at timestamptz,
  error text,
  -- kept whatever the retention (a cutover's pre-cutover backup)
  pinned boolean NOT NULL DEFAULT false,
  scheduled_backup_id text,
  -- the job that made it (a restore's safety backup is found again by this on retry)
  created_by_job_id text,
  completed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX backups_project_idx ON backups (project_id, created_at DESC);

CREATE TABLE scheduled_backups (
  id text PRIMARY KEY,
  project_id text NOT NULL REFERENCES projects(id),
  organization_id text NOT NULL REFERENCES organizations(id),
  name text NOT NULL DEFAULT 'default',
  label text,
  cron_hour integer NOT NULL CHECK (cron_hour BETWEEN 0 AND 23),
  cron_minute integer NOT NULL CHECK (cron_minute BETWEEN 0 AND 59),
  is_active boolean NOT NULL,
  retention_days integer NOT NULL CHECK (retention_days BETWEEN 1 AND 365),
  -- slots before this instant are not due (the schedule did not exist or was off)
  effective_from timestamptz NOT NULL DEFAULT now(),
  -- the due slot last enqueued: at most one backup per slot, whatever the number of servers
  last_slot timestamptz,
  last_run_at timestamptz,
  last_job_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, name)
);
