-- Uploaded dumps: one row per signed upload URL, from the URL's creation until the
-- dump is gone. Each step of its state is one conditional UPDATE, so two PUTs racing
-- on one URL cannot both win and an import and the sweep cannot both take one upload:
--   open → receiving → stored → imported    (receiving → open again when a PUT is refused)
--   any state → expired: the sweep (or the project's deletion) took it and is removing
--   its dump; the row goes once the dump is gone.
CREATE TABLE uploads (
  object_key text PRIMARY KEY,
  project_id text NOT NULL REFERENCES projects(id),
  organization_id text NOT NULL REFERENCES organizations(id),
  state text NOT NULL CHECK (state IN ('open', 'receiving', 'stored', 'imported', 'expired')),
  -- the upload URL's expiry: no PUT is accepted after it
  expires_at timestamptz NOT NULL,
  -- when the sweep removes a dump no import took (one URL lifetime after expires_at,
  -- so a dump stored just before the URL expired can still be imported)
  remove_after timestamptz NOT NULL,
  size_bytes bigint,
  format text,
  -- the import that took the dump: it removes the dump when it succeeds or fails for good
  import_job_id text,
  -- set by that import once it removed the dump; the row stays until remove_after so the
  -- URL and the key keep answering "already used" / "already imported"
  dump_removed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- The sweep walks uploads in removal order.
CREATE INDEX uploads_sweep_idx ON uploads (remove_after);
-- A project's deletion takes its uploads.
CREATE INDEX uploads_project_idx ON uploads (project_id);

