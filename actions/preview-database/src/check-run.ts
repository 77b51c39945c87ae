// The "CapyDB schema" check run on the head commit (Checks API): its conclusion is the gate
// branch protection can require, each statement of the diff is an annotation (50 per request,
// as GitHub takes them: the first batch with the run, the rest by PATCH), and the SQL is its
// text. A token without `checks: write` gets a warning, never a failed run.
import * as core from "@actions/core";
import { status, type Octokit } from "./github-api.js";
import { fence } from "./comment-body.js";
import { CHECK_NAME, conclusionOf, statementsSql, summaryLine, verdictLine, type SchemaCheck, type SchemaRisk, type SchemaStatement } from "./schema-diff.js";

export interface CheckRunTarget {
  owner: string;
  repo: string;
  headSha: string;
  /** Where annotations point: the workflow file; `.github` when it is unknown. */
  workflowPath: string | null;
  detailsUrl: string | null;
  previewName: string;
  previewId: string;
}

export interface Annotation {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: "notice" | "warning" | "failure";
  title: string;
  message: string;
  raw_details: string;
}

export interface CheckRunBody {
  conclusion: "success" | "failure" | "neutral";
  output: { title: string; summary: string; text: string };
  annotations: Annotation[];
}

/** GitHub's limits: 50 annotations per request, 65535 characters per output field, 64 kB per annotation field. */
export const ANNOTATIONS_PER_REQUEST = 50;
const MAX_OUTPUT_CHARS = 65_000;
const MAX_ANNOTATION_CHARS = 60_000;
const MAX_TITLE_CHARS = 255;

const LEVEL: Record<SchemaRisk, Annotation["annotation_level"]> = { safe: "notice", risky: "warning", destructive: "failure" };

const cut = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

function annotation(s: SchemaStatement, path: string): Annotation {
  return {
    path,
    start_line: 1,
    end_line: 1,
    annotation_level: LEVEL[s.risk],
    title: cut(`${s.risk}: ${s.kind}${s.object ? ` ${s.object}` : ""}`, MAX_TITLE_CHARS),
    message: cut(s.reason, MAX_ANNOTATION_CHARS),
    raw_details: cut(s.sql, MAX_ANNOTATION_CHARS),
  };
}

export function checkRunBody(check: SchemaCheck, t: Pick<CheckRunTarget, "workflowPath" | "previewName" | "previewId">): CheckRunBody {
  const about = `Preview \`${t.previewName}\` (\`${t.previewId}\`) against production, with production's table sizes.`;
  if (check.status === "failed") {
    return {
      conclusion: conclusionOf(check),
      output: { title: summaryLine(check), summary: `${verdictLine(check)}\n\n${about}`, text: fence(cut(check.error, 4_000)).join("\n") },
      annotations: [],
    };
  }
  const { statements } = check.diff;
  const path = t.workflowPath ?? ".github";
  const sql = statementsSql(statements, MAX_OUTPUT_CHARS - 100, "each statement is an annotation of this check run");
  return {
    conclusion: conclusionOf(check),
    output: {
      title: summaryLine(check),
      summary: `${verdictLine(check)}\n\n${about}${statements.length ? " Each statement is an annotation below." : ""}`,
      text: statements.length ? fence(sql, "sql").join("\n") : "Production's schema and the preview's are the same.",
    },
    annotations: statements.map((s) => annotation(s, path)),
  };
}

function warn(what: string, err: unknown): void {
  const s = status(err);
  const hint = s === 403 || s === 404 ? ": give the workflow `permissions: checks: write` (or pass a token that has it as `github-token`)" : "";
  core.warning(
    `Check run "${CHECK_NAME}": ${what} (${s ? `HTTP ${s}: ` : ""}${(err as Error)?.message ?? String(err)})${hint}. ` +
      "The preview and the comment are not affected; branch protection that requires this check waits for it.",
  );
}

/** Posts the completed check run and every annotation; its id, or null when GitHub refused it (a warning says why). */
export async function publishCheckRun(octokit: Octokit, t: CheckRunTarget, check: SchemaCheck): Promise<number | null> {
  const body = checkRunBody(check, t);
  const batches: Annotation[][] = [];
  for (let i = 0; i < body.annotations.length; i += ANNOTATIONS_PER_REQUEST) batches.push(body.annotations.slice(i, i + ANNOTATIONS_PER_REQUEST));
  const { owner, repo } = t;
  let id: number;
  try {
    const { data } = await octokit.request("POST /repos/{owner}/{repo}/check-runs", {
      owner,
      repo,
      name: CHECK_NAME,
      head_sha: t.headSha,
      status: "completed",
      conclusion: body.conclusion,
      completed_at: new Date().toISOString(),
      external_id: t.previewId,
      ...(t.detailsUrl ? { details_url: t.detailsUrl } : {}),
      output: { ...body.output, annotations: batches[0] ?? [] },
    });
    id = Number(data.id);
  } catch (err) {
    warn("could not be created", err);
    return null;
  }
  try {
    for (const batch of batches.slice(1)) {
      await octokit.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", {
        owner,
        repo,
        check_run_id: id,
        output: { title: body.output.title, summary: body.output.summary, annotations: batch },
      });
    }
  } catch (err) {
    warn(`check run ${id} was created, but not all of its ${body.annotations.length} annotations could be added`, err);
    return id;
  }
  core.info(`Check run "${CHECK_NAME}" ${id} on ${t.headSha.slice(0, 12)}: ${body.conclusion} (${body.annotations.length} annotations)`);
  return id;
}
