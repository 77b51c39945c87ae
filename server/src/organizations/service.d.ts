import type { ApiKey, Organization } from "@capydb/api";
import type { Queryable } from "../platform/store/db.js";
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
export declare const toApiOrganization: (r: OrgRow) => Organization;
export declare const toApiKey: (r: KeyRow) => ApiKey;
export declare function createOrganization(db: Queryable, name: string, clerkOrganizationId: string | null): Promise<OrgRow>;
export declare function listOrganizations(db: Queryable): Promise<OrgRow[]>;
export declare function organizationExists(db: Queryable, id: string): Promise<boolean>;
export declare function createApiKey(db: Queryable, input: {
    name: string;
    organizationId: string | null;
    projectId: string | null;
    platformAdmin?: boolean;
    secret?: string;
}): Promise<{
    key: KeyRow;
    secret: string;
}>;
export declare function listApiKeys(db: Queryable, organizationId: string): Promise<KeyRow[]>;
export declare function loadApiKey(db: Queryable, id: string): Promise<KeyRow | null>;
export declare function revokeApiKey(db: Queryable, id: string): Promise<KeyRow>;
/**
 * The bootstrap platform-admin key: CAPYDB_BOOTSTRAP_API_KEY when set (that exact
 * secret works after start), else one generated when no admin key exists yet.
 * Returns the secret only when it was generated now (to be shown once).
 */
export declare function ensureBootstrapAdminKey(db: Queryable, configured: string | null): Promise<string | null>;
export {};
