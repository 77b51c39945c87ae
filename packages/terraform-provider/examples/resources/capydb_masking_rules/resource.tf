resource "capydb_project" "app" {
  name = "app"
}

# How personal data is rewritten in the copies previews are made from. The tables must exist
# in the project's database when the rules are applied.
resource "capydb_masking_rules" "app" {
  project_id = capydb_project.app.id
  rules = [
    { table = "users", column = "email", strategy = "email" },
    { table = "users", column = "full_name", strategy = "name" },
    { table = "public.users", column = "born_on", strategy = "date_shift", days = 30 },
    { table = "billing.accounts", column = "plan", strategy = "constant", value = "free" },
  ]
  require_coverage = true
}
