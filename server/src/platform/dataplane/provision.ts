// Databases and login roles on a data-plane cluster: the isolation every project
// and preview gets. All DDL is built with quoted identifiers and literals; role
// passwords are sent as SCRAM verifiers so the plaintext never reaches Postgres.
import pg from "pg";
import { quoteIdent, quoteLiteral } from "./sql.js";
import { scramVerifier } from "../secrets.js";
import type { ClusterAdmin } from "./clusters.js";
import { adoptPublicSchema, precreateExtensions, PLATFORM_EXTENSION_SCHEMA, type ExtensionPlacement } from "./privileged.js";
import { withTenantSession, type TenantLogin } from "./tenant-session.js";

type Admin = pg.Pool | pg.Client;

export interface RoleSettings {
  max_connections: number;
  statement_timeout: string;
  idle_transaction_timeout: string;
}

/** Creates the login role, or resets its password if a retried job finds it made. */
export async function ensureLoginRole(admin: Admin, role: string, password: string, settings: RoleSettings): Promise<void> {
  const verifier = quoteLiteral(scramVerifier(password));
  const exists = await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
  if (exists.rowCount) {
    await admin.query(`ALTER ROLE ${quoteIdent(role)} WITH LOGIN PASSWORD ${verifier}`);
  } else {
    await admin.query(`CREATE ROLE ${quoteIdent(role)} WITH LOGIN PASSWORD ${verifier} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`);
  }
  await applyRoleSettings(admin, role, settings);
}

/** The statements that give a role its settings. */
export function roleSettingsStatements(role: string, s: RoleSettings): string[] {
  const r = quoteIdent(role);
  return [
    `ALTER ROLE ${r} WITH CONNECTION LIMIT ${Number(s.max_connections) | 0}`,
    `ALTER ROLE ${r} SET statement_timeout = ${quoteLiteral(s.statement_timeout)}`,
    `ALTER ROLE ${r} SET idle_in_transaction_session_timeout = ${quoteLiteral(s.idle_transaction_timeout)}`,
    `ALTER ROLE ${r} SET search_path = "$user", public, ${quoteIdent(PLATFORM_EXTENSION_SCHEMA)}`,
  ];
}

/**
 * Applies a role's settings all or nothing (one transaction: a setting Postgres
 * refuses leaves the others as they were). The role's search_path default lists the
 * platform's extension schema, where untrusted extensions enabled later live.
 */
export async function applyRoleSettings(admin: Admin, role: string, s: RoleSettings): Promise<void> {
  const statements = roleSettingsStatements(role, s);
  const pooled = admin instanceof pg.Pool;
  const client = pooled ? await admin.connect() : admin;
  try {
    await client.query("BEGIN");
    try {
      for (const sql of statements) await client.query(sql);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    }
  } finally {
    if (pooled) (client as pg.PoolClient).release();
  }
}

/**
 * Creates a tenant database (skipped when a retried job finds it made). The
 * database itself belongs to the platform's admin role, so the tenant's role
 * owns no shared object and its objects can be handed to another role with
 * REASSIGN OWNED (previews) without touching any database's ownership. CONNECT
 * and TEMPORARY are taken from PUBLIC (a new database lets every role connect
 * and create temp tables until then) and given, with CREATE, to the tenant — unless
 * `grant: false`: privileged setup that needs a database no tenant has touched
 * (extensions, schema ownership) runs first, then grantTenantDatabase.
 */
export async function createTenantDatabase(
  admin: Admin,
  database: string,
  role: string,
  clone?: { template: string; strategy: "FILE_COPY" | "WAL_LOG" },
  opts: { grant?: boolean } = {},
): Promise<void> {
  if (!(await databaseExists(admin, database))) {
    const from = clone ? ` TEMPLATE ${quoteIdent(clone.template)} STRATEGY ${clone.strategy}` : "";
    await admin.query(`CREATE DATABASE ${quoteIdent(database)}${from}`);
  }
  // CREATE DATABASE gives PUBLIC CONNECT: taken away at once, whether or not the tenant gets it now.
  await admin.query(`REVOKE ALL ON DATABASE ${quoteIdent(database)} FROM PUBLIC`);
  if (opts.grant ?? true) await grantTenantDatabase(admin, database, role);
}

export async function grantTenantDatabase(admin: Admin, database: string, role: string): Promise<void> {
  await admin.query(`REVOKE ALL ON DATABASE ${quoteIdent(database)} FROM PUBLIC`);
  await admin.query(`GRANT CONNECT, TEMPORARY, CREATE ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(role)}`);
}

