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
