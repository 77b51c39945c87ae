// Trust policies: who may manage them, the API object, and the exchange of a GitHub Actions ID
// token for a short-lived token of one project (the rows are store.ts's).
import { TRUST_POLICY_COMMANDS, type CreateTrustPolicyRequest, type OidcAccessToken, type TrustPolicy } from "@capydb/api";
import type { AppContext } from "../context.js";
import type { Principal } from "../http/auth.js";
import { canAccess } from "../http/auth.js";
import { forbidden, notFound, projectStateConflict, unauthorized } from "../http/errors.js";
import { newId } from "../platform/secrets.js";
import { loadProject, type ProjectRow } from "../projects/store.js";
import type { GitHubClaims, GitHubOidcVerifier } from "./github-oidc.js";
import { choosePolicy } from "./policy-match.js";
import { hashAccessToken, newAccessTokenSecret } from "./tokens.js";
import {
  deleteTrustPolicy,
  insertAccessToken,
  insertTrustPolicy,
  listProjectTrustPolicies,
  loadTrustPolicy,
  pinRepositoryId,
  pruneExpiredAccessTokens,
  type TrustPolicyRow,
} from "./store.js";

export function toApiTrustPolicy(r: TrustPolicyRow): TrustPolicy {
  return {
    id: r.id,
    project_id: r.project_id,
    organization_id: r.organization_id,
    provider: r.provider,
    repository: r.repository,
    repository_id: r.repository_id,
    refs: r.refs,
    environments: r.environments,
    events: r.events,
    commands: r.commands,
    allow_forks: r.allow_forks,
    created_at: r.created_at.toISOString(),
  };
}

/**
 * Trust policies hand out access to a project, so they are managed by those who could make an
 * API key for it: the organization (its keys and users) and platform admins. Project-scoped
 * callers, GitHub Actions tokens included, are refused, after they were told nothing of
 * projects that are not theirs (404 first).
 */
function requirePolicyManager(p: Principal): void {
  if (p.actorKind === "github_actions") throw forbidden("a GitHub Actions token cannot manage trust policies: use an organization key");
  if (p.kind === "project") throw forbidden("a project-scoped API key cannot manage trust policies: use an organization key");
}

const unique = <T>(values: T[] | undefined): T[] | null => (values ? [...new Set(values)] : null);

export async function createTrustPolicy(ctx: AppContext, principal: Principal, project: ProjectRow, body: CreateTrustPolicyRequest): Promise<TrustPolicyRow> {
  requirePolicyManager(principal);
  if (project.state === "deleting" || project.state === "deleted") throw projectStateConflict(project.state, `project is ${project.state}`);
  return insertTrustPolicy(ctx.db, {
    id: newId("tp"),
    organization_id: project.organization_id,
    project_id: project.id,
    provider: body.provider ?? "github",
    repository: body.repository,
    repository_id: body.repository_id === undefined ? null : String(body.repository_id),
    refs: unique(body.refs),
    environments: unique(body.environments),
    events: unique(body.events),
    commands: unique(body.commands) ?? [...TRUST_POLICY_COMMANDS],
    allow_forks: body.allow_forks ?? false,
  });
}

export async function listTrustPolicies(ctx: AppContext, principal: Principal, project: ProjectRow): Promise<TrustPolicyRow[]> {
  requirePolicyManager(principal);
  return listProjectTrustPolicies(ctx.db, project.id);
}

/** A policy in force that the principal may manage: 404 when it cannot see it, 403 when it sees but may not manage. */
export async function getTrustPolicy(ctx: AppContext, principal: Principal, id: string): Promise<TrustPolicyRow> {
  const policy = await loadTrustPolicy(ctx.db, id);
  if (!policy || !canAccess(principal, policy.organization_id, policy.project_id)) throw notFound(`trust policy ${id} not found`);
  requirePolicyManager(principal);
  return policy;
}

/** Deletes a policy the principal may see (404 otherwise); the tokens it issued stop working at once. */
export async function removeTrustPolicy(ctx: AppContext, principal: Principal, id: string): Promise<void> {
  await getTrustPolicy(ctx, principal, id);
  if (!(await deleteTrustPolicy(ctx.db, id))) throw notFound(`trust policy ${id} not found`);
}

/** The pull request a run belongs to, from its ref (refs/pull/N/merge or refs/pull/N/head). */
export function pullRequestNumberOf(ref: string): number | null {
  const m = /^refs\/pull\/(\d{1,9})\/(merge|head)$/.exec(ref);
  return m ? Number(m[1]) : null;
}

/**
 * Verifies the ID token (401), finds the project (404), matches its policies (403 naming the
 * claim that did not match) and issues a token living at most the configured time and never
 * past the ID token's own expiry.
 */
export async function exchangeGitHubToken(ctx: AppContext, verifier: GitHubOidcVerifier, idToken: string, projectId: string): Promise<OidcAccessToken> {
  // The token is checked before the project is looked up: without one of GitHub's tokens for
  // this server, nobody learns whether a project id exists.
  const claims = await verifier.verify(idToken);
  const project = await loadProject(ctx.db, projectId);
  if (!project || project.state === "deleting" || project.state === "deleted") throw notFound(`project ${projectId} not found`, "project_not_found");
  const policies = await listProjectTrustPolicies(ctx.db, project.id);
  if (policies.length === 0) throw forbidden(`repository: project ${project.id} trusts no GitHub repository (it has no trust policy)`);
  const chosen = choosePolicy(policies, claims);
  if ("refusal" in chosen) throw forbidden(chosen.refusal.message);
  const policy = chosen.policy;
  if (policy.repository_id === null) {
    // trust on first use: from now on only this repository, not another made under its name
    const pinned = await pinRepositoryId(ctx.db, policy.id, claims.repository_id);
    if (pinned !== claims.repository_id) throw forbidden(`repository_id: trust policy ${policy.id} was pinned to another repository of this name`);
  }
  return issueToken(ctx, project, policy, claims);
}

async function issueToken(ctx: AppContext, project: ProjectRow, policy: TrustPolicyRow, claims: GitHubClaims): Promise<OidcAccessToken> {
  const expiresAt = new Date(Math.min(Date.now() + ctx.config.githubOidc.tokenTtlSeconds * 1000, claims.exp * 1000));
  // jose allowed for clock skew; a token that would be born expired is of no use
  if (expiresAt.getTime() <= Date.now()) throw unauthorized("token: has expired (exp): request a new one");
  const secret = newAccessTokenSecret();
  await pruneExpiredAccessTokens(ctx.db);
  await insertAccessToken(ctx.db, {
    id: newId("otk"),
    secretHash: hashAccessToken(secret),
    trustPolicyId: policy.id,
    organizationId: project.organization_id,
    projectId: project.id,
    actorId: `${claims.repository}#${claims.run_id}`,
    prNumber: pullRequestNumberOf(claims.ref),
    sha: claims.sha,
    expiresAt,
  });
  return { access_token: secret, expires_at: expiresAt.toISOString(), project_id: project.id, commands: policy.commands };
}
