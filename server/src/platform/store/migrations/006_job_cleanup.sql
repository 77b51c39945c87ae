-- A job whose worker died on its last attempt is not failed on the spot: it goes back
-- to the queue once more with cleanup_only set, so a worker runs its handler's cleanup
-- (drop the half-made database, delete the partial blob) and then fails it.
ALTER TABLE jobs ADD COLUMN cleanup_only boolean NOT NULL DEFAULT false;
