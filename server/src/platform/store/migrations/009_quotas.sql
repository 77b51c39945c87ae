-- Ceilings are the operator's: an organization's own ceilings (set by a platform admin,
-- over its plans' from CAPYDB_PLANS), and the connection limit each preview's role gets,
-- so the slots promised on a cluster can be added up.

CREATE TABLE organization_quotas (
  organization_id text PRIMARY KEY REFERENCES organizations(id),
  -- a subset of the Quotas fields of the API
  overrides jsonb NOT NULL DEFAULT '{}',
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- NULL on previews made before: their role got the project's max_connections.
ALTER TABLE preview_databases ADD COLUMN max_connections integer CHECK (max_connections > 0);

-- Admission control adds up the connection limits of the live roles of a cluster.
CREATE INDEX projects_cluster_live_idx ON projects (cluster_id) WHERE state IN ('provisioning', 'ready', 'deleting');
CREATE INDEX preview_databases_cluster_live_idx ON preview_databases (cluster_id) WHERE state IN ('creating', 'ready', 'resetting', 'deleting');
