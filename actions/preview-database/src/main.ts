// Entry point: inputs → settings → plan → execution → outputs, comment and summary.
// Thin on purpose; each step lives in the module named for it.
import * as core from "@actions/core";
import { CapyApiError, type CapyClient, type Job, type PreviewDatabase, type Project } from "@capydb/api";
import { readEvent, type EventInfo } from "./event.js";
import { getSettings } from "./input-helper.js";
import type { ActionSettings } from "./settings.js";
import { dependabotSkip, forkSkip, planFor } from "./plan.js";
import { execute } from "./execute.js";
import { InputError, toActionError } from "./errors.js";
import { WorkflowToken, idTokenRequestable, type ApiAccess } from "./api-access.js";
import { clientFor } from "./api-client.js";
import { Deadline } from "./deadline.js";
import { commentMarker, renderComment, type CommentContext } from "./comment-body.js";
import { StickyComment, createOctokit, removeLabel, type IssueTarget, type Octokit } from "./github-api.js";
import { maskedOutput, outputsOf, setOutputs } from "./outputs.js";
import { summarizeFailure, summarizeOutcome, summarizeSkip } from "./summary.js";
import { checkSchema } from "./schema-check.js";
import { PreviewDeployment, deactivateFor, deploymentFor } from "./deployments.js";

const VERSION = "0.1.0";
const USER_AGENT = `capydb-preview-database-action/${VERSION} (node ${process.versions.node})`;

async function skip(reason: string): Promise<void> {
  core.notice(reason);
  setOutputs({ operation: "skipped" });
  await summarizeSkip(reason);
}

async function loadProject(client: CapyClient, projectId: string): Promise<Project> {
  return (await client.getProject(projectId)).project;
}

/**
 * How many masking rules the project has, for the comment and the summary; null when that cannot
 * be read (an older server answers 404 endpoint_not_found): they then go by the preview alone.
 */
async function loadMaskingRuleCount(client: CapyClient, projectId: string): Promise<number | null> {
  try {
    const { rules } = (await client.getMaskingRules(projectId)).masking_rules;
    return Array.isArray(rules) ? rules.length : null;
  } catch (err) {
    const why = err instanceof CapyApiError ? `${err.status} ${err.code}` : (err as Error)?.message;
    core.info(`The project's masking rules could not be read (${why}): the comment says only whether the preview is masked`);
    return null;
  }
}

/** A 404 on the project itself (from whichever project call came first) is a wrong `project-id`. */
function projectNotFound(err: unknown, projectId: string): unknown {
  const projectPath = `/v1/projects/${encodeURIComponent(projectId)}`;
  const onProject =
    err instanceof CapyApiError && (err.path === projectPath || err.path.startsWith(`${projectPath}/`) || err.path.startsWith(`${projectPath}?`));
  // The project itself (project_not_found), not, say, a preview named in the request (not_found).
  if (onProject && err.code === "project_not_found") {
    return new InputError("project-id", `project ${projectId} was not found, or this run's credentials cannot see it`);
  }
  return err;
}

/** An annotation too, beside the comment's warning: a live preview of real data the project's rules would have masked. */
function warnIfUnmasked(preview: PreviewDatabase | null, live: boolean, rules: number | null): void {
  if (!preview || !live || preview.masked === true || !rules) return;
  if (preview.source_kind === "empty" || preview.mode === "schema_only") return;
  core.warning(
    `Preview ${preview.name} (${preview.id}) holds unmasked production data: the project has ${rules} masking rule${rules === 1 ? "" : "s"}, ` +
      "but this preview was made without them (masked: false, or before the rules were set).",
  );
}

function issueTarget(event: EventInfo): IssueTarget | null {
  return event.pullRequest && event.repo ? { ...event.repo, issueNumber: event.pullRequest.number } : null;
}

