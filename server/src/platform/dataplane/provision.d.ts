import type pg from "pg";
type Admin = pg.Pool | pg.Client;
export interface RoleSettings {
    max_connections: number;
    statement_timeout: string;
    idle_transaction_timeout: string;
}
/** Creates the login role, or resets its password if a retried job finds it made. */
export declare function ensureLoginRole(admin: Admin, role: string, password: string, settings: RoleSettings): Promise<void>;
export declare function applyRoleSettings(admin: Admin, role: string, s: RoleSettings): Promise<void>;
/**
 * Creates the database owned by the role (skipped when a retried job finds it
 * made) and takes CONNECT and TEMPORARY away from PUBLIC: a new database lets
 * every role connect and create temp tables until then.
 */
export declare function ensureOwnedDatabase(admin: Admin, database: string, owner: string, template?: string): Promise<void>;
/** Terminates sessions and drops the database if it exists. */
export declare function dropDatabase(admin: Admin, database: string): Promise<void>;
export declare function dropRole(admin: Admin, role: string): Promise<void>;
export declare function databaseExists(admin: Admin, database: string): Promise<boolean>;
export declare function roleExists(admin: Admin, role: string): Promise<boolean>;
/**
 * Takes CONNECT and TEMPORARY on the cluster's own databases (postgres, template1,
 * and the control-plane database when it shares the cluster) away from PUBLIC, so
 * a tenant's role can reach nothing but its own database.
 */
export declare function hardenCluster(admin: Admin, extraDatabases?: string[]): Promise<void>;
export {};
