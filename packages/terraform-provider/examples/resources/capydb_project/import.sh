# A project is imported by its id, prj_... (as listed by GET /v1/projects).
terraform import capydb_project.app prj_abc123
