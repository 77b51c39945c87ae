resource "capydb_project" "app" {
  name              = "app"
  environment       = "production"
  plan              = "pro"
  max_connections   = 200
  statement_timeout = "30s"

  timeouts {
    create = "30m"
  }
}

# The URIs and the password are sensitive: Terraform shows them only when asked.
output "database_url" {
  value     = capydb_project.app.connection_uri
  sensitive = true
}

output "pooled_database_url" {
  value     = capydb_project.app.pooled_connection_uri
  sensitive = true
}
