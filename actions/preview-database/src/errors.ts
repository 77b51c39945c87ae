// Errors the user sees: every failure ends as one ActionError whose message says what went
// wrong and what to do, never an API key or a password.
import { CapyApiError, CapyNetworkError } from "@capydb/api";

/** Where the README says how a workflow signs in without an API key (trust policies, permissions). */
export const OIDC_DOCS_URL = "https://github.com/capydb/capydb/blob/main/actions/preview-database/README.md#github-actions-oidc";

/** How this run signs in to CapyDB: the `api-key` input, or a token exchanged for the job's GitHub ID token. */
export type AuthKind = "api-key" | "github-actions";

/** A failure whose message is written for the workflow's author. */
export class ActionError extends Error {
  override readonly name = "ActionError";
}

/** An input that cannot be used: the message names it, as `name`. */
export class InputError extends ActionError {
  constructor(
    readonly input: string,
    problem: string,
  ) {
    super(`Input \`${input}\`: ${problem}`);
  }
}

/** Turns whatever was thrown into the message the step fails with. */
export function toActionError(err: unknown, apiUrl: string | null, auth: AuthKind = "api-key"): ActionError {
  if (err instanceof ActionError) return err;
  if (err instanceof CapyApiError && auth === "github-actions") {
    if (err.code === "unauthorized") {
      return new ActionError(
        `CapyDB refused this workflow's token (401 on ${err.method} ${err.path}: ${err.message}), a new one too: its trust policy ` +
          `may have been deleted. Check the project's trust policies: ${OIDC_DOCS_URL}`,
      );
    }
    if (err.code === "forbidden") {
      return new ActionError(
        `This workflow's token may not do this (403 on ${err.method} ${err.path}: ${err.message}). The trust policy's \`commands\` ` +
          `limit what its tokens do: add the one named to the policy, or pass an \`api-key\` (${OIDC_DOCS_URL})`,
      );
    }
  }
  if (err instanceof CapyApiError) {
    switch (err.code) {
      case "unauthorized":
        return new ActionError(
          `CapyDB rejected the API key (401: ${err.message}). Check the secret passed as \`api-key\`: it must be an org- or ` +
            `project-scoped key (capy_live_...) that has not been revoked.`,
        );
      case "forbidden":
        return new ActionError(
          `The API key is not allowed to do this (403 on ${err.method} ${err.path}: ${err.message}): use a key of the organization that owns the project, or one scoped to it.`,
        );
      case "masking_coverage_incomplete":
        return new ActionError(
          `CapyDB made no masked preview: the project's masking rules require coverage, and columns that look personal have no rule ` +
            `(409 on ${err.method} ${err.path}: ${err.message}). Add rules for them (GET /v1/projects/{id}/masking-rules lists uncovered_columns), ` +
            `or turn require_coverage off.`,
        );
      default:
        return new ActionError(`The CapyDB API answered ${err.status} (${err.code}) to ${err.method} ${err.path}: ${err.message}`);
    }
  }
  if (err instanceof CapyNetworkError) {
    return new ActionError(
      `Could not reach the CapyDB API${apiUrl ? ` at ${apiUrl}` : ""}: ${err.message}. Check \`api-url\` and that the runner can reach it.`,
    );
  }
  const e = err as Error;
  return new ActionError(`Unexpected error: ${e?.stack ?? String(err)}`);
}
