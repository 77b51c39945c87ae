// capydb_masking_rules: how a project's data is masked in its previews (PUT/GET
// .../masking-rules). A project has one set of rules: every change is a PUT of the whole set in
// place, and destroy clears it (PUT rules [] and require_coverage false). Import id: the project id.
//
// The server answers `table = "users"` as "public.users". The state keeps the form the
// configuration wrote as long as the server's rules mean the same thing, so that neither an apply
// nor the next refresh reports a difference that is only spelling.
import type { MaskingRule, MaskingRules } from "@capydb/api";
import { type ObjectValue, type Value, isUnknown } from "../cty/types.js";
import { DiagnosticError, errorDiagnostic } from "../framework/diagnostics.js";
import type { ProviderContext, Resource } from "../framework/resource.js";
import { type AttributeSpec, listNested } from "../schema/schema.js";
import type { DiagnosticMsg } from "../proto/messages.js";
import { api, bool, requireString } from "./common.js";
import { liveProject } from "./project.js";

/** The strategies that take an argument, and which: the others take none. */
const ARGUMENT_OF: Readonly<Record<string, "value" | "days">> = { constant: "value", date_shift: "days" };

const ruleAttributes: Record<string, AttributeSpec> = {
  table: { type: "string", required: true, description: 'The table, "name" (in schema public) or "schema.name".' },
  column: { type: "string", required: true, description: "The column to mask." },
  strategy: {
    type: "string",
    required: true,
    description:
      "email, name, phone, hash, redact, null, constant (every row gets `value`) or date_shift (dates move by a stable shift of 1 to `days` days, either way).",
  },
  value: { type: "string", optional: true, description: 'The value every row gets: required for strategy "constant", not allowed otherwise.' },
  days: { type: "number", optional: true, description: 'The largest shift in days, 1-36500: required for strategy "date_shift", not allowed otherwise.' },
};

const attributes: Record<string, AttributeSpec> = {
  id: { type: "string", computed: true, description: "The project id (a project has one set of masking rules)." },
  project_id: {
    type: "string",
    required: true,
    requiresReplace: true,
    description: "The project whose previews are masked. Changing it moves the rules to the new project.",
  },
  rules: {
    ...listNested(ruleAttributes),
    required: true,
    description: "The masking rules, one per column: table, column, strategy, and value or days for the strategies that take them. [] masks nothing.",
  },
  require_coverage: {
    type: "bool",
    optional: true,
    computed: true,
    default: false,
    description: "Refuse masked previews while uncovered_columns is not empty (default false).",
  },
  uncovered_columns: {
    type: { list: { object: { table: "string", column: "string", reason: "string" } } },
    computed: true,
    description: "Columns of the project's database that look personal (by name or content) and have no rule: table, column, reason.",
  },
  updated_at: { type: "string", computed: true, description: "When the rules were last set (RFC 3339)." },
};

/** "users" and "public.users" are the same table. */
function qualified(table: string): string {
  return table.includes(".") ? table : `public.${table}`;
}

function ruleKey(r: { table: string; column: string }): string {
  return `${qualified(r.table)}\u0000${r.column}`;
}

/** A rule of the state from one of the API's. */
function ruleValue(r: MaskingRule): ObjectValue {
  return { table: r.table, column: r.column, strategy: r.strategy, value: r.value ?? null, days: r.days ?? null };
}

/** The API's form of a rule in the state or plan (known by then). */
function ruleBody(v: Value): MaskingRule {
  const r = v as ObjectValue;
  return {
    table: r.table as string,
    column: r.column as string,
    strategy: r.strategy as MaskingRule["strategy"],
    ...(typeof r.value === "string" ? { value: r.value } : {}),
    ...(typeof r.days === "number" ? { days: r.days } : {}),
  };
}

/** Same rule, whatever the spelling of its table. */
function sameRule(a: ObjectValue, b: ObjectValue): boolean {
  return (
    ruleKey(a as { table: string; column: string }) === ruleKey(b as { table: string; column: string }) &&
    a.strategy === b.strategy &&
    (a.value ?? null) === (b.value ?? null) &&
    (a.days ?? null) === (b.days ?? null)
  );
}

/** The server's rules, in the words of `written` (the plan or the prior state) when they mean the same. */
function rulesValue(server: MaskingRule[], written: Value | undefined): Value[] {
  const fresh = server.map(ruleValue);
  if (!Array.isArray(written) || written.length !== fresh.length) return fresh;
  const ours = written as ObjectValue[];
  if (ours.every((r, i) => r !== null && typeof r === "object" && sameRule(r, fresh[i]))) return ours;
  // The same rules in another order: keep ours (a rule per column, so order says nothing).
  const left = [...fresh];
  for (const r of ours) {
    const i = r !== null && typeof r === "object" ? left.findIndex((f) => sameRule(r, f)) : -1;
    if (i < 0) return fresh;
    left.splice(i, 1);
  }
  return ours;
}

function maskingState(projectId: string, m: MaskingRules, written: Value | undefined): ObjectValue {
  return {
    id: projectId,
    project_id: projectId,
    rules: rulesValue(m.rules, written),
    require_coverage: m.require_coverage,
    uncovered_columns: m.uncovered_columns.map((c) => ({ table: c.table, column: c.column, reason: c.reason })),
    updated_at: m.updated_at,
  };
}

