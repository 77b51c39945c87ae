// Helpers the resources share: reading values out of a plan, checking them with the API's own
// zod schemas (@capydb/api, the single source of truth for what the server accepts), and
// telling "gone" from other API errors by the error's code.
import type { ErrorCode } from "@capydb/api";
import { type ObjectValue, type Value, isUnknown } from "../cty/types.js";
import { errorDiagnostic } from "../framework/diagnostics.js";
import type { DiagnosticMsg } from "../proto/messages.js";

/** The API's zod schemas, loaded on first use: they are not needed before the handshake. */
export function api(): Promise<typeof import("../api-schemas.js")> {
  return import("../api-schemas.js");
}

/** The code of an API error (matched by name, so the client is not loaded for this), else undefined. */
export function apiErrorCode(err: unknown): ErrorCode | undefined {
  const e = err as { name?: string; code?: ErrorCode } | null;
  return e?.name === "CapyApiError" ? e.code : undefined;
}

// Not endpoint_not_found: a server without the endpoint says nothing about the object.
const GONE: ReadonlySet<ErrorCode | undefined> = new Set<ErrorCode>(["not_found", "project_not_found"]);

/** The API says the object (or the project it lives in) does not exist (any more). */
export function isNotFound(err: unknown): boolean {
  return GONE.has(apiErrorCode(err));
}

export function str(v: Value | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}

export function num(v: Value | undefined): number | undefined {
  return typeof v === "number" ? v : undefined;
}

export function bool(v: Value | undefined): boolean | undefined {
  return typeof v === "boolean" ? v : undefined;
}

/** A string attribute that must be known when the operation runs. */
export function requireString(state: ObjectValue, name: string): string {
  const v = state[name];
  if (typeof v !== "string" || v === "") throw new Error(`${name} is not set`);
  return v;
}

/** The fields of `state` that are known and not null, for a request body. */
export function knownFields(state: ObjectValue, names: readonly string[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const n of names) {
    const v = state[n];
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[n] = v;
  }
  return out;
}

/**
 * Checks each known, non-null attribute of `config` with the zod schema of the same API field.
 * The diagnostic names the attribute, so Terraform points at the line in the configuration.
 */
export interface FieldSchema {
  safeParse(value: unknown): { success: true } | { success: false; error: { issues: ReadonlyArray<{ message: string }> } };
}

export function checkWithSchemas(config: ObjectValue, schemas: Record<string, FieldSchema>): DiagnosticMsg[] {
  const out: DiagnosticMsg[] = [];
  for (const [name, schema] of Object.entries(schemas)) {
    const value = config[name];
    if (value === null || value === undefined || isUnknown(value)) continue;
    if (typeof value === "string" && value !== value.trim()) {
      out.push(errorDiagnostic("Invalid attribute value", `${name}: must not start or end with whitespace`, [name]));
      continue;
    }
    const result = schema.safeParse(value);
    if (!result.success) {
      const message = result.error.issues.map((i) => i.message).join("; ");
      out.push(errorDiagnostic("Invalid attribute value", `${name}: ${message} (got ${JSON.stringify(value)})`, [name]));
    }
  }
  return out;
}

/** An ISO timestamp as a number of whole seconds between two of them. */
export function secondsBetween(from: string, to: string): number {
  return Math.round((Date.parse(to) - Date.parse(from)) / 1000);
}
