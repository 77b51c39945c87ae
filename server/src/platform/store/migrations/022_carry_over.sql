-- Data cutovers carry production's writes since the preview's origin into the preview before
-- the swap (issue #19). carry_over holds where that stands (what was applied, the pause);
-- accept_write_loss records that the operator executed knowing some tables cannot be carried.
ALTER TABLE cutover_requests
  ADD COLUMN accept_write_loss boolean NOT NULL DEFAULT false,
  ADD COLUMN carry_over jsonb;
-- A completed data cutover keeps a slot on the new production from the swap on, so a rollback
-- carries its writes back into the previous data: carry_back holds the slot's name (or why
-- there is none) and the previous data's tables as they were; the rollback's own carry-over
-- and the operator's acceptance of what it cannot carry are recorded beside.
ALTER TABLE cutover_requests
  ADD COLUMN carry_back jsonb,
  ADD COLUMN rollback_carry_over jsonb,
  ADD COLUMN rollback_accept_write_loss boolean NOT NULL DEFAULT false;
