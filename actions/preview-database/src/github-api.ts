// Calls to GitHub's API: the client (Octokit with the retry and throttling plugins), the sticky
// comment (found by its marker across all pages of the pull request's comments, edited in place,
// not re-sent when unchanged), label removal, and the status helper the check run (check-run.ts)
// and the deployment (deployments.ts) share.
// GitHub trouble never fails the step: the database is what the workflow needs.
//
// Octokit is built here from @octokit/core rather than through @actions/github, whose transport
// carries a copy of undici (about 0.9 MB of the bundle) for proxy support: requests go through
// Node's fetch, or, when the runner has a proxy for GitHub's API (https_proxy, no_proxy),
// through @actions/http-client, which @actions/core brings anyway. Calls name their REST route
// (typed by @octokit/types) instead of octokit.rest.*: that plugin's table of every GitHub
// endpoint is about 0.1 MB of the bundle for the eleven routes used here.
import { Readable } from "node:stream";
import * as core from "@actions/core";
import { HttpClient, getProxyUrl } from "@actions/http-client";
import { Octokit as OctokitCore } from "@octokit/core";
import { paginateRest } from "@octokit/plugin-paginate-rest";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import Bottleneck from "bottleneck/light.js";

/** Retries after GitHub's 5xx and network errors (the retry plugin: 0.3 s, 1.2 s, 2.7 s). */
export const SERVER_ERROR_RETRIES = 3;
/** Retries after a rate limit (the throttling plugin), each after the wait GitHub asks for. */
export const RATE_LIMIT_RETRIES = 2;
/** A rate limit that asks for a longer wait than this is not waited for. */
export const MAX_RATE_LIMIT_WAIT_S = 60;

/** Logs each failed attempt; registered first, so it sees the attempts the plugins retry. */
function logAttempts(octokit: OctokitCore): void {
  octokit.hook.error("request", (err, options) => {
    core.debug(`GitHub: ${options.method} ${options.url} failed (${status(err) ?? (err as Error).message})`);
    throw err;
  });
}

const GitHubClient = OctokitCore.plugin(paginateRest, logAttempts, retry, throttling);

export type Octokit = InstanceType<typeof GitHubClient>;

export interface IssueTarget {
  owner: string;
  repo: string;
  issueNumber: number;
}

export function status(err: unknown): number | undefined {
  const s = (err as { status?: unknown })?.status;
  return typeof s === "number" ? s : undefined;
}

export function githubApiUrl(): string {
  return process.env.GITHUB_API_URL || "https://api.github.com";
}

/** The runner's orchestration id in the user agent, as @actions/github sends it. */
function userAgent(): string | undefined {
  const id = process.env.ACTIONS_ORCHESTRATION_ID?.trim();
  return id ? `actions_orchestration_id/${id.replace(/[^a-z0-9_.-]/gi, "_")}` : undefined;
}

/** fetch over @actions/http-client, for a runner behind a proxy (Node's fetch ignores https_proxy). */
export function proxiedFetch(client: HttpClient): typeof fetch {
  return async (input, init = {}) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => (headers[name] = value));
    if (init.body !== undefined && init.body !== null && typeof init.body !== "string") throw new TypeError("only string bodies are supported");
    const res = await client.request(init.method ?? "GET", url, init.body ?? null, headers);
    const answer = new Headers();
    for (const [name, value] of Object.entries(res.message.headers)) {
      for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) answer.append(name, v);
    }
    const code = res.message.statusCode ?? 502;
    const noBody = init.method === "HEAD" || [101, 204, 205, 304].includes(code);
    if (noBody) res.message.resume();
    const body = noBody ? null : (Readable.toWeb(res.message) as ReadableStream<Uint8Array>);
    return new Response(body, { status: code, statusText: res.message.statusMessage ?? "", headers: answer });
  };
}

/** Decides whether to wait out a rate limit: a bounded number of times, a bounded wait. */
function rateLimitHandler(kind: string) {
  return (retryAfter: number, options: { method: string; url: string }, _octokit: unknown, retryCount: number): boolean => {
    const what = `${options.method} ${options.url}`;
    if (retryCount < RATE_LIMIT_RETRIES && retryAfter <= MAX_RATE_LIMIT_WAIT_S) {
      core.info(`GitHub: ${kind} on ${what}; retrying after ${retryAfter}s (retry ${retryCount + 1} of ${RATE_LIMIT_RETRIES})`);
      return true;
    }
    core.warning(
      retryCount < RATE_LIMIT_RETRIES
        ? `GitHub: ${kind} on ${what} asks to wait ${retryAfter}s, longer than ${MAX_RATE_LIMIT_WAIT_S}s: giving up on this request`
        : `GitHub: ${kind} on ${what} persisted after ${RATE_LIMIT_RETRIES} retries: giving up on this request`,
    );
    return false;
  };
}

/**
 * The throttling plugin's own write groups also space writes out (1 s apart, 3 s for those that
 * notify people): GitHub's advice for integrations writing in bulk. A run writes a handful of
 * times, and the spacing made each run about 4 s slower (measured), so these groups (the
 * plugin's documented `write` / `notifications` options) keep writes one at a time, as GitHub
 * asks, without the spacing; a secondary rate limit, should one come, is still waited out.
 */
const serialWrites = (id: string) => new Bottleneck.Group({ id, maxConcurrent: 1, minTime: 0 });

