# A trust policy is imported by its id, tp_... ("<project_id>/<trust_policy_id>" is accepted too).
terraform import capydb_trust_policy.ci tp_def456
