// A GitHub deployment per preview: one for the head commit in the environment
// `deployment-environment` (transient, not production), found again by a re-run of the same
// commit, with a status for each state — in_progress while the preview is made or reset,
// success when it is ready, failure when that fails — and every deployment of the environment
// marked inactive once the preview is deleted. A token without `deployments: write` gets a
// warning, never a failed run.
import * as core from "@actions/core";
import { status, type Octokit } from "./github-api.js";
import type { ActionSettings } from "./settings.js";
import type { EventInfo } from "./event.js";
import type { Plan } from "./plan.js";

export type DeploymentState = "in_progress" | "success" | "failure";

export interface DeploymentTarget {
  owner: string;
  repo: string;
  environment: string;
  /** The head commit. */
  ref: string;
  /** This workflow run, where the deployment's log is. */
  logUrl: string | null;
  previewName: string;
  projectId: string;
}

/** GitHub's limit on a status's description. */
const MAX_DESCRIPTION_CHARS = 140;
const describe = (text: string) => (text.length <= MAX_DESCRIPTION_CHARS ? text : `${text.slice(0, MAX_DESCRIPTION_CHARS - 1)}…`);

function warn(environment: string, what: string, err: unknown): void {
  const s = status(err);
  const hint = s === 403 || s === 404 ? ": give the workflow `permissions: deployments: write` (or pass a token that has it as `github-token`)" : "";
  core.warning(
    `Deployment to ${environment}: ${what} (${s ? `HTTP ${s}: ` : ""}${(err as Error)?.message ?? String(err)})${hint}. The preview is not affected.`,
  );
}

/** The preview's deployment for this commit. `report` queues a status; `settle` waits for the queue. */
export class PreviewDeployment {
  #id: number | null = null;
  #last: DeploymentState | null = null;
  #queue: Promise<void> = Promise.resolve();
  #disabled = false;

  constructor(
    private readonly octokit: Octokit,
    private readonly target: DeploymentTarget,
  ) {}

  get id(): number | null {
    return this.#id;
  }

  report(state: DeploymentState, description: string, environmentUrl?: string | null): Promise<void> {
    this.#queue = this.#queue.then(() => this.#post(state, description, environmentUrl ?? null));
    return this.#queue;
  }

  settle(): Promise<void> {
    return this.#queue;
  }

  /** The newest deployment of this environment for this commit (a re-run's), else a new one. */
  async #ensure(): Promise<number> {
    if (this.#id !== null) return this.#id;
    const { owner, repo, environment, ref } = this.target;
    const { data: existing } = await this.octokit.request("GET /repos/{owner}/{repo}/deployments", { owner, repo, environment, sha: ref, per_page: 1 });
    if (existing[0]) {
      this.#id = Number(existing[0].id);
      core.info(`Deployment ${this.#id} to ${environment} for ${ref.slice(0, 12)} exists (an earlier run's): adding to it`);
      return this.#id;
    }
    const { data } = await this.octokit.request("POST /repos/{owner}/{repo}/deployments", {
      owner,
      repo,
      ref,
      environment,
      transient_environment: true,
      production_environment: false,
      required_contexts: [],
      auto_merge: false,
      task: "deploy",
      description: describe(`CapyDB preview database ${this.target.previewName}`),
      payload: { capydb_project_id: this.target.projectId, capydb_preview_name: this.target.previewName },
    });
    if (!("id" in data)) throw new Error(`GitHub made no deployment: ${data.message ?? "no reason given"}`);
    const id = Number(data.id);
    this.#id = id;
    core.info(`Deployment ${id} to ${environment} created for ${ref.slice(0, 12)}`);
    return id;
  }

  async #post(state: DeploymentState, description: string, environmentUrl: string | null): Promise<void> {
    if (this.#disabled || state === this.#last) return;
    const { owner, repo, environment, logUrl } = this.target;
    try {
      const id = await this.#ensure();
      await this.octokit.request("POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses", {
        owner,
        repo,
        deployment_id: id,
        state,
        description: describe(description),
        ...(logUrl ? { log_url: logUrl } : {}),
        ...(environmentUrl ? { environment_url: environmentUrl } : {}),
      });
      this.#last = state;
      core.info(`Deployment ${id} to ${environment}: ${state}`);
    } catch (err) {
      this.#disabled = true;
      warn(environment, this.#id === null ? "could not be created" : `could not be marked ${state}`, err);
    }
  }
}

/** Marks every deployment of the environment inactive that is not already (a re-run posts nothing). */
export async function deactivateDeployments(octokit: Octokit, target: Omit<DeploymentTarget, "ref">, reason: string): Promise<void> {
  const { owner, repo, environment, logUrl } = target;
  try {
    let marked = 0;
    const pages = octokit.paginate.iterator("GET /repos/{owner}/{repo}/deployments", { owner, repo, environment, per_page: 100 });
    for await (const page of pages) {
      for (const deployment of page.data) {
        const { data: statuses } = await octokit.request("GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses", {
          owner,
          repo,
          deployment_id: deployment.id,
          per_page: 1,
        });
        if (statuses[0]?.state === "inactive") continue;
        await octokit.request("POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses", {
          owner,
          repo,
          deployment_id: deployment.id,
          state: "inactive",
          description: describe(reason),
          ...(logUrl ? { log_url: logUrl } : {}),
        });
        marked++;
      }
    }
    core.info(marked ? `Deployments to ${environment}: ${marked} marked inactive` : `Deployments to ${environment}: none left active`);
  } catch (err) {
    warn(environment, "could not be marked inactive", err);
  }
}

/** The deployment of a run that makes or resets the preview; null when it is turned off or cannot be placed. */
export function deploymentFor(plan: Plan, settings: ActionSettings, event: EventInfo, octokit: Octokit | null, name: string): PreviewDeployment | null {
  if ((plan.kind !== "ensure" && plan.kind !== "reset") || !settings.deployment || !octokit || !event.repo) return null;
  if (!settings.deploymentEnvironment || !event.headSha) {
    core.info(
      !event.headSha
        ? "No GitHub deployment: this run names no commit (GITHUB_SHA is empty)"
        : `No GitHub deployment: deployment-environment needs a pull request number, and this ${event.name || "run"} has none`,
    );
    return null;
  }
  return new PreviewDeployment(octokit, {
    ...event.repo,
    environment: settings.deploymentEnvironment,
    ref: event.headSha,
    logUrl: event.runUrl,
    previewName: name,
    projectId: settings.projectId,
  });
}

/** After the preview is deleted: its environment's deployments inactive (when deployments are on and it can be named). */
export async function deactivateFor(octokit: Octokit, settings: ActionSettings, event: EventInfo, name: string, why: string): Promise<void> {
  if (!settings.deployment || !event.repo || !settings.deploymentEnvironment) return;
  const target = { ...event.repo, environment: settings.deploymentEnvironment, logUrl: event.runUrl, previewName: name, projectId: settings.projectId };
  await deactivateDeployments(octokit, target, `Preview ${name} deleted: ${why}`);
}
