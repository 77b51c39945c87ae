// Prop checks shared by the constructs. Each returns a problem ("<prop> must ...; got ...") or
// nothing; the constructs run them from `node.addValidation`, so problems surface when the app is
// synthesized (`app.synth()`, `cdktf synth`, `Testing.synth(stack, true)`), all at once, each
// prefixed by cdktf with the construct's path. Values that are tokens (a TerraformVariable, another
// resource's attribute) are known only to Terraform and pass unchecked.
//
// The rules mirror the CapyDB API's request schemas (packages/api/src/schemas.ts), so a mistake is
// reported at synth with the prop's name instead of by the server halfway through an apply; a test
// checks the two agree.
import { Token } from "cdktf";
import type { IConstruct } from "constructs";

export type Problem = string | undefined;

/** True when Terraform, not the program, will know the value. */
export function isToken(value: unknown): boolean {
  return (typeof value === "string" || typeof value === "number" || Array.isArray(value)) && Token.isUnresolved(value);
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

export function integerInRange(prop: string, value: number | undefined, min: number, max: number, what = ""): Problem {
  if (value === undefined || isToken(value)) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    return `${prop} must be an integer from ${min} to ${max}${what ? ` ${what}` : ""}; got ${show(value)}`;
  }
  return undefined;
}

export function atLeast(prop: string, value: number | undefined, min: number, what: string): Problem {
  if (value === undefined || isToken(value)) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min)
    return `${prop} must be an integer of at least ${min} ${what}; got ${show(value)}`;
  return undefined;
}

/** Letters (any script), digits, spaces, ".", "_" and "-", starting with a letter or digit. */
const DISPLAY_NAME = /^[\p{L}\p{N}][\p{L}\p{N} ._-]*$/u;

export function displayName(prop: string, value: string | undefined, max: number): Problem {
  if (isToken(value)) return undefined;
  if (typeof value !== "string" || value.trim() === "") return `${prop} must not be empty; got ${show(value)}`;
  const trimmed = value.trim();
  if (trimmed.length > max) return `${prop} must be at most ${max} characters; got ${trimmed.length}`;
  if (!DISPLAY_NAME.test(trimmed))
    return `${prop} may contain only letters, digits, spaces, ".", "_" and "-", starting with a letter or digit; got ${show(value)}`;
  return undefined;
}

/** A PostgreSQL extension name as the API accepts it. */
const EXTENSION_NAME = /^[a-z0-9_][a-z0-9_-]{0,62}$/;

export function extensionName(prop: string, value: string | undefined): Problem {
  if (isToken(value)) return undefined;
  if (typeof value !== "string" || value === "") return `${prop} must not be empty; got ${show(value)}`;
  if (!EXTENSION_NAME.test(value)) return `${prop} must be a PostgreSQL extension name (1-63 lowercase letters, digits, "_" and "-"); got ${show(value)}`;
  return undefined;
}

/** A duration as `SET statement_timeout` takes it: "0", "500ms", "30s", "5min", "2h", "1d". */
const PG_DURATION = /^\d{1,9}\s?(ms|s|min|h|d)?$/;

export function pgDuration(prop: string, value: string | undefined): Problem {
  if (value === undefined || isToken(value)) return undefined;
  if (typeof value !== "string" || !PG_DURATION.test(value))
    return `${prop} must be a duration such as "0", "500ms", "30s", "5min" or "1h"; got ${show(value)}`;
  return undefined;
}

export function oneOf(prop: string, value: string | undefined, allowed: readonly string[]): Problem {
  if (value === undefined || isToken(value)) return undefined;
  if (!allowed.includes(value)) return `${prop} must be one of ${allowed.map((a) => `"${a}"`).join(", ")}; got ${show(value)}`;
  return undefined;
}

export function nonEmpty(prop: string, value: string | undefined, max?: number): Problem {
  if (value === undefined || isToken(value)) return undefined;
  if (typeof value !== "string" || value === "") return `${prop} must not be empty; got ${show(value)}`;
  if (max !== undefined && value.length > max) return `${prop} must be at most ${max} characters; got ${value.length}`;
  return undefined;
}

export function httpUrl(prop: string, value: string | undefined): Problem {
  if (value === undefined || isToken(value)) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) return `${prop} must be an http:// or https:// URL; got ${show(value)}`;
  return undefined;
}

/** The largest shift of a "date_shift" rule, in days (the API's MAX_MASKING_SHIFT_DAYS). */
export const MAX_MASKING_SHIFT_DAYS = 36500;

