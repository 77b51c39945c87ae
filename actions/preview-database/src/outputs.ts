// The step's outputs: every name is always set (empty when it does not apply), so a workflow
// can test them without guessing which ones a given event writes.
import * as core from "@actions/core";
import type { PreviewDatabase } from "@capydb/api";
import type { Outcome } from "./execute.js";
import type { SchemaCheck } from "./schema-diff.js";

export const OUTPUT_NAMES = [
  "operation",
  "preview-id",
  "preview-name",
  "database-url",
  "pooled-database-url",
  "host",
  "port",
  "pooled-port",
  "database",
  "user",
  "password",
  "masked",
  "expires-at",
  "job-id",
  "cutover-request-id",
  "comment-id",
  "schema-diff-summary",
  "schema-risk",
] as const;
export type OutputName = (typeof OUTPUT_NAMES)[number];
export type OutputValues = Partial<Record<OutputName, string | number | null>>;

/** "true" / "false" from the preview (the server's word); null without one. */
export function maskedOutput(p: PreviewDatabase | null | undefined): string | null {
  return p ? String(p.masked === true) : null;
}

/** {"safe":3,"risky":1,"destructive":1,"statements":5}; null when no diff was made. */
export function schemaSummaryOutput(check: SchemaCheck | null | undefined): string | null {
  if (check?.status !== "done") return null;
  return JSON.stringify({ ...check.diff.summary, statements: check.diff.statements.length });
}

export function outputsOf(outcome: Outcome, previewName: string | null, commentId: number | null): OutputValues {
  const c = outcome.credentials;
  const p = outcome.preview;
  return {
    operation: outcome.operation,
    "preview-id": p?.id,
    "preview-name": p?.name ?? previewName,
    "database-url": c?.databaseUrl,
    "pooled-database-url": c?.pooledDatabaseUrl,
    host: c?.host,
    port: c?.port,
    "pooled-port": c?.pooledPort,
    database: c?.database,
    user: c?.user,
    password: c?.password,
    masked: maskedOutput(p),
    "expires-at": c && p ? p.ttl_expires_at : null,
    "job-id": outcome.job?.id,
    "cutover-request-id": outcome.cutover?.id,
    "comment-id": commentId,
    "schema-diff-summary": schemaSummaryOutput(outcome.schema),
    "schema-risk": outcome.schema?.status === "done" ? outcome.schema.risk : null,
  };
}

/** Sets every output (empty when unknown); with `knownOnly`, just those that have a value (a failed run). */
export function setOutputs(values: OutputValues, options: { knownOnly?: boolean } = {}): void {
  for (const name of OUTPUT_NAMES) {
    const value = values[name];
    const text = value === null || value === undefined ? "" : String(value);
    if (text === "" && options.knownOnly) continue;
    core.setOutput(name, text);
  }
}
