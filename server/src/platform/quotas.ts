// Ceilings are the operator's. Each plan's ceilings come from CAPYDB_PLANS over the
// built-in ones below; a platform admin may give one organization its own (stored in
// organization_quotas, over every plan). Tenants set their projects' settings within
// them; a platform admin's settings are bound only by the cluster's capacity.
import fs from "node:fs";
import { PlanName, Quotas, pgDurationMs, type QuotaOverrides } from "@capydb/api";
import type { Queryable } from "./store/db.js";

export type PlanTable = Record<PlanName, Quotas>;

const GiB = 1024 ** 3;
const DAY = 24 * 3600;

/**
 * The plans without CAPYDB_PLANS. Connection limits are small on purpose: admission
 * control adds up every project's and preview's limit on a cluster, and the embedded
 * cluster has 300 slots (less the platform's), so a free project's 20 plus a few
 * previews at 5 leave room for a dozen tenants. Previews per project default to
 * CAPYDB_PREVIEW_LIMIT on every plan.
 */
export function builtInPlans(previewLimit: number): PlanTable {
  const common = { allow_no_timeout: true, previews_per_project: previewLimit };
  return {
    free: {
      ...common,
      max_connections: 20,
      default_max_connections: 20,
      preview_max_connections: 5,
      storage_limit_bytes: 10 * GiB,
      max_statement_timeout: "24h",
      max_idle_transaction_timeout: "24h",
      projects_per_organization: 10,
      manual_backups_per_project: 10,
      max_preview_lifetime_seconds: 30 * DAY,
    },
    pro: {
      ...common,
      max_connections: 100,
      default_max_connections: 50,
      preview_max_connections: 10,
      storage_limit_bytes: 100 * GiB,
      max_statement_timeout: "24h",
      max_idle_transaction_timeout: "24h",
      projects_per_organization: 100,
      manual_backups_per_project: 50,
      max_preview_lifetime_seconds: 90 * DAY,
    },
    enterprise: {
      ...common,
      max_connections: 500,
      default_max_connections: 100,
      preview_max_connections: 20,
      storage_limit_bytes: 1024 * GiB,
      max_statement_timeout: "7d",
      max_idle_transaction_timeout: "7d",
      projects_per_organization: 1000,
      manual_backups_per_project: 200,
      max_preview_lifetime_seconds: 365 * DAY,
    },
  };
}

export class PlanConfigError extends Error {}

/**
 * CAPYDB_PLANS: a JSON object (or the path of a file holding one) of plan name →
 * the ceilings to change, e.g. {"free":{"max_connections":10,"projects_per_organization":3}}.
 */