/** A table as a masking rule names it: "name" (schema public) or "schema.name". */
const MASKING_TABLE = /^[^.]+(\.[^.]+)?$/;
/** What the API's single-line strings refuse: control characters (newlines included). */
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/;

/** What a rule is, for the checks: any of its values may be a token. */
interface RuleLike {
  table?: unknown;
  column?: unknown;
  strategy?: unknown;
  value?: unknown;
  days?: unknown;
}

/** A rule's text field: one line of at most `max` characters; a name is also given and has no spaces around it. */
function ruleText(prop: string, value: unknown, max: number, isName: boolean): Problem {
  const required = isName;
  if (value === undefined || value === null || isToken(value)) return required ? `${prop} must not be empty; got ${show(value)}` : undefined;
  if (typeof value !== "string") return `${prop} must be a string; got ${show(value)}`;
  if (required && value === "") return `${prop} must not be empty; got ""`;
  if (value.length > max) return `${prop} must be at most ${max} characters; got ${value.length}`;
  if (CONTROLS.test(value)) return `${prop} must be one line, without control characters; got ${show(value)}`;
  if (isName && value !== value.trim()) return `${prop} must not start or end with whitespace; got ${show(value)}`;
  return undefined;
}

/**
 * The problems of a list of masking rules, each named `name("rules[1].strategy")`: the table is
 * "name" or "schema.name" and the column is given; the strategy is one the server knows;
 * `value` is given for "constant" and only for it, `days` (1-36500) for "date_shift" and only for
 * it; a column has one rule ("users" and "public.users" are the same table). These are the
 * provider's plan-time checks too (a test checks that the two agree); whether the table and
 * column exist, the server tells when the rules are applied.
 */
export function maskingRuleProblems(name: (prop: string) => string, rules: unknown, strategies: readonly string[]): Problem[] {
  if (rules === undefined || isToken(rules)) return [];
  if (!Array.isArray(rules)) return [`${name("rules")} must be a list of rules; got ${show(rules)}`];
  const out: Problem[] = [];
  const seen = new Map<string, number>();
  rules.forEach((item: unknown, i) => {
    const at = (field: string) => name(`rules[${i}].${field}`);
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      out.push(`${name(`rules[${i}]`)} must be a rule ({ table, column, strategy }); got ${show(item)}`);
      return;
    }
    if (Token.isUnresolved(item)) return;
    const r = item as RuleLike;
    const table = isToken(r.table) ? undefined : ruleText(at("table"), r.table, 130, true);
    out.push(
      table ??
        (typeof r.table === "string" && !MASKING_TABLE.test(r.table) ? `${at("table")} must be "name" or "schema.name"; got ${show(r.table)}` : undefined),
    );
    if (!isToken(r.column)) out.push(ruleText(at("column"), r.column, 63, true));
    if (!isToken(r.value)) out.push(ruleText(at("value"), r.value, 1000, false));
    const strategy = r.strategy;
    if (!isToken(strategy)) {
      if (typeof strategy !== "string" || !strategies.includes(strategy)) {
        out.push(`${at("strategy")} must be one of ${strategies.map((s) => `"${s}"`).join(", ")}; got ${show(strategy)}`);
      } else {
        for (const [arg, owner] of [
          ["value", "constant"],
          ["days", "date_shift"],
        ] as const) {
          const v = r[arg];
          if (strategy === owner && (v === undefined || v === null)) out.push(`${at(arg)} is required with strategy "${owner}"`);
          if (strategy !== owner && v !== undefined && v !== null) out.push(`${at(arg)} is only allowed with strategy "${owner}"; got strategy "${strategy}"`);
        }
      }
    }
    if (r.days !== undefined && r.days !== null) out.push(integerInRange(at("days"), r.days as number, 1, MAX_MASKING_SHIFT_DAYS, "(days)"));
    if (typeof r.table === "string" && typeof r.column === "string" && !isToken(r.table) && !isToken(r.column)) {
      const key = `${r.table.includes(".") ? r.table : `public.${r.table}`}.${r.column}`;
      const first = seen.get(key);
      if (first !== undefined) out.push(`${name(`rules[${i}]`)}: ${key} already has a rule (${name(`rules[${first}]`)})`);
      else seen.set(key, i);
    }
  });
  return out;
}

/**
 * How a construct's props are named in its messages. A construct made by another one on the
 * user's behalf (the schedule of a CapyProject) reports its problems under the name the user
 * wrote ("backupSchedule.hour", not "hour").
 */
const propNames = new WeakMap<IConstruct, (prop: string) => string>();

export function nameProps(construct: IConstruct, name: (prop: string) => string): void {
  propNames.set(construct, name);
}

