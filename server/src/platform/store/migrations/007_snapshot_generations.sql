-- Snapshot generations come from one sequence instead of "the previous one + 1", so a
-- project whose snapshot row was deleted (idle, restored, imported, cut over) never
-- reuses a generation: a spare cloned from the old snapshot can never pass for one of
-- the new snapshot.
CREATE SEQUENCE snapshot_generations AS integer;
SELECT setval('snapshot_generations', coalesce((SELECT max(generation) FROM project_snapshots), 0) + 1, false);
