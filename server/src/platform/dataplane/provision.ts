// Databases and login roles on a data-plane cluster: the isolation every project
// and preview gets. All DDL is built with quoted identifiers and literals; role
// passwords are sent as SCRAM verifiers so the plaintext never reaches Postgres.
import type pg from "pg";
import { quoteIdent, quoteLiteral } from "./sql.js";
import { scramVerifier } from "../secrets.js";
import type { ClusterAdmin } from "./clusters.js";

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
    await admin.query(
      `CREATE ROLE ${quoteIdent(role)} WITH LOGIN PASSWORD ${verifier} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`,
    );
  }
  await applyRoleSettings(admin, role, settings);
}

export async function applyRoleSettings(admin: Admin, role: string, s: RoleSettings): Promise<void> {
  const r = quoteIdent(role);
  await admin.query(`ALTER ROLE ${r} WITH CONNECTION LIMIT ${Number(s.max_connections) | 0}`);
  await admin.query(`ALTER ROLE ${r} SET statement_timeout = ${quoteLiteral(s.statement_timeout)}`);
  await admin.query(`ALTER ROLE ${r} SET idle_in_transaction_session_timeout = ${quoteLiteral(s.idle_transaction_timeout)}`);
}

/**
 * Creates a tenant database (skipped when a retried job finds it made). The
 * database itself belongs to the platform's admin role, so the tenant's role
 * owns no shared object and its objects can be handed to another role with
 * REASSIGN OWNED (previews) without touching any database's ownership. CONNECT
 * and TEMPORARY are taken from PUBLIC (a new database lets every role connect
 * and create temp tables until then) and given, with CREATE, to the tenant.
 */
export async function createTenantDatabase(
  admin: Admin,
  database: string,
  role: string,
  clone?: { template: string; strategy: "FILE_COPY" | "WAL_LOG" },
): Promise<void> {
  if (!(await databaseExists(admin, database))) {
    const from = clone ? ` TEMPLATE ${quoteIdent(clone.template)} STRATEGY ${clone.strategy}` : "";
    await admin.query(`CREATE DATABASE ${quoteIdent(database)}${from}`);
  }
  await grantTenantDatabase(admin, database, role);
}

export async function grantTenantDatabase(admin: Admin, database: string, role: string): Promise<void> {
  await admin.query(`REVOKE ALL ON DATABASE ${quoteIdent(database)} FROM PUBLIC`);
  await admin.query(`GRANT CONNECT, TEMPORARY, CREATE ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(role)}`);
}

/** Inside a new empty tenant database: the tenant's role owns schema public. */
export async function adoptPublicSchema(db: pg.Client, role: string): Promise<void> {
  await db.query(`ALTER SCHEMA public OWNER TO ${quoteIdent(role)}`);
}

/** Terminates sessions and drops the database if it exists. */
export async function dropDatabase(admin: Admin, database: string): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
}

export async function dropRole(admin: Admin, role: string): Promise<void> {
  await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
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
export async function hardenCluster(admin: Admin, extraDatabases: string[] = []): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname = ANY($1::text[])",
    [["postgres", "template1", ...extraDatabases]],
  );
  for (const { datname } of rows) {
    await admin.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${quoteIdent(datname)} FROM PUBLIC`);
  }
}

/**
 * Untrusted (allowlisted) extensions of `sourceDatabase` need the superuser: they
 * are made in the target before a restore that runs as a tenant role.
 */
export async function precreateUntrustedExtensions(clusters: ClusterAdmin, clusterId: string, sourceDatabase: string, target: pg.Client): Promise<void> {
  const untrusted = await clusters.withDatabase(clusterId, sourceDatabase, async (c) =>
    (
      await c.query<{ extname: string }>(
        `SELECT e.extname FROM pg_extension e
         JOIN pg_available_extension_versions v ON v.name = e.extname AND v.version = e.extversion
         WHERE NOT v.trusted AND e.extname <> 'plpgsql' AND e.extnamespace = 'public'::regnamespace`,
      )
    ).rows,
  );
  for (const { extname } of untrusted) await target.query(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(extname)} WITH SCHEMA public`);
}
