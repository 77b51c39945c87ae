// Calls to GitHub's API: the sticky comment (found by its marker across all pages of the
// pull request's comments, edited in place, not re-sent when unchanged), label removal, and the
// retry and status helpers the check run (check-run.ts) and the deployment (deployments.ts) share.
// GitHub trouble never fails the step: the database is what the workflow needs.
import * as core from "@actions/core";
import * as github from "@actions/github";

export type Octokit = ReturnType<typeof github.getOctokit>;

export interface IssueTarget {
  owner: string;
  repo: string;
  issueNumber: number;
}

const RETRY_DELAYS_MS = [300, 1_000, 3_000];

export function status(err: unknown): number | undefined {
  const s = (err as { status?: unknown })?.status;
  return typeof s === "number" ? s : undefined;
}

/** GitHub's 5xx, rate limits and network errors are retried; the rest is answered at once. */
export async function withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const s = status(err);
      const transient = s === undefined || s >= 500 || s === 429;
      if (!transient || attempt >= RETRY_DELAYS_MS.length) throw err;
      core.debug(`GitHub: ${what} failed (${s ?? (err as Error).message}); retrying`);
      await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]));
    }
  }
}

function explain(err: unknown): string {
  const s = status(err);
  const hint =
    s === 403 || s === 404
      ? " (give the workflow `permissions: pull-requests: write` and `issues: write`, or pass a token that has them as `github-token`)"
      : "";
  return `${s ? `HTTP ${s}: ` : ""}${(err as Error).message ?? String(err)}${hint}`;
}

export function createOctokit(token: string): Octokit {
  return github.getOctokit(token);
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
    const pages = this.octokit.paginate.iterator(this.octokit.rest.issues.listComments, { owner, repo, issue_number: issueNumber, per_page: 100 });
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
    await withRetry("delete duplicate comment", () => this.octokit.rest.issues.deleteComment({ owner, repo, comment_id: created }));
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
        const { data } = await withRetry("create comment", () => this.octokit.rest.issues.createComment({ owner, repo, issue_number: issueNumber, body }));
        this.#id = data.id;
        this.#body = body;
        core.info(`Pull request comment ${data.id} created`);
        await this.#resolveRace(data.id);
        if (this.#body === body) return;
      }
      const id = this.#id!;
      await withRetry("update comment", () => this.octokit.rest.issues.updateComment({ owner, repo, comment_id: id, body }));
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
    await withRetry("remove label", () => octokit.rest.issues.removeLabel({ owner: target.owner, repo: target.repo, issue_number: target.issueNumber, name }));
    core.info(`Label "${name}" removed from #${target.issueNumber}`);
  } catch (err) {
    if (status(err) === 404) return;
    core.warning(`Could not remove the label "${name}" from #${target.issueNumber}: ${explain(err)}`);
  }
}
