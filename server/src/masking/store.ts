// The masking tables: a project's rules (masking_rules) and its masked snapshot
// (masked_snapshots). One writer for both.
import type { MaskingRule } from "@capydb/api";
import type { Queryable } from "../platform/store/db.js";

export interface MaskingRulesRow {
  project_id: string;
  rules: MaskingRule[];
  require_coverage: boolean;
  version: number;
  key_sealed: string;
  updated_at: Date;
}

export async function loadMaskingRules(db: Queryable, projectId: string): Promise<MaskingRulesRow | null> {
  return (await db.query<MaskingRulesRow>("SELECT * FROM masking_rules WHERE project_id = $1", [projectId])).rows[0] ?? null;
}

/** Sets the rules (the key is made on the first call and kept after: outputs stay stable across rule changes); the version moves on. */
export async function saveMaskingRules(
  db: Queryable,
  projectId: string,
  rules: MaskingRule[],
  requireCoverage: boolean,
  newKeySealed: string,
): Promise<MaskingRulesRow> {
  const { rows } = await db.query<MaskingRulesRow>(
    `INSERT INTO masking_rules (project_id, rules, require_coverage, key_sealed) VALUES ($1, $2::jsonb, $3, $4)
     ON CONFLICT (project_id) DO UPDATE SET rules = EXCLUDED.rules, require_coverage = EXCLUDED.require_coverage,
       version = masking_rules.version + 1, updated_at = now()
     RETURNING *`,
    [projectId, JSON.stringify(rules), requireCoverage, newKeySealed],
  );
  return rows[0];
}

export interface MaskedSnapshotRow {
  project_id: string;
  snapshot_name: string;
  base_generation: number;
  rules_version: number;
  masked_columns: number;
  verified_at: Date;
}

export async function loadMaskedSnapshot(db: Queryable, projectId: string): Promise<MaskedSnapshotRow | null> {
  return (await db.query<MaskedSnapshotRow>("SELECT * FROM masked_snapshots WHERE project_id = $1", [projectId])).rows[0] ?? null;
}

export async function recordMaskedSnapshot(db: Queryable, row: MaskedSnapshotRow): Promise<void> {
  await db.query(
    `INSERT INTO masked_snapshots (project_id, snapshot_name, base_generation, rules_version, masked_columns, verified_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (project_id) DO UPDATE SET snapshot_name = EXCLUDED.snapshot_name, base_generation = EXCLUDED.base_generation,
       rules_version = EXCLUDED.rules_version, masked_columns = EXCLUDED.masked_columns, verified_at = EXCLUDED.verified_at, created_at = now()`,
    [row.project_id, row.snapshot_name, row.base_generation, row.rules_version, row.masked_columns, row.verified_at],
  );
}

/** Forgets the project's masked snapshot, answering its name (to remove). */
export async function deleteMaskedSnapshot(db: Queryable, projectId: string): Promise<string | null> {
  const { rows } = await db.query<{ snapshot_name: string }>("DELETE FROM masked_snapshots WHERE project_id = $1 RETURNING snapshot_name", [projectId]);
  return rows[0]?.snapshot_name ?? null;
}