/** Terminates sessions and drops the database if it exists. */
export async function dropDatabase(admin: Admin, database: string): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
}

export async function databaseExists(admin: Admin, database: string): Promise<boolean> {
  return Boolean((await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [database])).rowCount);
}

export async function roleExists(admin: Admin, role: string): Promise<boolean> {
  return Boolean((await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role])).rowCount);
}

/**
 * Takes CONNECT and TEMPORARY on the cluster's own databases (postgres, template1,
 * and the control-plane database when it shares the cluster) away from PUBLIC, so
 * a tenant's role can reach nothing but its own database.
 */
export async function hardenCluster(admin: pg.Pool, extraDatabases: string[] = []): Promise<void> {
  // Several servers may start on one cluster at once: two REVOKEs of one
  // pg_database row at the same moment fail with "tuple concurrently updated".
  // A transaction-scoped advisory lock makes them take turns, and a database
  // already hardened is left untouched.
  const client = await admin.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtext('capydb:harden-cluster'))");
    const { rows } = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_catalog.pg_database
        WHERE datname = ANY($1::text[])
          AND (pg_catalog.has_database_privilege('public', oid, 'CONNECT') OR pg_catalog.has_database_privilege('public', oid, 'TEMPORARY'))`,
      [["postgres", "template1", ...extraDatabases]],
    );
    for (const { datname } of rows) {
      await client.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${quoteIdent(datname)} FROM PUBLIC`);
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/**
 * The untrusted extensions (made by the platform) of a tenant database and their
 * schemas, read as the tenant's role: what a copy of it needs made before its restore.
 */
export async function platformExtensionsOf(clusters: ClusterAdmin, clusterId: string, database: string, login: TenantLogin): Promise<ExtensionPlacement[]> {
  return withTenantSession(
    clusters,
    clusterId,
    database,
    login,
    async (c) =>
      (
        await c.query<ExtensionPlacement>(
          `SELECT e.extname AS name, n.nspname AS schema FROM pg_catalog.pg_extension e
         JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
         JOIN pg_catalog.pg_available_extension_versions v ON v.name OPERATOR(pg_catalog.=) e.extname AND v.version OPERATOR(pg_catalog.=) e.extversion
         WHERE NOT v.trusted AND e.extname OPERATOR(pg_catalog.<>) 'plpgsql' AND n.nspname OPERATOR(pg_catalog.=) ANY (ARRAY['public', $1]::pg_catalog.name[])
         ORDER BY e.oid`,
          [PLATFORM_EXTENSION_SCHEMA],
        )
      ).rows,
  );
}

/**
 * A new, empty database for a tenant role, ready for pg_restore to run as that role:
 * made without grants, the platform's untrusted extensions created and schema public
 * handed to the role while no tenant can connect, then CONNECT given.
 */
export async function prepareEmptyTenantDatabase(
  clusters: ClusterAdmin,
  clusterId: string,
  database: string,
  role: string,
  extensions: ExtensionPlacement[] = [],
): Promise<void> {
  const admin = await clusters.pool(clusterId);
  await dropDatabase(admin, database); // a leftover of an interrupted attempt
  await createTenantDatabase(admin, database, role, undefined, { grant: false });
  await precreateExtensions(clusters, clusterId, database, extensions);
  await adoptPublicSchema(clusters, clusterId, database, role);
  await grantTenantDatabase(admin, database, role);
}

/**
 * Of the extensions an archive or a source asks for, those the platform makes before
 * a restore: untrusted on this cluster (a trusted one the tenant's role makes itself),
 * on the operator's allowlist, and in schema public or the platform's schema (where
 * the privileged module puts them; an archive asking for another schema gets none).
 */
export async function platformMadeExtensions(admin: Admin, allowlist: string[], wanted: ExtensionPlacement[]): Promise<ExtensionPlacement[]> {
  const candidates = wanted.filter((e) => allowlist.includes(e.name) && (e.schema === "public" || e.schema === PLATFORM_EXTENSION_SCHEMA));
  if (candidates.length === 0) return [];
  const { rows } = await admin.query<{ name: string }>(
    `SELECT a.name FROM pg_catalog.pg_available_extensions a
     JOIN pg_catalog.pg_available_extension_versions v ON v.name OPERATOR(pg_catalog.=) a.name AND v.version OPERATOR(pg_catalog.=) a.default_version
     WHERE NOT v.trusted AND a.name OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.name[])`,
    [candidates.map((e) => e.name)],
  );
  const untrusted = new Set(rows.map((r) => r.name));
  const seen = new Set<string>();
  return candidates.filter((e) => untrusted.has(e.name) && !seen.has(e.name) && seen.add(e.name));
}
