// Sessions inside a tenant's database that log in as the tenant's own role.
//
// Everything in a tenant database may have been written by an attacker: functions
// folded by the planner, operators found through search_path, index predicates,
// triggers. So the platform's own work in one (row counts, catalog reads, dumps,
// trusted extensions) logs in as the tenant's role, with the tenant's password: any
// tenant code it meets runs with the tenant's rights and nothing more. Not SET ROLE
// or SET SESSION AUTHORIZATION on a superuser session: tenant code can undo both
// (RESET ROLE). The few statements that must be privileged live in privileged.ts.
import pg from "pg";
import type { ClusterAdmin } from "./clusters.js";
import { DATA_PLANE_CONNECT_TIMEOUT_MS } from "./clusters.js";
import type { PgEndpoint } from "./pgtools.js";
import { quoteIdent, quoteLiteral } from "./sql.js";
import { scramVerifier } from "../secrets.js";

/** A tenant role and its password (a project's or a preview's). */
export interface TenantLogin {
  role: string;
  password: string;
}

export interface TenantSessionOptions {
  /**
   * Longest statement, and longest idle time inside a transaction (default 15 min: an
   * exact count of a big table takes a while; a session holding an exported snapshot
   * for a dump asks for more).
   */
  statementTimeoutSeconds?: number;
  applicationName?: string;
}

/**
 * Options of a platform session as a tenant role. The role's own defaults (it may
 * set them for itself) are overridden: our statements wait for locks a bounded time
 * and end. The search_path only makes our qualified names unambiguous: a tenant's
 * code runs as the tenant whatever the path.
 */
function sessionOptions(o: TenantSessionOptions): string {
  const statement = o.statementTimeoutSeconds ?? 900;
  return `-c search_path=pg_catalog,pg_temp -c lock_timeout=30s -c statement_timeout=${statement}s -c idle_in_transaction_session_timeout=${statement}s`;
}

/** Connection details of a tenant role for pg_dump / pg_restore. */
export async function tenantEndpoint(clusters: ClusterAdmin, clusterId: string, database: string, login: TenantLogin): Promise<PgEndpoint> {
  const { host, port } = await clusters.tenantAddress(clusterId);
  return { host, port, database, user: login.role, password: login.password };
}

/**
 * Opens a session as the tenant role; the caller ends it. A role may change its own
 * password (ALTER ROLE ... PASSWORD needs no privilege for oneself), which would lock
 * the platform's backups out of the tenant's database: the password the platform
 * issued (and hands out in connection strings) is set again, and the login retried.
 */
export async function openTenantSession(
  clusters: ClusterAdmin,
  clusterId: string,
  database: string,
  login: TenantLogin,
  opts: TenantSessionOptions = {},
): Promise<pg.Client> {
  try {
    return await connectAs(clusters, clusterId, database, login, opts);
  } catch (err) {
    if ((err as { code?: string }).code !== "28P01") throw err;
    const admin = await clusters.pool(clusterId);
    await admin.query(`ALTER ROLE ${quoteIdent(login.role)} WITH PASSWORD ${quoteLiteral(scramVerifier(login.password))}`);
    return connectAs(clusters, clusterId, database, login, opts);
  }
}

async function connectAs(clusters: ClusterAdmin, clusterId: string, database: string, login: TenantLogin, opts: TenantSessionOptions): Promise<pg.Client> {
  return connectAt(await clusters.tenantAddress(clusterId), database, login, opts);
}

/**
 * A session as the tenant's role on an address of the platform's own (an instance started
 * privately on a socket directory: a snapshot being masked); the caller ends it.
 */
export async function openTenantSessionAt(
  at: { host: string; port: number },
  database: string,
  login: TenantLogin,
  opts: TenantSessionOptions = {},
): Promise<pg.Client> {
  return connectAt(at, database, login, opts);
}

async function connectAt({ host, port }: { host: string; port: number }, database: string, login: TenantLogin, opts: TenantSessionOptions): Promise<pg.Client> {
  const client = new pg.Client({
    host,
    port,
    database,
    user: login.role,
    password: login.password,
    application_name: opts.applicationName ?? "capydb-tenant",
    connectionTimeoutMillis: DATA_PLANE_CONNECT_TIMEOUT_MS,
    options: sessionOptions(opts),
  });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return client;
}

/** Runs fn in a session as the tenant role, ended afterwards. */
export async function withTenantSession<T>(
  clusters: ClusterAdmin,
  clusterId: string,
  database: string,
  login: TenantLogin,
  fn: (c: pg.Client) => Promise<T>,
  opts: TenantSessionOptions = {},
): Promise<T> {
  const client = await openTenantSession(clusters, clusterId, database, login, opts);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** An exported snapshot: its id for pg_dump --snapshot, the instant it shows, and the session holding it. */
export interface ExportedSnapshot {
  id: string;
  at: Date;
  /** The tenant-role session that exported it, inside its read-only transaction (queries here see the same data). */
  holder: pg.Client;
}

/**
 * Exports an MVCC snapshot of `database` in a session as the tenant's role and runs fn
 * while that session holds it, then commits; answers fn's result. The database is only
 * read (AccessShare locks); pg_dump --snapshot and the holder see exactly the same data.
 */
export async function withExportedSnapshot<T>(
  clusters: ClusterAdmin,
  clusterId: string,
  database: string,
  login: TenantLogin,
  applicationName: string,
  fn: (snapshot: ExportedSnapshot) => Promise<T>,
): Promise<T> {
  // A dump of a big database holds the snapshot for a long time.
  const holder = await openTenantSession(clusters, clusterId, database, login, { applicationName, statementTimeoutSeconds: 6 * 3600 });
  try {
    await holder.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const { rows } = await holder.query<{ id: string; at: Date }>("SELECT pg_catalog.pg_export_snapshot() AS id, pg_catalog.now() AS at");
    const result = await fn({ id: rows[0].id, at: rows[0].at, holder });
    await holder.query("COMMIT");
    return result;
  } finally {
    await holder.end().catch(() => {});
  }
}
