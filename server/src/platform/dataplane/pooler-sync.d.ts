import type { Db } from "../store/db.js";
import type { ClusterAdmin } from "./clusters.js";
import type { OsUser } from "./pg-binaries.js";
import type { PgBouncerPooler } from "./pooler.js";
export type DatabaseSource = (db: Db, clusterId: string) => Promise<Array<{
    database: string;
    role: string;
}>>;
export declare class PoolerSync {
    private readonly db;
    private readonly clusters;
    private sources;
    private poolers;
    constructor(db: Db, clusters: ClusterAdmin);
    addSource(source: DatabaseSource): void;
    attach(clusterId: string, pooler: PgBouncerPooler, owner: OsUser | null): void;
    has(clusterId: string): boolean;
    /** Rewrites the cluster's PgBouncer databases and users and reloads it. No-op without a pooler. */
    sync(clusterId: string): Promise<void>;
    /** Drops PgBouncer's server connections to a database (before DROP/rename). */
    kill(clusterId: string, database: string): Promise<void>;
    stopAll(): Promise<void>;
}
