-- Databases made from template1 since the platform took session visibility away from
-- PUBLIC there inherit it; databases of projects created before did not. The scheduler
-- takes it away in those (projects.sessions_hidden false) once each.
ALTER TABLE projects ADD COLUMN sessions_hidden boolean NOT NULL DEFAULT false;
ALTER TABLE projects ALTER COLUMN sessions_hidden SET DEFAULT true;
