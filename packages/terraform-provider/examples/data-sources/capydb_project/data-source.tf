# A project managed elsewhere, looked up by its id.
data "capydb_project" "shared" {
  id = "prj_abc123"
}

output "shared_host" {
  value = "${data.capydb_project.shared.public_host}:${data.capydb_project.shared.direct_port}"
}

output "shared_database_url" {
  value     = data.capydb_project.shared.connection_uri
  sensitive = true
}
