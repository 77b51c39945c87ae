// What triggered the run, read once from the runner's environment (GITHUB_EVENT_NAME,
// GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_SERVER_URL, GITHUB_SHA,
// GITHUB_WORKFLOW_REF), as @actions/github's context reads them (that package is not bundled:
// see github-api.ts).
import fs from "node:fs";

export interface PullRequestInfo {
  number: number;
  /** The webhook's `action`: opened, synchronize, labeled, closed, ... */
  action: string;
  merged: boolean;
  title: string;
  htmlUrl: string;
  /** owner/name of the head repository; null when the fork was deleted. */
  headRepo: string | null;
  baseRepo: string;
  /** The head lives in another repository: the workflow has no secrets and a read-only token. */
  fromFork: boolean;
  /** The label just added, on `labeled`. */
  label: string | null;
}

export interface EventInfo {
  /** GITHUB_EVENT_NAME: pull_request, pull_request_target, workflow_dispatch, ... */
  name: string;
  pullRequest: PullRequestInfo | null;
  repo: { owner: string; repo: string } | null;
  /** Link to this workflow run, for the comment and the summary. */
  runUrl: string | null;
  /** GITHUB_SERVER_URL (https://github.com, or a GitHub Enterprise Server's), for links to other runs. */
  serverUrl?: string | null;
  actor: string | null;
  /** The commit the check run and the deployment are for: the pull request's head, else GITHUB_SHA. */
  headSha: string | null;
  /** The workflow file's path in the repository (.github/workflows/x.yml), from GITHUB_WORKFLOW_REF; where annotations point. */
  workflowPath: string | null;
}

interface RawPullRequest {
  number?: number;
  title?: string;
  html_url?: string;
  merged?: boolean;
  head?: { sha?: string; repo?: { full_name?: string } | null };
  base?: { repo?: { full_name?: string } };
}

interface RawPayload {
  action?: string;
  pull_request?: RawPullRequest;
  label?: { name?: string };
  repository?: { name?: string; owner?: { login?: string } };
}

/** The webhook payload at GITHUB_EVENT_PATH; {} without one. */
function readPayload(): RawPayload {
  const file = process.env.GITHUB_EVENT_PATH;
  if (!file) return {};
  if (!fs.existsSync(file)) {
    process.stdout.write(`GITHUB_EVENT_PATH ${file} does not exist\n`);
    return {};
  }
  return JSON.parse(fs.readFileSync(file, "utf8")) as RawPayload;
}

/** GITHUB_REPOSITORY, else the payload's repository; null when neither says. */
function readRepo(payload: RawPayload): EventInfo["repo"] {
  const env = process.env.GITHUB_REPOSITORY;
  if (env) {
    const [owner, repo] = env.split("/");
    return { owner, repo };
  }
  const r = payload.repository;
  return r?.owner?.login && r.name ? { owner: r.owner.login, repo: r.name } : null;
}

export function readEvent(): EventInfo {
  const payload = readPayload();
  // neither GITHUB_REPOSITORY nor a repository in the payload: no comment can be written
  const repo = readRepo(payload);
  const serverUrl = process.env.GITHUB_SERVER_URL ?? "https://github.com";
  const runId = parseInt(process.env.GITHUB_RUN_ID ?? "", 10);
  const repoName = repo ? `${repo.owner}/${repo.repo}` : null;
  const runUrl = repoName && Number.isFinite(runId) ? `${serverUrl}/${repoName}/actions/runs/${runId}` : null;

  let pullRequest: PullRequestInfo | null = null;
  const pr = payload.pull_request;
  if (pr && typeof pr.number === "number") {
    const baseRepo = pr.base?.repo?.full_name ?? repoName ?? "";
    const headRepo = pr.head?.repo?.full_name ?? null;
    pullRequest = {
      number: pr.number,
      action: payload.action ?? "",
      merged: pr.merged === true,
      title: pr.title ?? "",
      htmlUrl: pr.html_url ?? "",
      headRepo,
      baseRepo,
      fromFork: headRepo === null || headRepo.toLowerCase() !== baseRepo.toLowerCase(),
      label: payload.label?.name ?? null,
    };
  }
  // On pull_request GITHUB_SHA is the test merge commit, which no one sees: the head is what the checks tab shows.
  const headSha = pr?.head?.sha || process.env.GITHUB_SHA || null;
  return {
    name: process.env.GITHUB_EVENT_NAME ?? "",
    pullRequest,
    repo,
    runUrl,
    serverUrl: serverUrl || null,
    actor: process.env.GITHUB_ACTOR ?? null,
    headSha,
    workflowPath: workflowPath(repoName),
  };
}

/** "owner/repo/.github/workflows/preview.yml@refs/pull/7/merge" → ".github/workflows/preview.yml". */
function workflowPath(repoName: string | null): string | null {
  const ref = process.env.GITHUB_WORKFLOW_REF ?? "";
  const at = ref.lastIndexOf("@");
  const full = at > 0 ? ref.slice(0, at) : ref;
  if (!repoName || !full.toLowerCase().startsWith(`${repoName.toLowerCase()}/`)) return null;
  return full.slice(repoName.length + 1) || null;
}
