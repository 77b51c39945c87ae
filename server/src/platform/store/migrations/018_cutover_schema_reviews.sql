-- The schema evidence on a cutover request (issue #17): the preview's diff against production
-- when the request was opened and again when it was executed, with a fingerprint of
-- production's schema each time (so the request can say whether production moved in between).
CREATE TABLE cutover_schema_reviews (
  cutover_id text NOT NULL REFERENCES cutover_requests(id) ON DELETE CASCADE,
  phase text NOT NULL CHECK (phase IN ('opened', 'executed')),
  state text NOT NULL CHECK (state IN ('pending', 'ready', 'failed')),
  job_id text NOT NULL,
  statements jsonb NOT NULL DEFAULT '[]',
  summary jsonb NOT NULL DEFAULT '{"safe": 0, "risky": 0, "destructive": 0}',
  -- pg_dump --schema-only of production, read as the project's role, and its sha256
  production_schema text,
  production_schema_sha256 text,
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (cutover_id, phase)
);
