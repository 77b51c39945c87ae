-- A spare: a clone of the project's current snapshot made ahead of time, so the next
-- preview create or reset takes it by a rename instead of copying the data while the
-- user waits. Nobody can connect to it (datallowconn = false, no grants) until it is
-- taken. It is valid only for the snapshot generation it was cloned from.
CREATE TABLE preview_spares (
  project_id text PRIMARY KEY REFERENCES projects(id),
  cluster_id text NOT NULL REFERENCES clusters(id),
  database_name text NOT NULL,
  generation integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- When a create or reset last cloned from the snapshot: snapshots in use are refreshed
-- in the background before they reach their maximum age, so no create waits for one.
ALTER TABLE project_snapshots ADD COLUMN last_used_at timestamptz NOT NULL DEFAULT now();
