resource "capydb_project" "app" {
  name = "app"
}

# The pull request and main-branch workflows of acme/app may manage the project's previews
# with their GitHub Actions ID token, but not run cutovers.
resource "capydb_trust_policy" "ci" {
  project_id = capydb_project.app.id
  repository = "acme/app"
  refs       = ["refs/pull/*/merge", "refs/heads/main"]
  events     = ["pull_request", "push"]
  commands   = ["create", "reset", "delete", "extend", "check"]
}
