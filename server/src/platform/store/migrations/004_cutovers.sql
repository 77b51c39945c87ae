-- Operator-assisted cutovers: a tested preview promoted to production, with a rollback window.

CREATE TABLE cutover_requests (
  id text PRIMARY KEY,
  organization_id text NOT NULL REFERENCES organizations(id),
  project_id text NOT NULL REFERENCES projects(id),
  preview_database_id text NOT NULL REFERENCES preview_databases(id),
  status text NOT NULL CHECK (status IN ('open', 'acknowledged', 'rejected', 'canceled', 'in_progress', 'completed', 'failed', 'rolled_back')),
  customer_note text,
  operator_note text,
  external_ticket_ref text,
  rejected_reason text,
  failure_reason text,
  requested_by_actor_kind text NOT NULL CHECK (requested_by_actor_kind IN ('api_key', 'user')),
  requested_by_actor_id text NOT NULL,
  ack_at timestamptz,
  ack_by_user_id text,
  pre_cutover_backup_id text,
  promote_job_id text,
  completed_at timestamptz,
  -- the production database as it was before the swap, kept for the rollback window
  previous_database_name text,
  rollback_until timestamptz,
  previous_dropped_at timestamptz,
  rolled_back_at timestamptz,
  rollback_job_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- At most one request in flight per project.
CREATE UNIQUE INDEX cutover_requests_active_uniq ON cutover_requests (project_id) WHERE status IN ('open', 'acknowledged', 'in_progress');
CREATE INDEX cutover_requests_project_idx ON cutover_requests (project_id, created_at DESC);
CREATE INDEX cutover_requests_status_idx ON cutover_requests (status, created_at DESC);
