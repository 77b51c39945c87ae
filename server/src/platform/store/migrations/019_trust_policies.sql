-- GitHub Actions OIDC (issue #18): trust policies say which workflows of which repository may
-- act on a project, and with which commands; a workflow exchanges GitHub's ID token for a
-- short-lived access token, of which only the hash is kept.
CREATE TABLE trust_policies (
  id text PRIMARY KEY,
  organization_id text NOT NULL REFERENCES organizations(id),
  project_id text NOT NULL REFERENCES projects(id),
  provider text NOT NULL CHECK (provider IN ('github')),
  -- owner/repo as given; matched without regard to case, as GitHub does
  repository text NOT NULL,
  -- GitHub's id of the repository: pinned at creation when given, else by the first token
  -- exchanged, so a repository deleted and recreated under the same name is not trusted
  repository_id text,
  -- null: any ref / environment / event
  refs text[],
  environments text[],
  events text[],
  commands text[] NOT NULL,
  allow_forks boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- deleted policies stay as the record of what issued the tokens they revoked
  deleted_at timestamptz
);
CREATE INDEX trust_policies_project_idx ON trust_policies (project_id, created_at) WHERE deleted_at IS NULL;

CREATE TABLE oidc_access_tokens (
  id text PRIMARY KEY,
  secret_hash text NOT NULL UNIQUE,
  trust_policy_id text NOT NULL REFERENCES trust_policies(id),
  organization_id text NOT NULL REFERENCES organizations(id),
  project_id text NOT NULL REFERENCES projects(id),
  -- who is acting: owner/repo#<run id>, and the pull request and commit of the run where known
  actor_id text NOT NULL,
  pr_number integer,
  sha text,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oidc_access_tokens_policy_idx ON oidc_access_tokens (trust_policy_id) WHERE revoked_at IS NULL;
CREATE INDEX oidc_access_tokens_expiry_idx ON oidc_access_tokens (expires_at);

-- Who asked for a job or a preview: null for the platform's own work and for rows made before.
ALTER TABLE jobs
  ADD COLUMN requested_by_actor_kind text CHECK (requested_by_actor_kind IN ('api_key', 'user', 'github_actions')),
  ADD COLUMN requested_by_actor_id text,
  ADD COLUMN requested_by_pr_number integer,
  ADD COLUMN requested_by_sha text;
ALTER TABLE preview_databases
  ADD COLUMN requested_by_actor_kind text CHECK (requested_by_actor_kind IN ('api_key', 'user', 'github_actions')),
  ADD COLUMN requested_by_actor_id text,
  ADD COLUMN requested_by_pr_number integer,
  ADD COLUMN requested_by_sha text;

ALTER TABLE cutover_requests DROP CONSTRAINT cutover_requests_requested_by_actor_kind_check;
ALTER TABLE cutover_requests ADD CONSTRAINT cutover_requests_requested_by_actor_kind_check
  CHECK (requested_by_actor_kind IN ('api_key', 'user', 'github_actions'));
