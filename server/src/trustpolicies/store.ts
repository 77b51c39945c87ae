// The trust_policies and oidc_access_tokens tables: their row types and every statement that
// writes them (one writer per table).
import type { TrustPolicyCommand } from "@capydb/api";
import type { Queryable } from "../platform/store/db.js";

export interface TrustPolicyRow {
  id: string;
  organization_id: string;
  project_id: string;
  provider: "github";
  repository: string;
  repository_id: string | null;
  refs: string[] | null;
  environments: string[] | null;
  events: string[] | null;
  commands: TrustPolicyCommand[];
  allow_forks: boolean;
  created_at: Date;
  deleted_at: Date | null;
}

export type NewTrustPolicy = Omit<TrustPolicyRow, "created_at" | "deleted_at">;

export async function insertTrustPolicy(db: Queryable, p: NewTrustPolicy): Promise<TrustPolicyRow> {
  const { rows } = await db.query<TrustPolicyRow>(
    `INSERT INTO trust_policies (id, organization_id, project_id, provider, repository, repository_id, refs, environments, events, commands, allow_forks)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
    [p.id, p.organization_id, p.project_id, p.provider, p.repository, p.repository_id, p.refs, p.environments, p.events, p.commands, p.allow_forks],
  );
  return rows[0];
}

/** A project's policies in force, oldest first (the order an exchange tries them in). */
export async function listProjectTrustPolicies(db: Queryable, projectId: string): Promise<TrustPolicyRow[]> {
  const { rows } = await db.query<TrustPolicyRow>("SELECT * FROM trust_policies WHERE project_id = $1 AND deleted_at IS NULL ORDER BY created_at, id", [
    projectId,
  ]);
  return rows;
}

/** A policy in force, by id. */
export async function loadTrustPolicy(db: Queryable, id: string): Promise<TrustPolicyRow | null> {
  return (await db.query<TrustPolicyRow>("SELECT * FROM trust_policies WHERE id = $1 AND deleted_at IS NULL", [id])).rows[0] ?? null;
}

/**
 * Pins the repository's id on a policy that has none yet (trust on first use); answers the id
 * the policy holds afterwards, which differs from `repositoryId` when another was pinned first.
 */
export async function pinRepositoryId(db: Queryable, policyId: string, repositoryId: string): Promise<string | null> {
  const { rows } = await db.query<{ repository_id: string | null }>(
    "UPDATE trust_policies SET repository_id = coalesce(repository_id, $2) WHERE id = $1 RETURNING repository_id",
    [policyId, repositoryId],
  );
  return rows[0]?.repository_id ?? null;
}

/** Deletes the policy and revokes every token it issued, at once; answers whether it was in force. */
export async function deleteTrustPolicy(db: Queryable, id: string): Promise<boolean> {
  const { rows } = await db.query<{ id: string }>(
    `WITH deleted AS (UPDATE trust_policies SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id),
          revoked AS (UPDATE oidc_access_tokens SET revoked_at = now() WHERE trust_policy_id IN (SELECT id FROM deleted) AND revoked_at IS NULL)
     SELECT id FROM deleted`,
    [id],
  );
  return rows.length > 0;
}

/** A project being deleted takes its policies and their tokens with it. */
export async function deleteProjectTrustPolicies(db: Queryable, projectId: string): Promise<void> {
  await db.query(
    `WITH deleted AS (UPDATE trust_policies SET deleted_at = now() WHERE project_id = $1 AND deleted_at IS NULL RETURNING id)
     UPDATE oidc_access_tokens SET revoked_at = now() WHERE project_id = $1 AND revoked_at IS NULL`,
    [projectId],
  );
}

// oidc_access_tokens

export interface NewAccessToken {
  id: string;
  secretHash: string;
  trustPolicyId: string;
  organizationId: string;
  projectId: string;
  actorId: string;
  prNumber: number | null;
  sha: string | null;
  expiresAt: Date;
}

export async function insertAccessToken(db: Queryable, t: NewAccessToken): Promise<void> {
  await db.query(
    `INSERT INTO oidc_access_tokens (id, secret_hash, trust_policy_id, organization_id, project_id, actor_id, pr_number, sha, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [t.id, t.secretHash, t.trustPolicyId, t.organizationId, t.projectId, t.actorId, t.prNumber, t.sha, t.expiresAt],
  );
}

/** Tokens a week past their expiry are of no use to anyone: removed a few at a time as new ones are made. */
export async function pruneExpiredAccessTokens(db: Queryable): Promise<void> {
  await db.query(
    `DELETE FROM oidc_access_tokens WHERE id IN (
       SELECT id FROM oidc_access_tokens WHERE expires_at < now() - interval '7 days' LIMIT 100 FOR UPDATE SKIP LOCKED)`,
  );
}

/** What authentication reads of a token, whatever its state (the caller says why it is refused). */
export interface AuthAccessTokenRow {
  id: string;
  organization_id: string;
  project_id: string;
  trust_policy_id: string;
  actor_id: string;
  pr_number: number | null;
  sha: string | null;
  expires_at: Date;
  commands: TrustPolicyCommand[];
  expired: boolean;
  revoked: boolean;
  project_gone: boolean;
}

export async function findAccessToken(db: Queryable, secretHash: string): Promise<AuthAccessTokenRow | null> {
  // A named statement: planned once per connection, not on every request.
  const { rows } = await db.query<AuthAccessTokenRow>({
    name: "auth_oidc_access_token",
    text: `SELECT t.id, t.organization_id, t.project_id, t.trust_policy_id, t.actor_id, t.pr_number, t.sha, t.expires_at, p.commands,
                  t.expires_at <= now() AS expired,
                  t.revoked_at IS NOT NULL OR p.deleted_at IS NOT NULL AS revoked,
                  pr.state IN ('deleting', 'deleted') AS project_gone
           FROM oidc_access_tokens t JOIN trust_policies p ON p.id = t.trust_policy_id JOIN projects pr ON pr.id = t.project_id
           WHERE t.secret_hash = $1`,
    values: [secretHash],
  });
  return rows[0] ?? null;
}
