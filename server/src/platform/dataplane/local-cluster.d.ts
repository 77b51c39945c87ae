import { type OsUser } from "./pg-binaries.js";
export interface LocalClusterOptions {
    /** The cluster's data directory (PGDATA). */
    dir: string;
    port: number;
    binDir?: string | null;
    /** Extra postgresql.conf settings, e.g. { fsync: "off" } for throwaway test clusters. */
    settings?: Record<string, string>;
    log?: (msg: string) => void;
}
export interface LocalCluster {
    adminUrl: string;
    port: number;
    dir: string;
    binDir: string;
    osUser: OsUser | null;
    stop(): Promise<void>;
}
export declare function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster>;
