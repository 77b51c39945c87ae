-- Masked previews (issue #16). A project's masking rules, with the per-project key every
-- strategy hashes with (sealed by the server key) and a version that changes with the rules:
-- a masked snapshot made under another version is not used again.
CREATE TABLE masking_rules (
  project_id text PRIMARY KEY REFERENCES projects(id),
  rules jsonb NOT NULL DEFAULT '[]',
  require_coverage boolean NOT NULL DEFAULT false,
  version integer NOT NULL DEFAULT 1,
  key_sealed text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The project's masked snapshot: a copy of its snapshot (generation base_generation) with
-- the rules of rules_version applied and checked against production at verified_at.
CREATE TABLE masked_snapshots (
  project_id text PRIMARY KEY REFERENCES projects(id),
  snapshot_name text NOT NULL,
  base_generation integer NOT NULL,
  rules_version integer NOT NULL,
  masked_columns integer NOT NULL,
  verified_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE preview_databases ADD COLUMN masked boolean NOT NULL DEFAULT false;
ALTER TABLE preview_databases ADD COLUMN masking_verified_at timestamptz;
