// The schema step of a run: after the preview is ready (on opened, reopened and synchronize
// with `schema-diff`, or `command: check`), the diff against production goes into the outcome
// (for the comment, the outputs and the summary) and the "CapyDB schema" check run goes to the
// head commit. Neither can fail the run: the preview is what the workflow needs.
import * as core from "@actions/core";
import type { CapyClient } from "@capydb/api";
import type { ActionSettings } from "./settings.js";
import type { EventInfo } from "./event.js";
import type { Plan } from "./plan.js";
import type { Outcome } from "./execute.js";
import type { Credentials } from "./credentials.js";
import type { Deadline } from "./deadline.js";
import type { Octokit } from "./github-api.js";
import { runSchemaDiff } from "./schema-diff.js";
import { publishCheckRun } from "./check-run.js";

export interface SchemaStep {
  plan: Exclude<Plan, { kind: "skip" }>;
  settings: ActionSettings;
  event: EventInfo;
  client: CapyClient;
  octokit: Octokit | null;
  name: string;
  deadline: Deadline;
  /** The workflow tokens exchanged for the job's GitHub ID token so far (none with an API key). */
  apiTokens: () => string[];
}

/** Every secret the run holds: blanked out of the diff before the comment or the check run shows it. */
function secretsOf(s: SchemaStep, c: Credentials | null): string[] {
  const secrets = [s.settings.apiKey ?? "", s.settings.githubToken, ...s.apiTokens()];
  if (c) secrets.push(c.password, encodeURIComponent(c.password), c.databaseUrl, c.pooledDatabaseUrl ?? "");
  return secrets.filter(Boolean);
}

/** Diffs the ready preview, sets `outcome.schema` (and the comment view's) and posts the check run. */
export async function checkSchema(s: SchemaStep, outcome: Outcome): Promise<void> {
  const wanted = (s.plan.kind === "ensure" && s.plan.schemaDiff) || s.plan.kind === "check";
  const view = outcome.view;
  if (!wanted) return;
  if (!outcome.preview || (view?.status !== "ready" && view?.status !== "reset")) {
    core.info("No schema diff: the preview is not ready yet (wait: false); run command: check once it is");
    return;
  }
  const schema = await runSchemaDiff(s.client, outcome.preview, s.deadline, s.settings.failOn, secretsOf(s, outcome.credentials));
  outcome.schema = schema;
  outcome.view = { ...view, schema };
  const { octokit, event } = s;
  if (!octokit || !event.repo) {
    core.info("No check run: no `github-token` or repository");
    return;
  }
  if (!event.headSha) {
    core.info("No check run: this run names no commit (GITHUB_SHA is empty)");
    return;
  }
  const target = {
    ...event.repo,
    headSha: event.headSha,
    workflowPath: event.workflowPath,
    detailsUrl: event.runUrl,
    previewName: s.name,
    previewId: outcome.preview.id,
  };
  await publishCheckRun(octokit, target, schema);
}