async function readMasking(ctx: ProviderContext, projectId: string, written: Value | undefined): Promise<ObjectValue | null> {
  if (!(await liveProject(ctx, projectId))) return null;
  const { masking_rules } = await ctx.client.getMaskingRules(projectId);
  return maskingState(projectId, masking_rules, written);
}

async function put(ctx: ProviderContext, planned: ObjectValue): Promise<ObjectValue> {
  const projectId = requireString(planned, "project_id");
  const rules = Array.isArray(planned.rules) ? planned.rules.map(ruleBody) : [];
  const { masking_rules } = await ctx.client.putMaskingRules(projectId, { rules, require_coverage: bool(planned.require_coverage) ?? false });
  return maskingState(projectId, masking_rules, planned.rules);
}

/**
 * Checks the rules of a configuration: the strategy is one the server knows; `value` is given
 * for "constant" and only for it, `days` (1-36500) for "date_shift" and only for it; a column has
 * one rule. Unknown values (from other resources) are left to the apply. Each diagnostic names
 * the field ("rules[1].strategy: ...") and points at the rule's element of the list, which
 * Terraform quotes (a path into the element would make it quote the resource's first line).
 */
export async function validateRules(rules: Value | undefined): Promise<DiagnosticMsg[]> {
  if (!Array.isArray(rules)) return [];
  const { MaskingRule, MaskingStrategy, MAX_MASKING_SHIFT_DAYS } = await api();
  const strategies: readonly string[] = MaskingStrategy.options;
  const out: DiagnosticMsg[] = [];
  const problem = (i: number, field: string, message: string) =>
    out.push(errorDiagnostic("Invalid masking rule", `rules[${i}].${field}: ${message}`, ["rules", i]));
  const seen = new Map<string, number>();
  rules.forEach((item, i) => {
    if (item === null || isUnknown(item) || typeof item !== "object" || Array.isArray(item)) return;
    const r = item;
    for (const field of ["table", "column", "value"] as const) {
      const v = r[field];
      if (typeof v !== "string") continue;
      if (field !== "value" && v !== v.trim()) {
        problem(i, field, `must not start or end with whitespace (got ${JSON.stringify(v)})`);
        continue;
      }
      const parsed = MaskingRule.shape[field].safeParse(v);
      if (!parsed.success) problem(i, field, `${parsed.error.issues.map((x) => x.message).join("; ")} (got ${JSON.stringify(v)})`);
      else if (field === "table" && !/^[^.]+(\.[^.]+)?$/.test(v)) problem(i, field, `must be "name" or "schema.name" (got ${JSON.stringify(v)})`);
    }
    const strategy = r.strategy;
    if (typeof strategy === "string" && !strategies.includes(strategy)) {
      problem(i, "strategy", `must be one of ${strategies.map((s) => `"${s}"`).join(", ")} (got ${JSON.stringify(strategy)})`);
    } else if (typeof strategy === "string") {
      const needs = ARGUMENT_OF[strategy];
      for (const arg of ["value", "days"] as const) {
        const v = r[arg];
        if (isUnknown(v)) continue;
        if (needs === arg && v === null) problem(i, arg, `is required with strategy "${strategy}"`);
        if (needs !== arg && v !== null && v !== undefined) {
          problem(i, arg, `is only allowed with strategy "${arg === "value" ? "constant" : "date_shift"}" (this rule's is "${strategy}")`);
        }
      }
    }
    const days = r.days;
    if (typeof days === "number" && (!Number.isInteger(days) || days < 1 || days > MAX_MASKING_SHIFT_DAYS)) {
      problem(i, "days", `must be a whole number of days from 1 to ${MAX_MASKING_SHIFT_DAYS} (got ${days})`);
    }
    if (typeof r.table === "string" && typeof r.column === "string") {
      const key = ruleKey({ table: r.table, column: r.column });
      const first = seen.get(key);
      if (first !== undefined) problem(i, "column", `${qualified(r.table)}.${r.column} already has a rule (rules[${first}])`);
      else seen.set(key, i);
    }
  });
  return out;
}

export const maskingRulesResource: Resource = {
  typeName: "capydb_masking_rules",
  schema: {
    version: 0,
    block: {
      description:
        "The masking rules of a project: how personal data is rewritten in the copies its previews are made from. One per project; destroying it clears the rules.",
      attributes,
    },
  },
  // A PUT sets a new time and looks at the columns again.
  unknownOnUpdate: ["updated_at", "uncovered_columns"],

  validate(config) {
    return validateRules(config.rules);
  },

  create: (ctx, planned) => put(ctx, planned),
  update: (ctx, _prior, planned) => put(ctx, planned),

  read(ctx, state) {
    return readMasking(ctx, requireString(state, "project_id"), state.rules);
  },

  async delete(ctx, prior) {
    const projectId = requireString(prior, "project_id");
    if (!(await liveProject(ctx, projectId))) return; // the project took its rules with it
    await ctx.client.putMaskingRules(projectId, { rules: [], require_coverage: false });
  },

  async importState(ctx, id) {
    if (!/^[^/\s]+$/.test(id)) {
      throw new DiagnosticError("Invalid import id", `Import capydb_masking_rules with the project id, e.g. prj_abc123; got "${id}".`);
    }
    const state = await readMasking(ctx, id, undefined);
    if (!state) throw new DiagnosticError("Cannot import masking rules", `Project ${id} does not exist (or is deleted) for this API key.`);
    return state;
  },
};
