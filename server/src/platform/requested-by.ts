// Who asked for what a request writes. Jobs are enqueued from many places far below the routes
// (a preview's create, reset and delete, a schema diff, a cutover's follow-ups), so rather than
// every service passing the caller down, the HTTP layer opens a scope per request and the
// statements that insert jobs and previews read it here (requested_by_* columns).
import { AsyncLocalStorage } from "node:async_hooks";

export type ActorKind = "api_key" | "user" | "github_actions";

export interface RequestedBy {
  actorKind: ActorKind;
  /** The API key's or user's id; for GitHub Actions owner/repo#<run id>. */
  actorId: string;
  /** The pull request the workflow run belongs to, where known. */
  prNumber: number | null;
  /** The commit the workflow run is for, where known. */
  sha: string | null;
}

/** Mutable so the scope can be emptied when the answer is sent (work it started later is not the caller's). */
export interface RequestScope {
  requestedBy: RequestedBy | null;
}

const scopes = new AsyncLocalStorage<RequestScope>();

/** Runs `next` (the rest of the request's handling) inside the scope. */
export function withinRequestScope(scope: RequestScope, next: () => void): void {
  scopes.run(scope, next);
}

/** The caller of the request being handled, or null outside one (the workers, the scheduler). */
export function currentRequestedBy(): RequestedBy | null {
  return scopes.getStore()?.requestedBy ?? null;
}