export function propName(construct: IConstruct, prop: string): string {
  return propNames.get(construct)?.(prop) ?? prop;
}

/** Registers `check` to run at synth; it answers the problems it found. */
export function validateAtSynth(construct: IConstruct, check: () => Problem[]): void {
  construct.node.addValidation({ validate: () => check().filter((p): p is string => p !== undefined) });
}

// ------------------------------------------------------------------ trust policies

/** What a GitHub Actions token may do (the API's TrustPolicyCommand). */
export const TRUST_POLICY_COMMANDS = ["create", "reset", "delete", "extend", "check", "cutover"] as const;

/** GitHub's rules: an owner of letters, digits and inner dashes (39 at most), a name of letters, digits, ".", "_" and "-". */
const GITHUB_REPOSITORY = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/;

export function githubRepository(prop: string, value: string | undefined): Problem {
  if (isToken(value)) return undefined;
  if (typeof value !== "string" || !GITHUB_REPOSITORY.test(value) || [".", ".."].includes(value.split("/")[1])) {
    return `${prop} must be a GitHub repository as "owner/repo"; got ${show(value)}`;
  }
  return undefined;
}

/** GitHub's numeric id of a repository, as a string of digits or a number. */
export function githubRepositoryId(prop: string, value: string | number | undefined): Problem {
  if (value === undefined || isToken(value)) return undefined;
  const ok = typeof value === "string" ? /^[1-9][0-9]{0,19}$/.test(value) : typeof value === "number" && Number.isSafeInteger(value) && value >= 1;
  return ok ? undefined : `${prop} must be GitHub's numeric repository id; got ${show(value)}`;
}

/** A ref, or a pattern where "*" stands for exactly one whole path segment (refs/pull/*\/merge). */
export function refPattern(value: string): string | undefined {
  if (value.length > 255) return `must be at most 255 characters; got ${value.length}`;
  if (CONTROLS.test(value)) return "must be one line, without control characters";
  if (!/^refs\/[^/]/.test(value)) return 'must be a full ref starting with "refs/" (refs/heads/main, refs/pull/*/merge)';
  if (!value.split("/").every((segment) => segment !== "" && (segment === "*" || !segment.includes("*")))) {
    return '"*" may only stand for a whole path segment (refs/heads/*, not refs/heads/feat*), and no segment may be empty';
  }
  return undefined;
}

export function environmentName(value: string): string | undefined {
  if (value === "") return "must not be empty";
  if (value.length > 255) return `must be at most 255 characters; got ${value.length}`;
  if (CONTROLS.test(value)) return "must be one line, without control characters";
  return undefined;
}

export function eventName(value: string): string | undefined {
  return /^[a-z_]{1,64}$/.test(value) ? undefined : "must be a GitHub Actions event name such as pull_request or push";
}

export function trustPolicyCommand(value: string): string | undefined {
  return (TRUST_POLICY_COMMANDS as readonly string[]).includes(value) ? undefined : `must be one of ${TRUST_POLICY_COMMANDS.map((c) => `"${c}"`).join(", ")}`;
}

/**
 * The problems of a list of a trust policy's (refs, environments, events, commands): left out it
 * allows anything, so it is not empty when given; at most 50 entries; each passes `check`, has no
 * whitespace around it (it could never match a claim) and is listed once (the server would keep
 * one, and Terraform's state would then differ from the configuration). The provider runs the
 * same checks at plan (a test checks that the two agree). A list or entry that is a token passes.
 */
export function policyListProblems(prop: string, values: unknown, check: (value: string) => string | undefined): Problem[] {
  if (values === undefined || isToken(values)) return [];
  if (!Array.isArray(values)) return [`${prop} must be a list of strings; got ${show(values)}`];
  if (values.length === 0) return [`${prop} must not be empty: leave it out to allow any`];
  const out: Problem[] = [];
  if (values.length > 50) out.push(`${prop} must have at most 50 entries; got ${values.length}`);
  const seen = new Map<string, number>();
  values.forEach((value: unknown, i) => {
    if (isToken(value)) return;
    const at = `${prop}[${i}]`;
    if (typeof value !== "string") {
      out.push(`${at} must be a string; got ${show(value)}`);
      return;
    }
    const problem = value !== value.trim() ? "must not start or end with whitespace" : check(value);
    if (problem) out.push(`${at} ${problem}; got ${show(value)}`);
    const first = seen.get(value);
    if (first !== undefined) out.push(`${at}: ${show(value)} is already listed (${prop}[${first}])`);
    else seen.set(value, i);
  });
  return out;
}
