-- Control-plane schema: tenants, keys, clusters, projects and the job queue.

CREATE TABLE organizations (
  id text PRIMARY KEY,
  name text NOT NULL,
  clerk_organization_id text UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id text PRIMARY KEY,
  clerk_user_id text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE clusters (
  id text PRIMARY KEY,
  name text NOT NULL UNIQUE,
  region text NOT NULL,
  admin_url_sealed text NOT NULL,
  public_host text NOT NULL,
  direct_port integer NOT NULL,
  pooled_port integer NOT NULL DEFAULT 0,
  ssl_mode text NOT NULL DEFAULT 'disable',
  pooler jsonb,
  is_default boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projects (
  id text PRIMARY KEY,
  organization_id text NOT NULL REFERENCES organizations(id),
  name text NOT NULL,
  slug text NOT NULL,
  state text NOT NULL CHECK (state IN ('provisioning', 'ready', 'failed', 'deleting', 'deleted')),
  region text NOT NULL,
  plan text NOT NULL,
  environment text NOT NULL,
  cluster_id text NOT NULL REFERENCES clusters(id),
  database_name text NOT NULL,
  role_name text NOT NULL,
  role_password_sealed text NOT NULL,
  max_connections integer NOT NULL,
  statement_timeout text NOT NULL,
  idle_transaction_timeout text NOT NULL,
  storage_limit_bytes bigint NOT NULL,
  latest_job_id text,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
CREATE INDEX projects_org_idx ON projects (organization_id, created_at DESC);
-- Names of live databases and roles are unique per cluster.
CREATE UNIQUE INDEX projects_database_uniq ON projects (cluster_id, database_name) WHERE state <> 'deleted';

CREATE TABLE api_keys (
  id text PRIMARY KEY,
  name text NOT NULL,
  prefix text NOT NULL,
  secret_hash text NOT NULL UNIQUE,
  is_platform_admin boolean NOT NULL DEFAULT false,
  organization_id text REFERENCES organizations(id),
  project_id text REFERENCES projects(id),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz,
  CHECK (is_platform_admin OR organization_id IS NOT NULL)
);
CREATE INDEX api_keys_org_idx ON api_keys (organization_id, created_at DESC);

-- The job queue. One row per long operation; the API's Job object is this row.
CREATE TABLE jobs (
  id text PRIMARY KEY,
  type text NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'canceled')),
  payload jsonb NOT NULL DEFAULT '{}',
  organization_id text,
  project_id text,
  preview_database_id text,
  cluster_id text,
  locked_resource text,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 5,
  run_at timestamptz NOT NULL DEFAULT now(),
  lease_token uuid,
  lease_expires_at timestamptz,
  retry_classification text,
  error text,
  last_exit_code integer,
  last_stdout text,
  last_stderr text,
  claimed_by text,
  claimed_at timestamptz,
  started_at timestamptz,
  completed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- The claim query walks this index: pending jobs in run order.
CREATE INDEX jobs_pending_idx ON jobs (run_at, id) WHERE state = 'pending';
-- Lease rescue looks at running jobs only.
CREATE INDEX jobs_running_lease_idx ON jobs (lease_expires_at) WHERE state = 'running';
-- "Is there an older pending job on this resource?" for per-resource FIFO.
CREATE INDEX jobs_resource_pending_idx ON jobs (locked_resource, run_at, id) WHERE state = 'pending' AND locked_resource IS NOT NULL;
CREATE INDEX jobs_project_idx ON jobs (project_id, created_at DESC);

-- One row per locked_resource: held by the job running on it, so two jobs on one
-- resource never overlap (the pattern of graphile-worker's job_queues).
CREATE TABLE job_resource_locks (
  resource text PRIMARY KEY,
  job_id text,
  locked_until timestamptz
);
