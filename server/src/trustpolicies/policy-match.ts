// Whether a GitHub Actions ID token's claims satisfy a trust policy, and if not, the first claim
// that does not: checked from the most basic (which repository) to the most specific (which
// environment), so the refusal names what a person has to change.
import type { GitHubClaims } from "./github-oidc.js";
import type { TrustPolicyRow } from "./store.js";

/**
 * Runs through which code from a fork can hold an ID token of the base repository.
 * GitHub's ID token has no claim naming a pull request's head repository, so "from a fork"
 * cannot be read off a token directly. What can: GitHub gives no `id-token: write` to
 * `pull_request` runs from forks (their permissions are capped at read), while
 * `pull_request_target` and `workflow_run` run in the base repository's context with its
 * permissions, triggered by a fork's pull request, and are how a fork's code gets a token.
 * The claim used is therefore `event_name`.
 */
export const FORK_REACHABLE_EVENTS: ReadonlySet<string> = new Set(["pull_request_target", "workflow_run"]);

export type Mismatch = {
  claim: "repository" | "repository_id" | "event_name" | "ref" | "environment";
  message: string;
  /** How far the token got through the checks: the refusal names the policy it came closest to. */
  depth: number;
};

/** `*` matches exactly one whole path segment; everything else matches itself. */
export function refMatches(pattern: string, ref: string): boolean {
  const want = pattern.split("/");
  const have = ref.split("/");
  return want.length === have.length && want.every((segment, i) => (segment === "*" ? have[i] !== "" : segment === have[i]));
}

const list = (values: string[]) => values.join(", ");

/** null when the policy trusts the token; otherwise the first claim that does not match. */
export function mismatchOf(policy: TrustPolicyRow, claims: GitHubClaims): Mismatch | null {
  // GitHub treats owner and repository names without regard to case.
  if (policy.repository.toLowerCase() !== claims.repository.toLowerCase()) {
    return { claim: "repository", depth: 0, message: `repository: ${claims.repository} is not trusted by this project` };
  }
  if (policy.repository_id !== null && policy.repository_id !== claims.repository_id) {
    return {
      claim: "repository_id",
      depth: 1,
      message:
        `repository_id: ${claims.repository} has id ${claims.repository_id}, but trust policy ${policy.id} was made for the repository of id ${policy.repository_id} ` +
        "(a repository deleted and recreated under the same name is not trusted: create a new trust policy for it)",
    };
  }
  if (!policy.allow_forks && FORK_REACHABLE_EVENTS.has(claims.event_name)) {
    return {
      claim: "event_name",
      depth: 2,
      message: `event_name: ${claims.event_name} runs can carry code from a fork, and trust policy ${policy.id} refuses them (allow_forks is false)`,
    };
  }
  if (policy.events && !policy.events.includes(claims.event_name)) {
    return { claim: "event_name", depth: 3, message: `event_name: ${claims.event_name} is not one of ${list(policy.events)} (trust policy ${policy.id})` };
  }
  if (policy.refs && !policy.refs.some((pattern) => refMatches(pattern, claims.ref))) {
    return { claim: "ref", depth: 4, message: `ref: ${claims.ref || "(none)"} matches none of ${list(policy.refs)} (trust policy ${policy.id})` };
  }
  if (policy.environments) {
    // GitHub's environment names are not case-sensitive either.
    const wanted = policy.environments.map((e) => e.toLowerCase());
    if (claims.environment === null) {
      return {
        claim: "environment",
        depth: 5,
        message: `environment: the job names no environment, and trust policy ${policy.id} needs one of ${list(policy.environments)}`,
      };
    }
    if (!wanted.includes(claims.environment.toLowerCase())) {
      return {
        claim: "environment",
        depth: 5,
        message: `environment: ${claims.environment} is not one of ${list(policy.environments)} (trust policy ${policy.id})`,
      };
    }
  }
  return null;
}

/** The first policy that trusts the token, or the refusal of the one it came closest to. */
export function choosePolicy(policies: TrustPolicyRow[], claims: GitHubClaims): { policy: TrustPolicyRow } | { refusal: Mismatch } {
  let closest: Mismatch | null = null;
  for (const policy of policies) {
    const mismatch = mismatchOf(policy, claims);
    if (!mismatch) return { policy };
    if (!closest || mismatch.depth > closest.depth) closest = mismatch;
  }
  return { refusal: closest! };
}
