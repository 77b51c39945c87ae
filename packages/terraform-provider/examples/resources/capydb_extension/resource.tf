resource "capydb_project" "app" {
  name = "app"
}

resource "capydb_extension" "pgcrypto" {
  project_id = capydb_project.app.id
  name       = "pgcrypto"
}

resource "capydb_extension" "pg_trgm" {
  project_id = capydb_project.app.id
  name       = "pg_trgm"

  timeouts {
    create = "15m"
    delete = "15m"
  }
}
