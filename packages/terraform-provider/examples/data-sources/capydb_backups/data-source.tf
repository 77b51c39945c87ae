data "capydb_backups" "app" {
  project_id = "prj_abc123"
}

# The newest backup that a restore has verified (the list is newest first), or null.
output "latest_verified_backup" {
  value = try([for b in data.capydb_backups.app.backups : b.id if b.verification_state == "verified"][0], null)
}
