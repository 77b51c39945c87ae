// The sticky pull request comment's text: one hidden marker that finds it again, the state,
// whether the data is masked, the connection details without the password, how to reset, the
// schema diff against production (a summary line, the SQL collapsed), and a link to the run.
import type { Cutover, PreviewDatabase } from "@capydb/api";
import type { ConnectionInfo } from "./credentials.js";
import { describeSource } from "./previews.js";
import { statementsSql, summaryLine, verdictLine, type SchemaCheck } from "./schema-diff.js";

export type CommentView =
  | { status: "creating" | "resetting"; preview: PreviewDatabase; jobId: string | null }
  | { status: "ready" | "reset"; preview: PreviewDatabase; connection: ConnectionInfo; verified: boolean; schema?: SchemaCheck | null }
  | { status: "failed"; preview: PreviewDatabase | null; error: string }
  | { status: "torn-down"; reason: string }
  | { status: "cutover-requested"; preview: PreviewDatabase; cutover: Cutover };

export interface CommentContext {
  projectId: string;
  previewName: string;
  resetLabel: string;
  runUrl: string | null;
  /** GITHUB_SERVER_URL: the "made by" line links the run that made the preview. */
  serverUrl?: string | null;
  /**
   * How many masking rules the project has (GET masking-rules); null when they could not be read
   * (an older server): the masking line then says only what the preview itself says.
   */
  maskingRules?: number | null;
}

/** Hidden in the rendered comment; one per project and preview name, so two previews on one PR keep two comments. */
export function commentMarker(projectId: string, previewName: string): string {
  return `<!-- capydb-preview-database project=${projectId} preview=${previewName} -->`;
}

const TITLES: Record<CommentView["status"], string> = {
  creating: "creating…",
  resetting: "resetting…",
  ready: "ready",
  reset: "reset and ready",
  failed: "failed",
  "torn-down": "torn down",
  "cutover-requested": "cutover requested",
};

