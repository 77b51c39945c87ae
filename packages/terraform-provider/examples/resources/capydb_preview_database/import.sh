# A preview database is imported by its id, pdb_... (as listed by GET /v1/projects/{projectID}/preview-databases).
terraform import capydb_preview_database.pr_42 pdb_def456
