// Organizations and API keys. Secrets are shown once at creation and stored as a hash.
import type { ApiKey, Organization } from "@capydb/api";
import { inTransaction, type Db, type Queryable } from "../platform/store/db.js";
import { apiKeyDisplayPrefix, hashApiKey, newApiKeySecret, newId } from "../platform/secrets.js";

/** The channel a revoke notifies (payload: the key's id) when it commits; every server's key cache listens. */
export const API_KEY_REVOKED_CHANNEL = "capydb_api_key_revoked";

interface OrgRow {
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

export const toApiOrganization = (r: OrgRow): Organization => ({
  id: r.id,
  name: r.name,
  clerk_organization_id: r.clerk_organization_id,
  created_at: r.created_at.toISOString(),
});

export const toApiKey = (r: KeyRow): ApiKey => ({
  id: r.id,
  name: r.name,
  prefix: r.prefix,
  organization_id: r.organization_id,
  project_id: r.project_id,
  created_at: r.created_at.toISOString(),
  last_used_at: r.last_used_at ? r.last_used_at.toISOString() : null,
});

export async function createOrganization(db: Queryable, name: string, clerkOrganizationId: string | null): Promise<OrgRow> {
  const { rows } = await db.query<OrgRow>("INSERT INTO organizations (id, name, clerk_organization_id) VALUES ($1, $2, $3) RETURNING *", [
    newId("org"),
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

export async function createApiKey(
  db: Queryable,
  input: { name: string; organizationId: string | null; projectId: string | null; platformAdmin?: boolean; secret?: string },
): Promise<{ key: KeyRow; secret: string }> {
  const secret = input.secret ?? newApiKeySecret();
  const { rows } = await db.query<KeyRow>(
    `INSERT INTO api_keys (id, name, prefix, secret_hash, is_platform_admin, organization_id, project_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
    [newId("key"), input.name, apiKeyDisplayPrefix(secret), hashApiKey(secret), input.platformAdmin ?? false, input.organizationId, input.projectId],
  );
  return { key: rows[0], secret };
}

export async function listApiKeys(db: Queryable, organizationId: string): Promise<KeyRow[]> {
  return (await db.query<KeyRow>("SELECT * FROM api_keys WHERE organization_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id", [organizationId]))
    .rows;
}

export async function loadApiKey(db: Queryable, id: string): Promise<KeyRow | null> {
  return (await db.query<KeyRow>("SELECT * FROM api_keys WHERE id = $1", [id])).rows[0] ?? null;
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

/**
 * The bootstrap platform-admin key: CAPYDB_BOOTSTRAP_API_KEY when set (that exact
 * secret works after start), else one generated when no admin key exists yet.
 * Returns the secret only when it was generated now (to be shown once). Servers
 * starting together take turns (a transaction-scoped advisory lock).
 */
export async function ensureBootstrapAdminKey(db: Db, configured: string | null): Promise<string | null> {
  return inTransaction(db, async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(7140240903)");
    if (configured) {
      const hash = hashApiKey(configured);
      const existing = await tx.query("SELECT 1 FROM api_keys WHERE secret_hash = $1 AND is_platform_admin AND revoked_at IS NULL", [hash]);
      if (!existing.rowCount) {
        // a revoked or non-admin key with this secret is replaced by the configured admin key
        await tx.query("DELETE FROM api_keys WHERE secret_hash = $1", [hash]);
        await createApiKey(tx, {
          name: "bootstrap (CAPYDB_BOOTSTRAP_API_KEY)",
          organizationId: null,
          projectId: null,
          platformAdmin: true,
          secret: configured,
        });
      }
      return null;
    }
    const any = await tx.query("SELECT 1 FROM api_keys WHERE is_platform_admin AND revoked_at IS NULL LIMIT 1");
    if (any.rowCount) return null;
    const { secret } = await createApiKey(tx, { name: "bootstrap", organizationId: null, projectId: null, platformAdmin: true });
    return secret;
  });
}
