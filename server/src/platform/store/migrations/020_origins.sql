-- Writes since the origin (issue #19, first slice): on the instance engine each snapshot of a
-- project is recovered to exactly the consistent point of a logical replication slot made on
-- production at that moment; previews cloned from it keep the slot's name, so production's
-- writes since the preview's data are known exactly. A cutover request freezes the count when
-- it is executed.
ALTER TABLE project_snapshots ADD COLUMN origin_slot text, ADD COLUMN origin_lsn pg_lsn, ADD COLUMN origin_error text;
ALTER TABLE preview_databases ADD COLUMN origin_slot text, ADD COLUMN origin_lsn pg_lsn, ADD COLUMN origin_error text;
ALTER TABLE cutover_requests ADD COLUMN writes_since_origin jsonb;