export async function run(): Promise<void> {
  const event = readEvent();
  const fork = forkSkip(event) ?? dependabotSkip(event, core.getInput("api-key") !== "" || idTokenRequestable());
  if (fork) return skip(fork.why);

  let settings: ActionSettings | null = null;
  let name: string | null = null;
  let client: CapyClient | null = null;
  let access: ApiAccess | null = null;
  let sticky: StickyComment | null = null;
  let commentContext: CommentContext | null = null;
  let labelToRemove: string | null = null;
  const trace: { preview: PreviewDatabase | null; job: Job | null } = { preview: null, job: null };
  const target = issueTarget(event);
  let octokit: Octokit | null = null;
  let deployment: PreviewDeployment | null = null;

  try {
    settings = getSettings(event);
    const plan = planFor(settings, event);
    if (plan.kind === "skip") return await skip(plan.why);
    if (settings.previewName === null) {
      throw new InputError(
        "preview-name",
        `"${settings.previewNameTemplate}" needs a pull request number, and this ${event.name || "run"} has none: set preview-name`,
      );
    }
    name = settings.previewName;
    if (plan.kind === "reset") labelToRemove = plan.removeLabel;
    core.info(`capydb/preview-database ${VERSION}: preview "${name}" of project ${settings.projectId}: ${plan.kind} (${plan.why})`);

    if (event.repo && settings.githubToken) octokit = createOctokit(settings.githubToken);
    else if (target && (settings.comment || labelToRemove))
      core.warning("No `github-token`: the pull request comment, labels, check run and deployment are left alone");
    deployment = deploymentFor(plan, settings, event, octokit, name);
    if (octokit && target && settings.comment) {
      commentContext = { projectId: settings.projectId, previewName: name, resetLabel: settings.resetLabel, runUrl: event.runUrl, serverUrl: event.serverUrl };
      sticky = new StickyComment(octokit, target, commentMarker(settings.projectId, name)); // starts looking for it now
    }

    access = settings.apiKey !== null ? { kind: "api-key", token: settings.apiKey } : await WorkflowToken.obtain(settings, USER_AGENT);
    client = clientFor(access, settings.apiUrl, USER_AGENT);
    const workflowToken = access.kind === "github-actions" ? access : null;
    const project = loadProject(client, settings.projectId);
    project.catch(() => {}); // awaited where needed; a failure surfaces there
    // Only the comment and the summary of a live preview read it; never fails the run.
    const masking = plan.kind === "delete" || plan.kind === "cutover" ? Promise.resolve(null) : loadMaskingRuleCount(client, settings.projectId);
    const comment = sticky;
    const context = commentContext;
    const deploy = deployment;
    const deadline = new Deadline(settings.timeoutMs);
    const outcome = await execute(plan, {
      client,
      settings,
      event,
      name,
      projectId: settings.projectId,
      project,
      deadline,
      trace,
      report: (view) => {
        if (view.status === "creating" || view.status === "resetting") void deploy?.report("in_progress", `Preview ${name}: ${view.status}`);
        // Chained on the rule count, so progress updates still go out in order, before the final one.
        void masking.then((rules) => comment?.show(renderComment({ ...context!, maskingRules: rules }, view)));
      },
    });
    const commentUrlOf = (id: number | null) => (id && event.pullRequest?.htmlUrl ? `${event.pullRequest.htmlUrl}#issuecomment-${id}` : null);

    if (deployment && outcome.credentials) {
      await sticky?.settle(); // its id, for the deployment's link
      const ready = outcome.view?.status === "ready" || outcome.view?.status === "reset";
      if (ready) await deployment.report("success", `Preview ${name} is ready`, commentUrlOf(sticky?.id ?? null));
      else await deployment.report("in_progress", `Preview ${name}: its job runs on (wait: false)`);
    }
    if (outcome.operation === "deleted" && octokit) await deactivateFor(octokit, settings, event, name, plan.why);
    await checkSchema({ plan, settings, event, client, octokit, name, deadline, apiTokens: () => workflowToken?.held() ?? [] }, outcome);

    const maskingRules = await masking;
    warnIfUnmasked(outcome.preview, outcome.credentials !== null, maskingRules);
    if (sticky && outcome.view) await sticky.show(renderComment({ ...commentContext!, maskingRules }, outcome.view));
    await sticky?.settle();
    const commentId = sticky?.id ?? null;
    setOutputs(outputsOf(outcome, name, commentId));
    await summarizeOutcome(name, settings.projectId, outcome, commentUrlOf(commentId), maskingRules, event.serverUrl ?? null);
    core.info(`Done: ${outcome.operation}${outcome.preview ? ` preview ${outcome.preview.id}` : ""}`);
  } catch (err) {
    const error = toActionError(settings ? projectNotFound(err, settings.projectId) : err, settings?.apiUrl ?? null, access?.kind ?? "api-key");
    if (sticky && commentContext) await sticky.show(renderComment(commentContext, { status: "failed", preview: trace.preview, error: error.message }));
    await sticky?.settle();
    setOutputs(
      { "preview-id": trace.preview?.id, "preview-name": name, masked: maskedOutput(trace.preview), "job-id": trace.job?.id, "comment-id": sticky?.id },
      { knownOnly: true },
    );
    await summarizeFailure(name, error.message);
    if (deployment && trace.preview) await deployment.report("failure", `Preview ${name} failed: ${error.message.split("\n")[0]}`);
    core.setFailed(error.message);
  } finally {
    await deployment?.settle();
    if (labelToRemove && octokit && target) await removeLabel(octokit, target, labelToRemove);
    await client?.close().catch(() => {});
  }
}

run().catch((err) => core.setFailed(`Unexpected error: ${(err as Error)?.stack ?? String(err)}`));
