import type { OsUser } from "./pg-binaries.js";
export declare const POOLER_ADMIN_USER = "capydb_pgbouncer";
export interface PoolerSettings {
    /** Directory holding pgbouncer.ini, databases.ini, userlist.txt (on this host). */
    configDir: string;
    listenHost: string;
    listenPort: number;
    upstreamHost: string;
    upstreamPort: number;
    adminPassword: string;
}
export interface PoolerEntry {
    database: string;
    role: string;
    /** pg_authid.rolpassword: a SCRAM-SHA-256 verifier. */
    secret: string;
}
/** Finds the pgbouncer executable: configured, on the PATH, or in /usr/sbin (Debian). */
export declare function findPgBouncer(configured: string | null): string | null;
export declare class PgBouncerPooler {
    private readonly settings;
    constructor(settings: PoolerSettings);
    private file;
    /** Writes pgbouncer.ini, and the databases and users files for `entries`. */
    writeConfig(entries: PoolerEntry[], owner: OsUser | null): void;
    private admin;
    reload(): Promise<void>;
    /** Closes every server connection to a database (before it is dropped or swapped). */
    kill(database: string): Promise<void>;
    isRunning(): Promise<boolean>;
    /** Starts PgBouncer as a daemon (it outlives a crash of ours and is reused, like the cluster). */
    start(bin: string, owner: OsUser | null): Promise<void>;
    stop(): Promise<void>;
}
export declare function pgbouncerVersion(bin: string): string | null;
