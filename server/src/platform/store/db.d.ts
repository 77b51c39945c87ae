import pg from "pg";
export type Db = pg.Pool;
export type Queryable = pg.Pool | pg.PoolClient | pg.Client;
export declare function createDb(url: string, options?: {
    max?: number;
    applicationName?: string;
}): Db;
export declare function inTransaction<T>(db: Db, fn: (client: pg.PoolClient) => Promise<T>): Promise<T>;
/** True when an error means the control-plane database cannot be reached right now. */
export declare function isDatabaseUnavailable(err: unknown): boolean;