export function createOctokit(token: string): Octokit {
  const baseUrl = githubApiUrl();
  const proxy = getProxyUrl(baseUrl);
  return new GitHubClient({
    auth: token,
    baseUrl,
    userAgent: userAgent(),
    request: proxy ? { fetch: proxiedFetch(new HttpClient("capydb-preview-database")) } : {},
    log: { debug: () => {}, info: () => {}, warn: (m: string) => core.debug(m), error: (m: string) => core.debug(m) },
    retry: {
      retries: SERVER_ERROR_RETRIES,
      retryAfterBaseValue: 300,
      // 403 and 429 are the throttling plugin's (rate limits, honouring Retry-After); the rest are answers.
      doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451],
    },
    throttle: {
      onRateLimit: rateLimitHandler("rate limit exhausted"),
      onSecondaryRateLimit: rateLimitHandler("secondary rate limit"),
      write: serialWrites("capydb-github-write"),
      notifications: serialWrites("capydb-github-notifications"),
    },
  });
}

function explain(err: unknown): string {
  const s = status(err);
  const rateLimited = (s === 403 || s === 429) && /rate limit/i.test((err as Error).message ?? "");
  const hint = rateLimited
    ? ` (GitHub's rate limit, still in force after ${RATE_LIMIT_RETRIES} retries)`
    : s === 403 || s === 404
      ? " (give the workflow `permissions: pull-requests: write` and `issues: write`, or pass a token that has them as `github-token`)"
      : "";
  return `${s ? `HTTP ${s}: ` : ""}${(err as Error).message ?? String(err)}${hint}`;
}

/**
 * The pull request's one comment of this action for this preview. `show` queues an update
 * (so a progress update can go out while the job runs) and `settle` waits for the queue.
 */
export class StickyComment {
  #id: number | null = null;
  #body: string | null = null;
  #lookup: Promise<void>;
  #queue: Promise<void>;
  #disabled = false;

  constructor(
    private readonly octokit: Octokit,
    private readonly target: IssueTarget,
    private readonly marker: string,
  ) {
    this.#lookup = this.#find().catch((err) => this.#disable("could not read the pull request's comments", err));
    this.#queue = this.#lookup;
  }

  get id(): number | null {
    return this.#id;
  }

  /** The oldest comment of ours on the pull request, looking through every page. */
  async #oldestMarked(): Promise<{ id: number; body: string } | null> {
    const { owner, repo, issueNumber } = this.target;
    const pages = this.octokit.paginate.iterator("GET /repos/{owner}/{repo}/issues/{issue_number}/comments", {
      owner,
      repo,
      issue_number: issueNumber,
      per_page: 100,
    });
    for await (const page of pages) {
      // startsWith: a reply that quotes our comment ("> <!-- ...") is not ours.
      const mine = page.data.find((c) => typeof c.body === "string" && c.body.startsWith(this.marker));
      if (mine) return { id: mine.id, body: mine.body ?? "" };
    }
    return null;
  }

  async #find(): Promise<void> {
    const found = await this.#oldestMarked();
    if (found) {
      this.#id = found.id;
      this.#body = found.body;
    }
  }

  /**
   * Two runs that started together (opened + labeled fire at once) may both have created a
   * comment: the oldest one wins, and the loser deletes its own and edits the winner.
   */
  async #resolveRace(created: number): Promise<void> {
    const oldest = await this.#oldestMarked();
    if (!oldest || oldest.id === created) return;
    const { owner, repo } = this.target;
    await this.octokit.request("DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}", { owner, repo, comment_id: created });
    core.info(`Pull request comment ${created} duplicated ${oldest.id} (a concurrent run): deleted it, editing ${oldest.id}`);
    this.#id = oldest.id;
    this.#body = oldest.body;
  }

  #disable(what: string, err: unknown): void {
    if (!this.#disabled) core.warning(`Pull request comment: ${what}: ${explain(err)}. The preview itself is not affected.`);
    this.#disabled = true;
  }

  show(body: string): Promise<void> {
    this.#queue = this.#queue.then(() => this.#write(body));
    return this.#queue;
  }

  settle(): Promise<void> {
    return this.#queue;
  }

  async #write(body: string): Promise<void> {
    if (this.#disabled) return;
    if (body === this.#body) {
      core.info(`Pull request comment ${this.#id} is already up to date`);
      return;
    }
    const { owner, repo, issueNumber } = this.target;
    try {
      if (this.#id === null) {
        const { data } = await this.octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
          owner,
          repo,
          issue_number: issueNumber,
          body,
        });
        const created = Number(data.id);
        this.#id = created;
        this.#body = body;
        core.info(`Pull request comment ${created} created`);
        await this.#resolveRace(created);
        if (this.#body === body) return;
      }
      const id = this.#id!;
      await this.octokit.request("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", { owner, repo, comment_id: id, body });
      core.info(`Pull request comment ${id} updated`);
      this.#body = body;
    } catch (err) {
      this.#disable(this.#id === null ? "could not create it" : `could not update comment ${this.#id}`, err);
    }
  }
}

/** Takes the label off the pull request; a label already gone is fine. */
export async function removeLabel(octokit: Octokit, target: IssueTarget, name: string): Promise<void> {
  try {
    await octokit.request("DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", {
      owner: target.owner,
      repo: target.repo,
      issue_number: target.issueNumber,
      name,
    });
    core.info(`Label "${name}" removed from #${target.issueNumber}`);
  } catch (err) {
    if (status(err) === 404) return;
    core.warning(`Could not remove the label "${name}" from #${target.issueNumber}: ${explain(err)}`);
  }
}