export function loadPlans(raw: string | null, previewLimit: number): PlanTable {
  const plans = builtInPlans(previewLimit);
  if (raw === null) return plans;
  let text = raw;
  if (!raw.trim().startsWith("{")) {
    try {
      text = fs.readFileSync(raw, "utf8");
    } catch (err) {
      throw new PlanConfigError(`CAPYDB_PLANS: cannot read the file ${raw} (${(err as Error).message}); give a JSON object or the path of a file holding one`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new PlanConfigError(`CAPYDB_PLANS: not valid JSON (${(err as Error).message})`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new PlanConfigError("CAPYDB_PLANS: must be a JSON object of plan name → ceilings");
  for (const [name, changes] of Object.entries(parsed)) {
    if (!PlanName.safeParse(name).success) throw new PlanConfigError(`CAPYDB_PLANS: unknown plan "${name}" (the plans are ${PlanName.options.join(", ")})`);
    const merged = Quotas.safeParse({ ...plans[name as PlanName], ...(changes as object) });
    if (!merged.success) {
      const issue = merged.error.issues[0];
      const field = issue.code === "unrecognized_keys" ? issue.keys.join(", ") : issue.path.join(".");
      throw new PlanConfigError(`CAPYDB_PLANS: ${name}.${field}: ${issue.code === "unrecognized_keys" ? "unknown ceiling" : issue.message}`);
    }
    plans[name as PlanName] = merged.data;
  }
  for (const [name, q] of Object.entries(plans)) {
    if (q.default_max_connections > q.max_connections) {
      throw new PlanConfigError(
        `CAPYDB_PLANS: ${name}.default_max_connections (${q.default_max_connections}) is above ${name}.max_connections (${q.max_connections})`,
      );
    }
  }
  return plans;
}

/** The ceilings in force for one project's plan in one organization, and where each came from. */
export interface Ceilings {
  plan: PlanName;
  quotas: Quotas;
  overridden: Set<keyof Quotas>;
}

export async function organizationOverrides(db: Queryable, organizationId: string): Promise<{ overrides: QuotaOverrides; updatedAt: Date | null }> {
  const { rows } = await db.query<{ overrides: QuotaOverrides; updated_at: Date }>(
    "SELECT overrides, updated_at FROM organization_quotas WHERE organization_id = $1",
    [organizationId],
  );
  return { overrides: rows[0]?.overrides ?? {}, updatedAt: rows[0]?.updated_at ?? null };
}

export function effectiveCeilings(plans: PlanTable, overrides: QuotaOverrides, plan: string): Ceilings {
  const name: PlanName = PlanName.safeParse(plan).success ? (plan as PlanName) : "free";
  const quotas = { ...plans[name], ...overrides };
  quotas.default_max_connections = Math.min(quotas.default_max_connections, quotas.max_connections);
  return { plan: name, quotas, overridden: new Set(Object.keys(overrides) as Array<keyof Quotas>) };
}

export async function ceilingsFor(db: Queryable, plans: PlanTable, organizationId: string, plan: string): Promise<Ceilings> {
  return effectiveCeilings(plans, (await organizationOverrides(db, organizationId)).overrides, plan);
}

/** "on plan free (set by the platform operator)", or "for this organization (...)" when an admin set it. */
export function whereSet(c: Ceilings, field: keyof Quotas): string {
  return `${c.overridden.has(field) ? "for this organization" : `on plan ${c.plan}`} (set by the platform operator)`;
}

export interface ProjectSettings {
  max_connections: number;
  statement_timeout: string;
  idle_transaction_timeout: string;
  storage_limit_bytes: number;
}

/** What a project created without a setting gets on its plan. */
export function defaultSettings(c: Ceilings): ProjectSettings {
  const q = c.quotas;
  return {
    max_connections: q.default_max_connections,
    statement_timeout: q.allow_no_timeout ? "0" : q.max_statement_timeout,
    idle_transaction_timeout: q.allow_no_timeout ? "0" : q.max_idle_transaction_timeout,
    storage_limit_bytes: q.storage_limit_bytes,
  };
}

/**
 * What a tenant asked for that its ceilings do not allow, one message per field
 * (empty: all within them). A value equal to the project's current one always passes,
 * so a tenant can resend what a platform admin set (infrastructure-as-code does).
 */
export function settingsOverCeilings(c: Ceilings, asked: Partial<ProjectSettings>, current?: ProjectSettings): string[] {
  const q = c.quotas;
  const problems: string[] = [];
  // undefined when the field is not asked for, or asked for unchanged
  const change = <K extends keyof ProjectSettings>(k: K): ProjectSettings[K] | undefined =>
    asked[k] !== undefined && asked[k] !== current?.[k] ? asked[k] : undefined;
  const connections = change("max_connections");
  if (connections !== undefined && connections > q.max_connections) {
    problems.push(`max_connections: at most ${q.max_connections} ${whereSet(c, "max_connections")}`);
  }
  const storage = change("storage_limit_bytes");
  if (storage !== undefined && storage > q.storage_limit_bytes) {
    problems.push(`storage_limit_bytes: at most ${q.storage_limit_bytes} ${whereSet(c, "storage_limit_bytes")}`);
  }
  for (const [field, ceiling] of [
    ["statement_timeout", "max_statement_timeout"],
    ["idle_transaction_timeout", "max_idle_transaction_timeout"],
  ] as const) {
    const value = change(field);
    if (value === undefined) continue;
    const ms = pgDurationMs(value);
    if (ms === 0 && !q.allow_no_timeout) {
      problems.push(`${field}: "0" (no timeout) is not allowed ${whereSet(c, "allow_no_timeout")}: at most ${q[ceiling]}`);
    } else if (ms > pgDurationMs(q[ceiling])) {
      problems.push(`${field}: at most ${q[ceiling]} ${whereSet(c, ceiling)}`);
    }
  }
  return problems;
}