function code(text: string | number): string {
  return "`" + String(text).replace(/`/g, "'") + "`";
}

/** 2025-01-08 14:05 UTC */
export function formatInstant(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * One line on the preview's data and masking, in markdown; null for a preview that holds no data
 * (empty, schema only) and is not masked. Names no value: only counts and the verification time.
 */
export function maskingLine(p: PreviewDatabase, rules: number | null | undefined): string | null {
  const known = typeof rules === "number";
  if (p.masked === true) {
    const what = known && rules > 0 ? `Masked: ${plural(rules, "column")}` : "Masked by the project's masking rules";
    const verified = p.masking_verified_at
      ? `verified ${formatInstant(p.masking_verified_at)}`
      : p.state === "ready"
        ? "not verified yet"
        : "verified once the data is copied";
    return `${what}, ${verified}.`;
  }
  if (p.source_kind === "empty" || p.mode === "schema_only") return null;
  if (known && rules > 0) {
    return (
      `**Warning: this preview holds unmasked production data.** The project has ${plural(rules, "masking rule")}, but this ` +
      "preview was made without them (`masked: false`, or before the rules were set): treat it like production."
    );
  }
  return known ? "Not masked: the project has no masking rules." : "Not masked.";
}

/** "owner/repo#<run id>", as CapyDB records a GitHub Actions run (GitHub's names are letters, digits, `.`, `-`, `_`). */
const RUN_ACTOR = /^([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+)#(\d+)$/;

/**
 * Who made the preview when it was a GitHub Actions workflow (a trust policy's token): its run,
 * pull request and commit, from the preview's requested_by_* fields. Null for an API key or a
 * user, whose ids say nothing to a reader of the pull request.
 */
export function madeByLine(p: PreviewDatabase, serverUrl: string | null | undefined): string | null {
  if (p.requested_by_actor_kind !== "github_actions" || !p.requested_by_actor_id) return null;
  const run = RUN_ACTOR.exec(p.requested_by_actor_id);
  const runText = run && serverUrl ? `[${run[0]}](${serverUrl}/${run[1]}/actions/runs/${run[2]})` : code(p.requested_by_actor_id);
  const pr = typeof p.requested_by_pr_number === "number" ? ` for PR #${p.requested_by_pr_number}` : "";
  const sha = p.requested_by_sha && /^[0-9a-f]{7,64}$/i.test(p.requested_by_sha) ? ` at ${code(p.requested_by_sha.slice(0, 7))}` : "";
  return `Made by GitHub Actions run ${runText}${pr}${sha}.`;
}

function connectionTable(c: ConnectionInfo, p: PreviewDatabase): string[] {
  return [
    "| | |",
    "| --- | --- |",
    `| Host | ${code(c.host)} |`,
    `| Port | ${code(c.port)} (direct)${c.pooledPort ? ` · ${code(c.pooledPort)} (pooled, PgBouncer)` : ""} |`,
    `| Database | ${code(c.database)} |`,
    `| User | ${code(c.user)} |`,
    `| Password | not shown here: read it from the step's outputs (\`password\`, \`database-url\`) |`,
    `| Data | ${describeSource(p)}${p.source_restore_time ? ` as of ${formatInstant(p.source_restore_time)}` : ""} |`,
    `| Expires | ${formatInstant(p.ttl_expires_at)} (extended on every push) |`,
    `| Preview id | ${code(p.id)} |`,
  ];
}

/** A code fence longer than any run of backticks in the text, so nothing in it can close it. */
export function fence(text: string, info = ""): string[] {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = "`".repeat(longest + 1);
  return [ticks + info, text, ticks];
}

/** GitHub refuses a comment body over 65536 characters; the margin covers what is counted differently. */
export const MAX_COMMENT_CHARS = 65_000;
const MAX_ERROR_CHARS = 2_000;

/** The schema diff's part of the comment, in at most `budget` characters. */
function schemaSection(check: SchemaCheck, budget: number): string[] {
  const lines = [`#### ${summaryLine(check)}`, ""];
  if (check.status === "failed") {
    const error = check.error.length > MAX_ERROR_CHARS ? `${check.error.slice(0, MAX_ERROR_CHARS)} …` : check.error;
    lines.push(...fence(error), "", verdictLine(check));
    return lines;
  }
  lines.push(verdictLine(check));
  const statements = check.diff.statements;
  if (statements.length === 0) return lines;
  const summary = `<details><summary>SQL from production's schema to this preview's (${statements.length} statement${statements.length === 1 ? "" : "s"})</summary>`;
  const rest = 'the check run "CapyDB schema" lists every statement';
  const render = (room: number) => [...lines, "", summary, "", ...fence(statementsSql(statements, Math.max(0, room), rest), "sql"), "", "</details>"];
  // The frame around the SQL (fences as long as its longest run of backticks) is known once it is rendered.
  let room = budget - lines.join("\n").length - summary.length - 40;
  let section = render(room);
  while (section.join("\n").length > budget && room > 0) {
    room -= section.join("\n").length - budget;
    section = render(room);
  }
  return section;
}

export function renderComment(ctx: CommentContext, view: CommentView): string {
  const lines = [commentMarker(ctx.projectId, ctx.previewName), `### CapyDB preview database ${code(ctx.previewName)}: ${TITLES[view.status]}`, ""];
  if (view.status === "creating" || view.status === "resetting" || view.status === "ready" || view.status === "reset") {
    const masking = maskingLine(view.preview, ctx.maskingRules);
    if (masking) lines.push(masking, "");
  }
  switch (view.status) {
    case "creating":
    case "resetting":
      lines.push(
        view.status === "creating"
          ? `Making ${describeSource(view.preview)} for this pull request${view.jobId ? ` (job ${code(view.jobId)})` : ""}. This comment is updated when it is ready.`
          : `Resetting the data to ${describeSource(view.preview)}${view.jobId ? ` (job ${code(view.jobId)})` : ""}. This comment is updated when it is done.`,
      );
      break;
    case "ready":
    case "reset":
      lines.push(...connectionTable(view.connection, view.preview), "");
      if (view.verified) lines.push("The database answered `SELECT 1` with these credentials before this comment was written.");
      lines.push(`To reset its data to a fresh copy, add the ${code(ctx.resetLabel)} label to this pull request (the action removes it again when it runs).`);
      break;
    case "failed":
      lines.push("The preview database could not be made ready:", "", ...fence(view.error), "");
      lines.push(`Fix the cause and re-run the workflow${view.preview ? `; the preview ${code(view.preview.id)} is kept and reused` : ""}.`);
      break;
    case "torn-down":
      lines.push(`The preview database was deleted: ${view.reason}. Nothing of it is left on the server.`);
      break;
    case "cutover-requested":
      lines.push(...cutoverLines(view.cutover, view.preview));
      break;
  }
  const made = "preview" in view && view.preview ? madeByLine(view.preview, ctx.serverUrl) : null;
  const footer = [
    "",
    ...(made ? [made, ""] : []),
    `<sub>${ctx.runUrl ? `Updated by [this workflow run](${ctx.runUrl})` : "Updated by the capydb/preview-database action"} · project ${code(ctx.projectId)}</sub>`,
  ];
  if ((view.status === "ready" || view.status === "reset") && view.schema) {
    const budget = MAX_COMMENT_CHARS - lines.join("\n").length - footer.join("\n").length - 2;
    lines.push("", ...schemaSection(view.schema, budget));
  }
  return [...lines, ...footer].join("\n");
}

/** What the request asks for, in its mode's words, and what production wrote since the preview when its data would replace production's. */
function cutoverLines(cutover: Cutover, preview: PreviewDatabase): string[] {
  const ref = `Cutover request ${code(cutover.id)} (status: ${code(cutover.status)})`;
  if (cutover.mode === "schema") {
    return [
      `${ref} asks an operator to apply preview ${code(preview.id)}'s schema changes to production: production keeps its data, ` +
        "and gets the statements reviewed when the request was opened.",
      "",
      "The preview is kept until the cutover is done.",
    ];
  }
  const lines = [
    `${ref} asks an operator to promote preview ${code(preview.id)} (database ${code(preview.database_name)}) to production: its data replaces production's.`,
    "",
  ];
  const w = cutover.writes_since_origin;
  if (w?.known && w.tables.length > 0) {
    const n = (k: "inserts" | "updates" | "deletes") => w.tables.reduce((sum, t) => sum + t[k], 0);
    lines.push(
      `**Production has written since this preview was made:** ${n("inserts")} inserts, ${n("updates")} updates, ${n("deletes")} deletes ` +
        `in ${w.tables.length} table(s), the last at ${w.last_write_at}. A data cutover does not carry them over.`,
      "",
    );
  } else if (w && !w.known) {
    lines.push(`Production's writes since this preview was made are not known: ${w.reason}`, "");
  }
  lines.push("The preview is kept until the cutover is done.");
  return lines;
}
