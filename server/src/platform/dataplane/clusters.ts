// The registry of data-plane clusters and admin connections to them.
import pg from "pg";
import type { Db, Queryable } from "../store/db.js";
import { newId, type SecretBox } from "../secrets.js";

/**
 * Jobs connect to the data plane with more patience than API requests have for the
 * control plane (which answer 503 within five seconds): a job that waits fifteen
 * seconds through a stalled disk or a busy postmaster still succeeds, and a cluster
 * that is really down fails the attempt, which is retried as transient.
 */
export const DATA_PLANE_CONNECT_TIMEOUT_MS = 15_000;

/**
 * Settings of every platform session on a data-plane cluster: names resolve in
 * pg_catalog (then our own pg_temp) only, and no statement waits for a lock, or runs,
 * without end. A CREATE DATABASE of a big template or a DROP that unlinks many files
 * can take minutes, hence the generous statement limit; lock waits are short because
 * a tenant can hold a lock for ever.
 */
export const ADMIN_SESSION_OPTIONS =
  "-c search_path=pg_catalog,pg_temp -c lock_timeout=60s -c statement_timeout=3600s -c idle_in_transaction_session_timeout=3600s";

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
export async function registerCluster(db: Queryable, box: SecretBox, input: RegisterClusterInput): Promise<ClusterRow> {
  // A server with another key would re-seal the row and lock every other server out of it.
  const existing = (await db.query<{ admin_url_sealed: string }>("SELECT admin_url_sealed FROM clusters WHERE name = $1", [input.name])).rows[0];
  if (existing) {
    try {
      box.open(existing.admin_url_sealed);
    } catch {
      throw new Error(
        "this server's secret key is not the one the control plane's secrets were sealed with: every server of one control plane " +
          "needs the same CAPYDB_SECRET_KEY (or a copy of the first server's <data dir>/secret-key)",
      );
    }
  }
  const { rows } = await db.query<ClusterRow>(
    `INSERT INTO clusters (id, name, region, admin_url_sealed, public_host, direct_port, pooled_port, ssl_mode, is_default)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (name) DO UPDATE SET region = EXCLUDED.region, admin_url_sealed = EXCLUDED.admin_url_sealed,
       public_host = EXCLUDED.public_host, direct_port = EXCLUDED.direct_port, pooled_port = EXCLUDED.pooled_port,
       ssl_mode = EXCLUDED.ssl_mode, is_default = EXCLUDED.is_default, updated_at = now()
     RETURNING *`,
    [
      newId("cl"),
      input.name,
      input.region,
      box.seal(input.adminUrl),
      input.publicHost,
      input.directPort,
      input.pooledPort,
      input.sslMode,
      input.isDefault ?? false,
    ],
  );
  return rows[0];
}

export async function listClusters(db: Queryable): Promise<ClusterRow[]> {
  return (await db.query<ClusterRow>("SELECT * FROM clusters ORDER BY is_default DESC, name")).rows;
}

/**
 * Admin access to the data-plane clusters: a small pool per cluster on its
 * maintenance database, and short-lived connections to a given database.
 */
export class ClusterAdmin {
  private pools = new Map<string, pg.Pool>();
  private cache = new Map<string, { row: ClusterRow; at: number }>();

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

  async cluster(id: string): Promise<ClusterRow> {
    const hit = this.cache.get(id);
    if (hit && Date.now() - hit.at < 5000) return hit.row;
    const { rows } = await this.db.query<ClusterRow>("SELECT * FROM clusters WHERE id = $1", [id]);
    if (!rows[0]) throw new Error(`cluster ${id} is not registered`);
    this.cache.set(id, { row: rows[0], at: Date.now() });
    return rows[0];
  }

  async forRegion(region: string): Promise<ClusterRow | null> {
    const { rows } = await this.db.query<ClusterRow>("SELECT * FROM clusters WHERE region = $1 ORDER BY is_default DESC, created_at LIMIT 1", [region]);
    return rows[0] ?? null;
  }

  /** The superuser URL of the cluster's maintenance database (never a tenant database: see privileged.ts). */
  async adminUrl(clusterId: string): Promise<string> {
    return this.box.open((await this.cluster(clusterId)).admin_url_sealed);
  }

  /**
   * Where tenant databases of the cluster are reached from the platform (the admin
   * URL's host and port), for sessions that log in as a tenant's own role.
   */
  async tenantAddress(clusterId: string): Promise<{ host: string; port: number }> {
    const url = new URL(await this.adminUrl(clusterId));
    return { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 5432) };
  }

  /**
   * A superuser URL for one database of the cluster. Only privileged.ts may call this
   * (a test fails otherwise): a superuser session inside a tenant's database is where a
   * tenant's planted functions and operators wait for one.
   */
  async privilegedUrl(clusterId: string, database: string): Promise<string> {
    const url = new URL(await this.adminUrl(clusterId));
    url.pathname = "/" + encodeURIComponent(database);
    return url.toString();
  }

  /**
   * The cluster's maintenance-database pool (CREATE/DROP DATABASE, roles): a database
   * of the platform's, where no tenant can connect. Its sessions resolve names in
   * pg_catalog only and wait for locks a bounded time.
   */
  async pool(clusterId: string): Promise<pg.Pool> {
    let pool = this.pools.get(clusterId);
    if (!pool) {
      pool = new pg.Pool({
        connectionString: await this.adminUrl(clusterId),
        max: 5,
        connectionTimeoutMillis: DATA_PLANE_CONNECT_TIMEOUT_MS,
        application_name: "capydb-admin",
        options: ADMIN_SESSION_OPTIONS,
      });
      pool.on("error", () => {});
      this.pools.set(clusterId, pool);
    }
    return pool;
  }

  /** Closes the cluster's pool (an instance about to stop or go away); the next use opens a new one. */
  async dropPool(clusterId: string): Promise<void> {
    const pool = this.pools.get(clusterId);
    this.pools.delete(clusterId);
    this.cache.delete(clusterId);
    await pool?.end().catch(() => {});
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.end().catch(() => {})));
    this.pools.clear();
  }
}
