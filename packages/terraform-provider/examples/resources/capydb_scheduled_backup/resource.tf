resource "capydb_project" "app" {
  name = "app"
}

# A backup every day at 03:15 UTC, kept two weeks; each one is verified by a restore.
resource "capydb_scheduled_backup" "nightly" {
  project_id     = capydb_project.app.id
  cron_hour      = 3
  cron_minute    = 15
  retention_days = 14
}
