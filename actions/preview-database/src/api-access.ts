// How the action signs in to CapyDB: the `api-key` input when given; otherwise this job's GitHub
// ID token (permissions: id-token: write), exchanged for a short-lived token of the project under
// one of its trust policies. The exchanged token is masked before anything else sees it.
//
// GitHub's ID tokens live five minutes and CapyDB never lets the exchanged token outlive its ID
// token, so a run that waits longer than that gets a new pair: api-client.ts answers a 401 with
// renew() and sends the refused call again (a 401 means the server did nothing).
import * as core from "@actions/core";
import { CapyApiError, CapyClient, type OidcAccessToken } from "@capydb/api";
import type { ActionSettings } from "./settings.js";
import { ActionError, InputError, OIDC_DOCS_URL } from "./errors.js";

/** Whether the runner can give this job an ID token: GitHub sets both only with `permissions: id-token: write`. */
export function idTokenRequestable(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN);
}

/** Why neither way to sign in is there: the one message that names both. */
export function noCredentialProblem(): string {
  return (
    "is empty, and this job cannot request a GitHub ID token (ACTIONS_ID_TOKEN_REQUEST_URL is not set). Give it one of the two: " +
    "pass an API key from a secret (`api-key: ${{ secrets.CAPYDB_API_KEY }}`), or grant the job `permissions: id-token: write` " +
    `and add a trust policy for this repository to the project (no secret needed): ${OIDC_DOCS_URL}`
  );
}

export type ApiAccess = ApiKeyAccess | WorkflowToken;

export interface ApiKeyAccess {
  kind: "api-key";
  token: string;
}

/** The exchanged token of this run, renewed when CapyDB stops taking it. */
export class WorkflowToken {
  readonly kind = "github-actions";
  #current: OidcAccessToken;
  #renewing: Promise<string> | null = null;
  readonly #held: string[] = [];

  private constructor(
    first: OidcAccessToken,
    private readonly settings: ActionSettings,
    private readonly userAgent: string,
  ) {
    this.#current = first;
    this.#held.push(first.access_token);
  }

  static async obtain(settings: ActionSettings, userAgent: string): Promise<WorkflowToken> {
    core.info(`No \`api-key\`: signing in to CapyDB with this job's GitHub ID token (audience ${settings.oidcAudience})`);
    const first = await exchangeIdToken(settings, userAgent);
    core.info(`Signed in to CapyDB: a token of project ${first.project_id} until ${first.expires_at}, for ${first.commands.join(", ")}`);
    return new WorkflowToken(first, settings, userAgent);
  }

  get token(): string {
    return this.#current.access_token;
  }

  /** Every token this run held: blanked out of anything shown (they are masked in the log already). */
  held(): string[] {
    return [...this.#held];
  }

  /**
   * A new token after `refused` got a 401; calls refused together share one exchange, and a call
   * refused with a token already replaced just gets the newer one.
   */
  renew(refused: string, why: string): Promise<string> {
    if (refused !== this.token) return Promise.resolve(this.token);
    this.#renewing ??= (async () => {
      core.info(`CapyDB no longer takes this run's token (401: ${why}): exchanging a new GitHub ID token for another`);
      try {
        const next = await exchangeIdToken(this.settings, this.userAgent);
        this.#current = next;
        this.#held.push(next.access_token);
        return next.access_token;
      } finally {
        this.#renewing = null;
      }
    })();
    return this.#renewing;
  }
}

async function requestIdToken(audience: string): Promise<string> {
  try {
    return await core.getIDToken(audience); // masked by @actions/core as it arrives
  } catch (err) {
    const why = ((err as Error)?.message ?? String(err)).replace(/\s+/g, " ").trim();
    throw new ActionError(
      `Could not get this job's GitHub ID token (audience ${audience}): ${why}. The job needs \`permissions: id-token: write\`; ` +
        `or pass \`api-key\` instead (${OIDC_DOCS_URL})`,
    );
  }
}

async function exchangeIdToken(settings: ActionSettings, userAgent: string): Promise<OidcAccessToken> {
  const idToken = await requestIdToken(settings.oidcAudience);
  const anonymous = new CapyClient({
    baseUrl: settings.apiUrl,
    userAgent,
    onResponseMismatch: (m) =>
      core.debug(`CapyDB answer to ${m.method} ${m.endpoint} differs from the client's schema: ${JSON.stringify(m.issues.slice(0, 3))}`),
  });
  try {
    const answer = await anonymous.exchangeGitHubOidcToken({ token: idToken, project_id: settings.projectId });
    const accessToken = (answer as { access_token?: unknown })?.access_token;
    if (typeof accessToken !== "string" || accessToken === "") throw new ActionError("CapyDB answered the GitHub ID token exchange without an access_token");
    core.setSecret(accessToken); // before anything can print it
    if (!Array.isArray(answer.commands)) answer.commands = [];
    return answer;
  } catch (err) {
    throw exchangeRefused(err, settings);
  } finally {
    await anonymous.close().catch(() => {});
  }
}

/** The server's reason, kept as it is (it names the check or the claim), and what to do about it. */
function exchangeRefused(err: unknown, settings: ActionSettings): unknown {
  if (!(err instanceof CapyApiError)) return err;
  if (err.status === 404 && err.code === "project_not_found") {
    return new InputError("project-id", `project ${settings.projectId} was not found (CapyDB answered 404 to the GitHub ID token exchange)`);
  }
  if (err.status === 401) {
    const audience = /\baud(ience)?\b/.test(err.message)
      ? ` The token was asked for audience ${settings.oidcAudience} (input \`oidc-audience\`, by default \`api-url\`): it must be the ` +
        "server's CAPYDB_GITHUB_OIDC_AUDIENCE, which defaults to its public URL."
      : "";
    return new ActionError(`CapyDB refused this job's GitHub ID token (401: ${err.message}).${audience} See ${OIDC_DOCS_URL}`);
  }
  if (err.status === 403) {
    return new ActionError(
      `No trust policy of project ${settings.projectId} lets this workflow in (403: ${err.message}). Add one for this repository, or widen ` +
        `the one named (its refs, events, environments), with an organization key: ${OIDC_DOCS_URL}`,
    );
  }
  return err;
}
