-- Cutover modes (issue #19): "data" swaps the preview's data in as production (as before);
-- "schema" keeps production's data and applies the reviewed schema diff to it.
ALTER TABLE cutover_requests
  ADD COLUMN mode text NOT NULL DEFAULT 'data' CHECK (mode IN ('data', 'schema')),
  ADD COLUMN schema_applied jsonb;
