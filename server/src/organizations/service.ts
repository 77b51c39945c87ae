// Organizations and API keys. Secrets are shown once at creation and stored as a hash.
import type { ApiKey, Organization } from "@capydb/api";
import { inTransaction, type Db, type Queryable } from "../platform/store/db.js";
import { apiKeyDisplayPrefix, hashApiKey, newApiKeySecret, newId } from "../platform/secrets.js";
import { activeAdminKeyExists, anyActiveAdminKeyExists, deleteApiKeysWithHash, insertApiKey, insertOrganization, type KeyRow, type OrgRow } from "./store.js";

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
  return insertOrganization(db, newId("org"), name, clerkOrganizationId);
}

export async function createApiKey(
  db: Queryable,
  input: { name: string; organizationId: string | null; projectId: string | null; platformAdmin?: boolean; secret?: string },
): Promise<{ key: KeyRow; secret: string }> {
  const secret = input.secret ?? newApiKeySecret();
  const key = await insertApiKey(db, {
    id: newId("key"),
    name: input.name,
    prefix: apiKeyDisplayPrefix(secret),
    secretHash: hashApiKey(secret),
    platformAdmin: input.platformAdmin ?? false,
    organizationId: input.organizationId,
    projectId: input.projectId,
  });
  return { key, secret };
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
      if (!(await activeAdminKeyExists(tx, hash))) {
        // a revoked or non-admin key with this secret is replaced by the configured admin key
        await deleteApiKeysWithHash(tx, hash);
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
    if (await anyActiveAdminKeyExists(tx)) return null;
    const { secret } = await createApiKey(tx, { name: "bootstrap", organizationId: null, projectId: null, platformAdmin: true });
    return secret;
  });
}
