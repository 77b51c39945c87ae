// The preview's schema against production's: asked of the CapyDB server (a job, waited for
// within the run's `timeout`), then what every reader of it shares — the highest risk, the
// verdict under `fail-on`, the summary line, and the statements as SQL cut to a length GitHub
// takes. A diff that cannot be made is a warning, never a failed run: the preview is fine.
import * as core from "@actions/core";
import type { CapyClient, PreviewDatabase, SchemaDiff } from "@capydb/api";
import type { FailOn } from "./settings.js";
import type { Deadline } from "./deadline.js";
import { toActionError } from "./errors.js";
import { waitForJob } from "./job-wait.js";

/** The check run's name: what branch protection requires. */
export const CHECK_NAME = "CapyDB schema";

export type SchemaRisk = SchemaDiff["statements"][number]["risk"];
export type SchemaStatement = SchemaDiff["statements"][number];

export type SchemaCheck =
  { status: "done"; diff: SchemaDiff; risk: SchemaRisk; failOn: FailOn; failing: boolean } | { status: "failed"; error: string; failOn: FailOn };

const RISK_ORDER: Record<SchemaRisk, number> = { safe: 0, risky: 1, destructive: 2 };

export function highestRisk(statements: readonly SchemaStatement[]): SchemaRisk {
  return statements.reduce<SchemaRisk>((top, s) => (RISK_ORDER[s.risk] > RISK_ORDER[top] ? s.risk : top), "safe");
}

/** A statement at or above `fail-on` fails the check; `none` never does. */
export function isFailing(risk: SchemaRisk, failOn: FailOn): boolean {
  return failOn !== "none" && RISK_ORDER[risk] >= RISK_ORDER[failOn];
}

/**
 * What the check run concludes. With `fail-on: none` a diff holding risky or destructive
 * statements is neutral, not success: it passes branch protection, but reads as "look at this".
 * A diff that could not be made fails the gate (unless `none`): an unknown schema is not a safe one.
 */
export function conclusionOf(check: SchemaCheck): "success" | "failure" | "neutral" {
  if (check.status === "failed") return check.failOn === "none" ? "neutral" : "failure";
  if (check.failing) return "failure";
  return check.failOn === "none" && check.risk !== "safe" ? "neutral" : "success";
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** "Schema vs production: 3 safe, 1 risky, 1 destructive" */
export function summaryLine(check: SchemaCheck): string {
  if (check.status === "failed") return "Schema vs production: the diff failed";
  const { safe, risky, destructive } = check.diff.summary;
  if (check.diff.statements.length === 0) return "Schema vs production: no changes";
  return `Schema vs production: ${safe} safe, ${risky} risky, ${destructive} destructive`;
}

/** One sentence on the gate: what the check run concludes and why. */
export function verdictLine(check: SchemaCheck, checkName = CHECK_NAME): string {
  const failOn = `\`fail-on: ${check.failOn}\``;
  if (check.status === "failed") {
    return check.failOn === "none"
      ? `Check "${checkName}" is neutral: the diff could not be made, and ${failOn} does not gate.`
      : `Check "${checkName}" fails: the diff could not be made, so the schema change is unknown (${failOn}). Re-run the workflow once the cause is fixed.`;
  }
  const { diff, risk } = check;
  if (check.failing) {
    const count = diff.statements.filter((s) => isFailing(s.risk, check.failOn)).length;
    const what = check.failOn === "risky" ? "risky or destructive" : "destructive";
    return `Check "${checkName}" fails: ${plural(count, `${what} statement`)} (${failOn}).`;
  }
  if (check.failOn === "none") {
    return risk === "safe" ? `Check "${checkName}" passes: every statement is safe.` : `Check "${checkName}" is neutral: ${failOn} does not gate.`;
  }
  return `Check "${checkName}" passes: no statement is ${check.failOn === "risky" ? "risky or destructive" : "destructive"} (${failOn}).`;
}

/** Longest SQL of one statement shown in full; a function body can be long, and the comment has room for ~64k characters. */
const MAX_STATEMENT_CHARS = 4_000;

const oneLine = (s: string) => s.replace(/\s*\r?\n\s*/g, " ");

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n-- … (${text.length - max} more characters)`;
}

/** One statement as SQL, with its risk, kind, object and reason as comments above it. */
export function statementSql(s: SchemaStatement, index: number, total: number): string {
  const head = `-- ${index + 1}/${total} ${s.risk} · ${s.kind}${s.object ? ` · ${oneLine(s.object)}` : ""}`;
  return `${head}\n-- ${oneLine(s.reason)}\n${cut(s.sql.trim(), MAX_STATEMENT_CHARS)}`;
}

/**
 * The statements as one SQL text of at most `budget` characters: whole statements only, then a
 * line saying how many were left out.
 */
export function statementsSql(statements: readonly SchemaStatement[], budget: number, whereTheRestIs: string): string {
  const parts: string[] = [];
  let used = 0;
  for (const [i, s] of statements.entries()) {
    const text = statementSql(s, i, statements.length);
    const left = statements.length - i;
    const tail = `-- … and ${plural(left, "more statement")}, not shown here: ${whereTheRestIs}`;
    if (used + text.length + 2 + (left > 1 ? tail.length : 0) > budget) {
      parts.push(tail);
      break;
    }
    parts.push(text);
    used += text.length + 2;
  }
  return parts.join("\n\n");
}

/** Every secret the run knows, blanked out of what the server sent, before any of it is shown. */
export function redact(diff: SchemaDiff, secrets: readonly string[]): SchemaDiff {
  const known = secrets.filter((s) => s.length >= 4);
  if (known.length === 0) return diff;
  const clean = (text: string) => known.reduce((t, secret) => t.split(secret).join("***"), text);
  return {
    ...diff,
    statements: diff.statements.map((s) => ({ ...s, sql: clean(s.sql), reason: clean(s.reason), object: s.object === null ? null : clean(s.object) })),
  };
}

/** Asks the server for the diff, waits for its job and reads it. Never throws: a failure is a warning and a `failed` check. */
export async function runSchemaDiff(
  client: CapyClient,
  preview: PreviewDatabase,
  deadline: Deadline,
  failOn: FailOn,
  secrets: readonly string[],
): Promise<SchemaCheck> {
  try {
    const { job } = await client.createSchemaDiff(preview.id);
    core.info(`Diffing the schema of preview ${preview.name} (${preview.id}) against production: job ${job.id}`);
    await waitForJob(client, job, deadline);
    const diff = redact((await client.getSchemaDiff(preview.id)).schema_diff, secrets);
    const risk = highestRisk(diff.statements);
    const check: SchemaCheck = { status: "done", diff, risk, failOn, failing: isFailing(risk, failOn) };
    core.info(summaryLine(check));
    for (const s of diff.statements) core.info(`  ${s.risk}: ${s.kind}${s.object ? ` ${s.object}` : ""} — ${oneLine(s.reason)}`);
    return check;
  } catch (err) {
    const error = toActionError(err, null).message;
    core.warning(
      `The schema diff of preview ${preview.name} (${preview.id}) against production failed: ${error}. The preview itself is ready; ` +
        `the comment and the check run say the diff failed.`,
    );
    return { status: "failed", error, failOn };
  }
}
