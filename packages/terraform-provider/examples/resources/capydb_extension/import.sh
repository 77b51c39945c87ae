# An extension is imported as "<project_id>/<extension name>".
terraform import capydb_extension.pgcrypto prj_abc123/pgcrypto
