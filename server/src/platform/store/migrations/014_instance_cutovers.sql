-- Cutovers on the instance engine swap data directories between production's instance and
-- the preview's. The directories are recorded so a retried job knows whether a swap happened.
ALTER TABLE cutover_requests ADD COLUMN candidate_dir text;
ALTER TABLE cutover_requests ADD COLUMN previous_instance_cluster_id text;
ALTER TABLE cutover_requests ADD COLUMN previous_dir text;
-- An instance holding data kept for a rollback is not started again after a reboot.
ALTER TABLE instances ADD COLUMN keep_stopped boolean NOT NULL DEFAULT false;
