-- Writes since a preview's origin (and since a cutover, for its rollback) are counted
-- incrementally: a counter slot (a copy of the slot) is read a chunk at a time and advanced,
-- and what it counted is kept here with the position it reached, so no read decodes again what
-- an earlier one counted. Keyed by the slot and where it starts (a slot name used again for a
-- new start counts from nothing).
CREATE TABLE slot_counts (
  project_id text NOT NULL,
  slot text NOT NULL,
  since text NOT NULL,
  through_lsn pg_lsn,
  tables jsonb NOT NULL DEFAULT '[]',
  counted_at timestamptz,
  PRIMARY KEY (project_id, slot, since)
);
