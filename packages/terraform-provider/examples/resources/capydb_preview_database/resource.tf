resource "capydb_project" "app" {
  name = "app"
}

# A copy of the project's database for pull request 42, deleted by the server after a day.
resource "capydb_preview_database" "pr_42" {
  project_id  = capydb_project.app.id
  name        = "pr-42"
  mode        = "full"
  ttl_seconds = 86400
}

# An empty database with the project's settings, for a test run.
resource "capydb_preview_database" "scratch" {
  project_id  = capydb_project.app.id
  source_kind = "empty"
  ttl_seconds = 3600
}

output "preview_url" {
  value     = capydb_preview_database.pr_42.connection_uri
  sensitive = true
}
