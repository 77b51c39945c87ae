// What this run should do, decided from the settings and the event alone (no I/O), so the
// whole event table is one readable function.
import type { ActionSettings } from "./settings.js";
import type { EventInfo } from "./event.js";
import { InputError } from "./errors.js";

export type Plan =
  /**
   * Create the preview, or reuse the live one of that name; reset it first when `reset`; extend its
   * TTL when reused; then diff its schema against production when `schemaDiff`.
   */
  | { kind: "ensure"; reset: boolean; schemaDiff: boolean; why: string }
  /** Reset the preview's data (created when missing); remove `removeLabel` from the pull request. */
  | { kind: "reset"; removeLabel: string | null; why: string }
  | { kind: "delete"; why: string }
  | { kind: "extend"; why: string }
  /** Open a cutover request for the preview (one per preview: a re-run finds it) and keep the preview. */
  | { kind: "cutover"; why: string }
  /** Diff the live preview's schema against production (after the workflow's own migrations): no create, no reset. */
  | { kind: "check"; why: string }
  | { kind: "skip"; why: string };

const PULL_REQUEST_EVENTS = new Set(["pull_request", "pull_request_target"]);

/** Fork pull requests are skipped before any input is read: their workflows get no secrets and no ID token. */
export function forkSkip(event: EventInfo): Plan | null {
  const pr = event.pullRequest;
  if (!pr || !PULL_REQUEST_EVENTS.has(event.name) || !pr.fromFork) return null;
  return {
    kind: "skip",
    why:
      `Pull request #${pr.number} comes from a fork (${pr.headRepo ?? "a deleted repository"}): GitHub gives its workflows no secrets, ` +
      `no ID token and a read-only token, so no preview database is made for it. A maintainer can run the workflow with ` +
      `workflow_dispatch (command: create, preview-name: pr-${pr.number}) after reviewing the change.`,
  };
}

/**
 * Dependabot's pull requests run without the repository's Actions secrets (only Dependabot
 * secrets): with neither an API key nor an ID token there, they are skipped like forks instead of
 * failing. (Their workflows do get an ID token when they ask for `id-token: write`.)
 */
export function dependabotSkip(event: EventInfo, credentialGiven: boolean): Plan | null {
  if (credentialGiven || event.actor !== "dependabot[bot]" || !event.pullRequest) return null;
  return {
    kind: "skip",
    why:
      `Pull request #${event.pullRequest.number} was opened by Dependabot, whose workflows get no Actions secrets: \`api-key\` is empty ` +
      `and the job has no ID token, so no preview database is made. Add CAPYDB_API_KEY as a Dependabot secret, or grant the job ` +
      "`permissions: id-token: write` (with a trust policy on the project), to give its pull requests previews too.",
  };
}

export function planFor(settings: ActionSettings, event: EventInfo): Plan {
  const pr = event.pullRequest;
  const labeledForReset = pr?.action === "labeled" && pr.label === settings.resetLabel ? settings.resetLabel : null;
  switch (settings.command) {
    case "create":
      return { kind: "ensure", reset: false, schemaDiff: false, why: "command: create" };
    case "reset":
      return { kind: "reset", removeLabel: labeledForReset, why: "command: reset" };
    case "delete":
      return { kind: "delete", why: "command: delete" };
    case "extend":
      return { kind: "extend", why: "command: extend" };
    case "cutover":
      return { kind: "cutover", why: "command: cutover" };
    case "check":
      return { kind: "check", why: "command: check" };
    case "auto":
      break;
  }
  if (!pr || !PULL_REQUEST_EVENTS.has(event.name)) {
    throw new InputError(
      "command",
      `auto works on pull_request events; this run was triggered by "${event.name || "an unknown event"}": set command to create, reset, delete, extend, cutover or check (and preview-name)`,
    );
  }
  switch (pr.action) {
    case "opened":
    case "reopened":
    case "ready_for_review":
      // ready_for_review brings no new commits: the head's schema was checked when they were pushed.
      return { kind: "ensure", reset: false, schemaDiff: settings.schemaDiff && pr.action !== "ready_for_review", why: `pull request ${pr.action}` };
    case "synchronize":
      return settings.onPush === "reset"
        ? { kind: "ensure", reset: true, schemaDiff: settings.schemaDiff, why: "new commits pushed (on-push: reset)" }
        : { kind: "ensure", reset: false, schemaDiff: settings.schemaDiff, why: "new commits pushed (on-push: reuse)" };
    case "labeled":
      if (labeledForReset) return { kind: "reset", removeLabel: labeledForReset, why: `label "${labeledForReset}" added` };
      return { kind: "skip", why: `Label "${pr.label ?? ""}" is not the reset label ("${settings.resetLabel}"): nothing to do.` };
    case "closed":
      if (pr.merged && settings.cutoverOnMerge) return { kind: "cutover", why: "pull request merged (cutover-on-merge: true)" };
      return { kind: "delete", why: pr.merged ? "pull request merged (cutover-on-merge: false)" : "pull request closed without merging" };
    default:
      return { kind: "skip", why: `The pull request event "${pr.action}" needs no change to the preview database.` };
  }
}
