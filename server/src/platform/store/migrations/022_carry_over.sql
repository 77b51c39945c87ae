-- Data cutovers carry production's writes since the preview's origin into the preview before
-- the swap (issue #19). carry_over holds where that stands (what was applied, the pause);
-- accept_write_loss records that the operator executed knowing some tables cannot be carried.
ALTER TABLE cutover_requests
  ADD COLUMN accept_write_loss boolean NOT NULL DEFAULT false,
  ADD COLUMN carry_over jsonb;
