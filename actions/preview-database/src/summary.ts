// The job summary (core.summary): what this run did, in one table, never the password.
import * as core from "@actions/core";
import type { Outcome } from "./execute.js";
import { formatInstant, madeByLine, maskingLine } from "./comment-body.js";
import { summaryLine, verdictLine } from "./schema-diff.js";

type Row = [string, string];

function table(rows: Row[]): string {
  const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
  return ["| | |", "| --- | --- |", ...rows.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`)].join("\n");
}

const code = (s: string | number) => "`" + String(s).replace(/`/g, "'") + "`";

async function write(markdown: string): Promise<void> {
  // Outside a runner (or a runner without summaries) there is nowhere to write.
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  try {
    await core.summary.addRaw(markdown, true).write();
  } catch (err) {
    core.warning(`Could not write the job summary: ${(err as Error).message}`);
  }
}

/**
 * `maskingRules`: the project's rule count as the comment got it (null: could not be read);
 * `serverUrl`: GITHUB_SERVER_URL, for the link to the run that made the preview.
 */
export async function summarizeOutcome(
  name: string,
  projectId: string,
  outcome: Outcome,
  commentUrl: string | null,
  maskingRules: number | null = null,
  serverUrl: string | null = null,
): Promise<void> {
  const rows: Row[] = [
    ["Operation", code(outcome.operation)],
    ["Project", code(projectId)],
    ["Preview", code(name)],
  ];
  const p = outcome.preview;
  if (p) rows.push(["Preview id", code(p.id)], ["State", code(p.state)]);
  const made = p ? madeByLine(p, serverUrl) : null;
  if (made) rows.push(["Made by", made.replace(/^Made by /, "").replace(/\.$/, "")]);
  const c = outcome.credentials;
  if (c) {
    rows.push(["Host", code(c.host)], ["Port", code(c.port)]);
    if (c.pooledPort) rows.push(["Pooled port (PgBouncer)", code(c.pooledPort)]);
    rows.push(["Database", code(c.database)], ["User", code(c.user)], ["Password", "in the step's outputs (`password`, `database-url`)"]);
  }
  if (p && c) {
    // The same line as the pull request comment's.
    const masking = maskingLine(p, maskingRules);
    if (masking) rows.push(["Data", masking]);
    rows.push(["Expires", formatInstant(p.ttl_expires_at)]);
  }
  if (outcome.job) rows.push(["Job", `${code(outcome.job.id)} (${outcome.job.type}, ${outcome.job.state})`]);
  if (outcome.schema)
    rows.push(["Schema", `${summaryLine(outcome.schema).replace(/^Schema vs production: /, "vs production: ")}. ${verdictLine(outcome.schema)}`]);
  if (outcome.cutover) rows.push(["Cutover request", `${code(outcome.cutover.id)} (status ${code(outcome.cutover.status)})`]);
  if (commentUrl) rows.push(["Pull request comment", commentUrl]);
  const notes = outcome.note ? `\n\n${outcome.note}` : "";
  await write(`### CapyDB preview database ${code(name)}: ${outcome.operation}\n\n${table(rows)}${notes}\n`);
}

export async function summarizeSkip(reason: string): Promise<void> {
  await write(`### CapyDB preview database: skipped\n\n${reason}\n`);
}

export async function summarizeFailure(name: string | null, message: string): Promise<void> {
  const fence = "````";
  await write(`### CapyDB preview database${name ? ` ${code(name)}` : ""}: failed\n\n${fence}\n${message}\n${fence}\n`);
}
