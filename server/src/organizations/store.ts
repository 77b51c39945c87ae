// The organizations, api_keys, organization_quotas and users tables: their row types and every
// statement that writes them (one writer per table).
import type { QuotaOverrides } from "@capydb/api";
import type { Queryable } from "../platform/store/db.js";

/** The channel a revoke notifies (payload: the key's id) when it commits; every server's key cache listens. */
export const API_KEY_REVOKED_CHANNEL = "capydb_api_key_revoked";

export interface OrgRow {
  id: string;
  name: string;
  clerk_organization_id: string | null;
  created_at: Date;
}

export interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  is_platform_admin: boolean;
  organization_id: string | null;
  project_id: string | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

/** What authentication reads of a valid key (and the key cache keeps). */
export interface AuthKeyRow {
  id: string;
  is_platform_admin: boolean;
  organization_id: string | null;
  project_id: string | null;
  last_used_at: Date | null;
}

// organizations

export async function insertOrganization(db: Queryable, id: string, name: string, clerkOrganizationId: string | null): Promise<OrgRow> {
  const { rows } = await db.query<OrgRow>("INSERT INTO organizations (id, name, clerk_organization_id) VALUES ($1, $2, $3) RETURNING *", [
    id,
    name,
    clerkOrganizationId,
  ]);
  return rows[0];
}

export async function listOrganizations(db: Queryable): Promise<OrgRow[]> {
  return (await db.query<OrgRow>("SELECT * FROM organizations ORDER BY created_at DESC, id")).rows;
}

export async function organizationExists(db: Queryable, id: string): Promise<boolean> {
  return Boolean((await db.query("SELECT 1 FROM organizations WHERE id = $1", [id])).rowCount);
}

/** Locks the organization's row until `tx` ends (FOR NO KEY UPDATE). */
export async function lockOrganization(tx: Queryable, id: string): Promise<void> {
  await tx.query("SELECT 1 FROM organizations WHERE id = $1 FOR NO KEY UPDATE", [id]);
}

/** The CapyDB organization linked to a Clerk organization, if any. */
export async function organizationIdForClerk(db: Queryable, clerkOrganizationId: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>("SELECT id FROM organizations WHERE clerk_organization_id = $1", [clerkOrganizationId]);
  return rows[0]?.id ?? null;
}

// organization_quotas

/** Replaces the organization's overrides ({} removes them); answers what was stored. */
export async function upsertOrganizationQuotas(
  db: Queryable,
  organizationId: string,
  overrides: QuotaOverrides,
): Promise<{ overrides: QuotaOverrides; updated_at: Date }> {
  const { rows } = await db.query<{ overrides: QuotaOverrides; updated_at: Date }>(
    `INSERT INTO organization_quotas (organization_id, overrides) VALUES ($1, $2)
     ON CONFLICT (organization_id) DO UPDATE SET overrides = EXCLUDED.overrides, updated_at = now()
     RETURNING overrides, updated_at`,
    [organizationId, JSON.stringify(overrides)],
  );
  return rows[0];
}

// api_keys

export async function insertApiKey(
  db: Queryable,
  key: { id: string; name: string; prefix: string; secretHash: string; platformAdmin: boolean; organizationId: string | null; projectId: string | null },
): Promise<KeyRow> {
  const { rows } = await db.query<KeyRow>(
    `INSERT INTO api_keys (id, name, prefix, secret_hash, is_platform_admin, organization_id, project_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
    [key.id, key.name, key.prefix, key.secretHash, key.platformAdmin, key.organizationId, key.projectId],
  );
  return rows[0];
}

export async function listApiKeys(db: Queryable, organizationId: string): Promise<KeyRow[]> {
  return (await db.query<KeyRow>("SELECT * FROM api_keys WHERE organization_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id", [organizationId]))
    .rows;
}

export async function loadApiKey(db: Queryable, id: string): Promise<KeyRow | null> {
  return (await db.query<KeyRow>("SELECT * FROM api_keys WHERE id = $1", [id])).rows[0] ?? null;
}

/** The valid (not revoked) key with this secret hash, if any. */
export async function findActiveApiKey(db: Queryable, secretHash: string): Promise<AuthKeyRow | null> {
  // A named statement: planned once per connection, not on every request.
  const { rows } = await db.query<AuthKeyRow>({
    name: "auth_api_key",
    text: "SELECT id, is_platform_admin, organization_id, project_id, last_used_at FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL",
    values: [secretHash],
  });
  return rows[0] ?? null;
}

export async function touchApiKey(db: Queryable, id: string): Promise<void> {
  await db.query("UPDATE api_keys SET last_used_at = now() WHERE id = $1", [id]);
}

export async function revokeApiKey(db: Queryable, id: string): Promise<KeyRow> {
  // The notification reaches every server's key cache when this statement commits.
  const { rows } = await db.query<KeyRow>(
    `WITH revoked AS (UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING *)
     SELECT revoked.* FROM revoked, LATERAL pg_notify('${API_KEY_REVOKED_CHANNEL}', revoked.id) AS notified`,
    [id],
  );
  return rows[0];
}

export async function activeAdminKeyExists(db: Queryable, secretHash: string): Promise<boolean> {
  return Boolean((await db.query("SELECT 1 FROM api_keys WHERE secret_hash = $1 AND is_platform_admin AND revoked_at IS NULL", [secretHash])).rowCount);
}

export async function anyActiveAdminKeyExists(db: Queryable): Promise<boolean> {
  return Boolean((await db.query("SELECT 1 FROM api_keys WHERE is_platform_admin AND revoked_at IS NULL LIMIT 1")).rowCount);
}

export async function deleteApiKeysWithHash(db: Queryable, secretHash: string): Promise<void> {
  await db.query("DELETE FROM api_keys WHERE secret_hash = $1", [secretHash]);
}

// users

/** Records a Clerk user (new, or seen again now); answers its id. */
export async function recordUserSeen(db: Queryable, id: string, clerkUserId: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO users (id, clerk_user_id) VALUES ($1, $2)
     ON CONFLICT (clerk_user_id) DO UPDATE SET last_seen_at = now() RETURNING id`,
    [id, clerkUserId],
  );
  return rows[0].id;
}
