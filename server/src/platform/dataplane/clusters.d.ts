import pg from "pg";
import type { Db, Queryable } from "../store/db.js";
import { type SecretBox } from "../secrets.js";
export interface ClusterRow {
    id: string;
    name: string;
    region: string;
    admin_url_sealed: string;
    public_host: string;
    direct_port: number;
    pooled_port: number;
    ssl_mode: string;
    is_default: boolean;
}
export interface RegisterClusterInput {
    name: string;
    region: string;
    adminUrl: string;
    publicHost: string;
    directPort: number;
    pooledPort: number;
    sslMode: string;
    isDefault?: boolean;
}
/** Registers a cluster or updates the one of that name (its admin URL is sealed at rest). */
export declare function registerCluster(db: Queryable, box: SecretBox, input: RegisterClusterInput): Promise<ClusterRow>;
export declare function listClusters(db: Queryable): Promise<ClusterRow[]>;
/**
 * Admin access to the data-plane clusters: a small pool per cluster on its
 * maintenance database, and short-lived connections to a given database.
 */
export declare class ClusterAdmin {
    private readonly db;
    private readonly box;
    private pools;
    private cache;
    constructor(db: Db, box: SecretBox);
    cluster(id: string): Promise<ClusterRow>;
    forRegion(region: string): Promise<ClusterRow | null>;
    adminUrl(clusterId: string, database?: string): Promise<string>;
    /** The cluster's maintenance-database pool (CREATE/DROP DATABASE, roles). */
    pool(clusterId: string): Promise<pg.Pool>;
    /** Runs fn on a fresh admin connection to one database of the cluster. */
    withDatabase<T>(clusterId: string, database: string, fn: (client: pg.Client) => Promise<T>): Promise<T>;
    close(): Promise<void>;
}
