// The reviewed module: the only code that opens a superuser session inside a tenant's
// database (a test fails when anything else does). Each exported operation is one of
// the few statements that cannot be done as the tenant's role, and each executes no
// tenant code:
//
// - ALTER SCHEMA public OWNER TO <role>, in a database we just made (from template1,
//   before any tenant could connect): no tenant objects exist yet.
// - CREATE EXTENSION of an allow-listed untrusted extension: in a database we just
//   made (before any tenant could connect, checked: no tenant objects), or, in a
//   live database, only into the platform's schema capydb_extensions, which the
//   tenant can use but not create in, so the extension script's search_path
//   (capydb_extensions, pg_temp; pg_catalog first) reaches nothing a tenant wrote.
// - DROP EXTENSION of such an extension (no CASCADE): drops its own objects only.
// - REASSIGN OWNED BY / DROP OWNED BY: catalog changes (owners, ACLs); tenants cannot
//   create event triggers, the only code these could fire.
// - before DROP ROLE, DROP OWNED BY the role in the other databases that granted it
//   something (found through pg_shdepend): revokes those grants only.
// - Origin slots on a project's own instance: pg_create_logical_replication_slot,
//   pg_logical_slot_peek_changes and pg_drop_replication_slot (see the section below).
//
// Every session here resolves names in pg_catalog (then our own pg_temp, never
// searched for functions or operators) with timeouts, and every query of ours is
// schema-qualified, operators included, against catalogs (no tenant index, no tenant
// function can be planned into it).
import crypto from "node:crypto";
import pg from "pg";
import type { ClusterAdmin } from "./clusters.js";
import { DATA_PLANE_CONNECT_TIMEOUT_MS } from "./clusters.js";
import { quoteIdent } from "./sql.js";

/** Untrusted extensions enabled on a live database go here (a schema the tenant cannot create in). */
export const PLATFORM_EXTENSION_SCHEMA = "capydb_extensions";

export const PRIVILEGED_APPLICATION_NAME = "capydb-privileged";

const SESSION_OPTIONS = "-c search_path=pg_catalog,pg_temp -c lock_timeout=30s -c statement_timeout=900s -c idle_in_transaction_session_timeout=900s";

/** A connected privileged session in a database (`options`: more `-c` settings after the pinned ones). */
async function privilegedClient(clusters: ClusterAdmin, clusterId: string, database: string, options = ""): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: await clusters.privilegedUrl(clusterId, database),
    application_name: PRIVILEGED_APPLICATION_NAME,
    connectionTimeoutMillis: DATA_PLANE_CONNECT_TIMEOUT_MS,
    options: `${SESSION_OPTIONS}${options ? ` ${options}` : ""}`,
  });
  client.on("error", () => {});
  await client.connect();
  return client;
}

async function withPrivilegedSession<T>(clusters: ClusterAdmin, clusterId: string, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await privilegedClient(clusters, clusterId, database);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export class UnsafeDatabaseError extends Error {}

/**
 * Refuses to go on in a database that already holds objects a tenant made: the
 * operations that assume a fresh database (no tenant has connected yet) check it.
 * Tables, functions and operators count whoever made them (outside extensions); any
 * other object a tenant can make (a schema, a type or domain, a collation, default
 * privileges, a grant) is found through pg_shdepend, which records every owner and
 * grantee in the database that is not the bootstrap superuser: one that is neither a
 * superuser nor a built-in role is a tenant's.
 */
async function assertFresh(c: pg.Client, database: string): Promise<void> {
  const { rows } = await c.query<{ n: string }>(
    `SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class k WHERE k.oid OPERATOR(pg_catalog.>=) 16384::pg_catalog.oid
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                                 AND d.objid OPERATOR(pg_catalog.=) k.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'))
          OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc p WHERE p.oid OPERATOR(pg_catalog.>=) 16384::pg_catalog.oid
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                                 AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'))
          OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_operator o WHERE o.oid OPERATOR(pg_catalog.>=) 16384::pg_catalog.oid
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_operator'::pg_catalog.regclass
                                 AND d.objid OPERATOR(pg_catalog.=) o.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'))
          OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_shdepend s
               JOIN pg_catalog.pg_authid r ON r.oid OPERATOR(pg_catalog.=) s.refobjid
               WHERE s.dbid OPERATOR(pg_catalog.=) (SELECT b.oid FROM pg_catalog.pg_database b WHERE b.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
                 AND s.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_authid'::pg_catalog.regclass
                 AND r.oid OPERATOR(pg_catalog.>=) 16384::pg_catalog.oid AND NOT r.rolsuper) AS n`,
  );
  if (Number(rows[0].n) > 0) throw new UnsafeDatabaseError(`refusing privileged setup of ${database}: it already holds objects a tenant made`);
}

/** In a database we just made: the tenant's role owns schema public (and no other tenant can see its sessions). */
export async function adoptPublicSchema(clusters: ClusterAdmin, clusterId: string, database: string, role: string): Promise<void> {
  await withPrivilegedSession(clusters, clusterId, database, async (c) => {
    await c.query(`ALTER SCHEMA public OWNER TO ${quoteIdent(role)}`);
  });
}

export interface ExtensionPlacement {
  name: string;
  /** public (only in a fresh database) or the platform's extension schema. */
  schema: string;
}

/**
 * Creates allow-listed untrusted extensions in a database we just made, before any
 * tenant could connect to it (checked), in the schema each had where it comes from.
 */
export async function precreateExtensions(clusters: ClusterAdmin, clusterId: string, database: string, extensions: ExtensionPlacement[]): Promise<void> {
  if (extensions.length === 0) return;
  await withPrivilegedSession(clusters, clusterId, database, async (c) => {
    await assertFresh(c, database);
    for (const e of extensions) {
      const schema = e.schema === "public" ? "public" : PLATFORM_EXTENSION_SCHEMA;
      if (schema === PLATFORM_EXTENSION_SCHEMA) await ensurePlatformSchema(c);
      await c.query(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(e.name)} WITH SCHEMA ${quoteIdent(schema)} CASCADE`);
    }
  });
}

/** The platform's extension schema: owned by a superuser, usable by anyone who can connect (only the tenant can). */
async function ensurePlatformSchema(c: pg.Client): Promise<void> {
  const { rows } = await c.query<{ super: boolean }>(
    `SELECT r.rolsuper AS super FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_authid r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
     WHERE n.nspname OPERATOR(pg_catalog.=) $1::pg_catalog.name`,
    [PLATFORM_EXTENSION_SCHEMA],
  );
  if (rows[0] && !rows[0].super) {
    throw new UnsafeDatabaseError(
      `schema ${PLATFORM_EXTENSION_SCHEMA} was made by the project, not the platform: rename or drop it, then enable the extension again`,
    );
  }
  if (!rows[0]) await c.query(`CREATE SCHEMA ${quoteIdent(PLATFORM_EXTENSION_SCHEMA)}`);
  await c.query(`GRANT USAGE ON SCHEMA ${quoteIdent(PLATFORM_EXTENSION_SCHEMA)} TO PUBLIC`);
}

/**
 * Enables an allow-listed untrusted extension in a live tenant database: into the
 * platform's schema, never public (the tenant's objects there could capture the
 * script's unqualified calls: CVE-2018-1058 / CVE-2023-39417 class). Extensions it
 * requires must live in a platform schema too, or not exist yet (made alongside).
 */
export async function enableUntrustedExtension(clusters: ClusterAdmin, clusterId: string, database: string, name: string): Promise<void> {
  await withPrivilegedSession(clusters, clusterId, database, async (c) => {
    const requires = await c.query<{ name: string; schema: string | null; super: boolean | null }>(
      `SELECT req.name, n.nspname AS schema, r.rolsuper AS super
       FROM pg_catalog.pg_available_extension_versions v
       CROSS JOIN LATERAL pg_catalog.unnest(v.requires) AS req(name)
       LEFT JOIN pg_catalog.pg_extension e ON e.extname OPERATOR(pg_catalog.=) req.name
       LEFT JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
       LEFT JOIN pg_catalog.pg_authid r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
       WHERE v.name OPERATOR(pg_catalog.=) $1::pg_catalog.name
         AND v.version OPERATOR(pg_catalog.=) (SELECT a.default_version FROM pg_catalog.pg_available_extensions a WHERE a.name OPERATOR(pg_catalog.=) $1::pg_catalog.name)`,
      [name],
    );
    const unsafe = requires.rows.filter((r) => r.schema !== null && r.schema !== "pg_catalog" && !r.super);
    if (unsafe.length) {
      throw new UnsafeDatabaseError(
        `extension "${name}" needs ${unsafe.map((r) => `"${r.name}"`).join(", ")}, installed in schema ${unsafe.map((r) => r.schema).join(", ")} which the project owns: ` +
          "the platform does not run an extension's script with the project's objects on its search path",
      );
    }
    await ensurePlatformSchema(c);
    await c.query(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(name)} WITH SCHEMA ${quoteIdent(PLATFORM_EXTENSION_SCHEMA)} CASCADE`);
  });
}

/**
 * Drops an extension the platform made (owned by a superuser). No CASCADE: when the
 * tenant's objects depend on it, Postgres's refusal (2BP01) is the answer.
 */
export async function disableUntrustedExtension(clusters: ClusterAdmin, clusterId: string, database: string, name: string): Promise<void> {
  await withPrivilegedSession(clusters, clusterId, database, async (c) => {
    const { rows } = await c.query<{ super: boolean }>(
      `SELECT r.rolsuper AS super FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_authid r ON r.oid OPERATOR(pg_catalog.=) e.extowner
       WHERE e.extname OPERATOR(pg_catalog.=) $1::pg_catalog.name`,
      [name],
    );
    if (!rows[0] || !rows[0].super) return; // not there, or the tenant's own (dropped as the tenant)
    await c.query(`DROP EXTENSION IF EXISTS ${quoteIdent(name)}`);
  });
}

/** Hands every object of `from` in the database to `to` (a clone becoming a preview's; a preview becoming production). */
export async function reassignOwned(clusters: ClusterAdmin, clusterId: string, database: string, from: string, to: string): Promise<void> {
  await withPrivilegedSession(clusters, clusterId, database, async (c) => {
    await c.query(`REASSIGN OWNED BY ${quoteIdent(from)} TO ${quoteIdent(to)}`);
  });
}

/** Revokes what `role` was granted in the database (and drops what it still owns there). */
export async function dropOwned(clusters: ClusterAdmin, clusterId: string, database: string, role: string): Promise<void> {
  await withPrivilegedSession(clusters, clusterId, database, async (c) => {
    await c.query(`DROP OWNED BY ${quoteIdent(role)}`);
  });
}

/**
 * Drops a tenant role. Another tenant may have granted it something in a database of
 * theirs (GRANT SELECT ... TO "<your preview's role>"), which would make DROP ROLE fail
 * for ever: those grants are found through pg_shdepend and revoked first, in each
 * database that holds one. Databases nobody may connect to (a previous production
 * kept for rollback) are opened for the instant of the revoke.
 */
export async function dropTenantRole(clusters: ClusterAdmin, clusterId: string, role: string): Promise<void> {
  const admin = await clusters.pool(clusterId);
  const { rows } = await admin.query<{ datname: string; datallowconn: boolean }>(
    `SELECT DISTINCT d.datname, d.datallowconn FROM pg_catalog.pg_shdepend s
     JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.dbid
     WHERE s.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_authid'::pg_catalog.regclass
       AND s.refobjid OPERATOR(pg_catalog.=) (SELECT a.oid FROM pg_catalog.pg_authid a WHERE a.rolname OPERATOR(pg_catalog.=) $1::pg_catalog.name)
       AND NOT d.datistemplate`,
    [role],
  );
  for (const db of rows) {
    if (!db.datallowconn) await admin.query(`ALTER DATABASE ${quoteIdent(db.datname)} WITH ALLOW_CONNECTIONS true`);
    try {
      await dropOwned(clusters, clusterId, db.datname, role);
    } catch (err) {
      if ((err as { code?: string }).code !== "3D000") throw err; // dropped meanwhile: nothing left to revoke there
    } finally {
      if (!db.datallowconn) await admin.query(`ALTER DATABASE ${quoteIdent(db.datname)} WITH ALLOW_CONNECTIONS false`).catch(() => {});
    }
  }
  // Grants on shared objects (a database's CONNECT) go from any database: the maintenance one is ours.
  if ((await admin.query("SELECT 1 FROM pg_catalog.pg_authid WHERE rolname OPERATOR(pg_catalog.=) $1::pg_catalog.name", [role])).rowCount) {
    await admin.query(`DROP OWNED BY ${quoteIdent(role)}`);
  }
  await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
}

/**
 * Functions that show every session of the cluster (database, role, application name,
 * client address of other tenants' connections): taken from PUBLIC. Done in template1,
 * every database we create inherits it (clones inherit it from theirs). Tenants lose
 * pg_stat_activity and the pg_stat_progress_* views, even for their own sessions.
 */
const SESSION_ACTIVITY_FUNCTIONS = [
  "pg_stat_get_activity(integer)",
  "pg_stat_get_backend_idset()",
  "pg_stat_get_backend_pid(integer)",
  "pg_stat_get_backend_dbid(integer)",
  "pg_stat_get_backend_userid(integer)",
  "pg_stat_get_backend_activity(integer)",
  "pg_stat_get_backend_client_addr(integer)",
  "pg_stat_get_backend_client_port(integer)",
  "pg_stat_get_backend_start(integer)",
  "pg_stat_get_backend_activity_start(integer)",
  "pg_stat_get_backend_xact_start(integer)",
  "pg_stat_get_backend_wait_event(integer)",
  "pg_stat_get_backend_wait_event_type(integer)",
  "pg_stat_get_progress_info(text)",
];

/**
 * In template1 (tenants' databases made from it show no other session) or in a tenant
 * database made before that (REVOKE on a pg_catalog function: no tenant code runs).
 *
 * Also taken: the pg_stat_get_db_* functions behind pg_stat_database and
 * pg_stat_database_conflicts, which count every database's sessions, commits, rows
 * written, deadlocks and temporary files (when another tenant works, and how much).
 * Tenants lose their own database's row too; nothing of the platform's reads it as a
 * tenant. Their list is read from the catalog (it grows with PostgreSQL's versions).
 * pg_locks (pg_lock_status()) stays: job queues such as GoodJob and Que find their own
 * advisory locks in it (see the README's threat model).
 */
export async function hideOtherSessions(clusters: ClusterAdmin, clusterId: string, database: string): Promise<void> {
  await withPrivilegedSession(clusters, clusterId, database, async (c) => {
    // Servers starting together all do this in template1: two REVOKEs of one
    // pg_proc row at once fail with "tuple concurrently updated", so they take turns.
    await c.query("BEGIN");
    try {
      await c.query("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('capydb:hide-sessions'))");
      for (const f of SESSION_ACTIVITY_FUNCTIONS) await c.query(`REVOKE EXECUTE ON FUNCTION pg_catalog.${f} FROM PUBLIC`);
      const databaseStats = await c.query<{ f: string }>(
        `SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text AS f FROM pg_catalog.pg_proc p
          WHERE p.pronamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace
            AND pg_catalog.starts_with(p.proname::pg_catalog.text, 'pg_stat_get_db_')`,
      );
      // regprocedure prints the name bare (search_path is pg_catalog): "pg_stat_get_db_deadlocks(oid)"
      for (const { f } of databaseStats.rows) await c.query(`REVOKE EXECUTE ON FUNCTION pg_catalog.${f} FROM PUBLIC`);
      await c.query("COMMIT");
    } catch (err) {
      await c.query("ROLLBACK").catch(() => {});
      throw err;
    }
  });
}

// ---------------------------------------------------------------- origin slots (writes since a preview's snapshot)
//
// A logical replication slot (test_decoding) on a project's own instance, made in its
// database when the project's snapshot is taken: what it decodes is exactly what production
// received after the snapshot. Making, peeking and dropping a slot are functions of
// pg_catalog with our own arguments; decoding runs the output functions of built-in types
// only (a tenant cannot make a base type), no tenant code.

/**
 * Runs a read of a slot, waiting while another session reads it ("replication slot … is active
 * for PID …": an operator's listing and a job may peek the same slot at once), at most 30 s.
 */
async function whileSlotBusy<T>(read: () => Promise<T>): Promise<T> {
  for (const deadline = Date.now() + 30_000; ;) {
    try {
      return await read();
    } catch (err) {
      if ((err as { code?: string }).code !== "55006" || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
    }
  }
}

/** Slots the platform makes for origins are named so, and only they are ever dropped. */
export const ORIGIN_SLOT_PREFIX = "capydb_origin_";

/**
 * Makes the slot; answers its consistent point. Waits for the transactions open in
 * production at that moment (that is how a slot finds its start) at most `timeoutSeconds`.
 */
export async function createOriginSlot(clusters: ClusterAdmin, clusterId: string, database: string, slot: string, timeoutSeconds: number): Promise<string> {
  if (!slot.startsWith(ORIGIN_SLOT_PREFIX)) throw new Error(`not an origin slot: ${slot}`);
  return withPrivilegedSession(clusters, clusterId, database, async (c) => {
    await c.query(`SET statement_timeout = '${Math.round(timeoutSeconds)}s'`);
    const { rows } = await c.query<{ lsn: string }>(
      "SELECT lsn::pg_catalog.text AS lsn FROM pg_catalog.pg_create_logical_replication_slot($1, 'test_decoding')",
      [slot],
    );
    return rows[0].lsn;
  });
}

/** Per table, the rows production's transactions inserted, updated and deleted since the slot's start, and when the last of them committed. */
export interface OriginWrites {
  table: string;
  inserts: number;
  updates: number;
  deletes: number;
  last_write_at: string;
}

/** The counter of a slot (an origin or a rollback's back slot) is named so: a copy of it that counting consumes. */
export const COUNT_SLOT_PREFIX = "capydb_count_";

/** The counter slot of a slot: a name of its own, the same every time. */
export function countSlotName(source: string): string {
  return `${COUNT_SLOT_PREFIX}${crypto.createHash("sha256").update(source).digest("hex").slice(0, 40)}`;
}

/** What one read of a counter slot found: its lines, and what the transactions after `through` wrote. */
export interface CountChunk {
  /** Lines decoded (fewer than asked: the counter reached production's present). */
  lines: number;
  /** The end of the last transaction counted (null: none after `through`). */
  through: string | null;
  tables: OriginWrites[];
}

/**
 * Counts a slot's changes a chunk at a time, in one privileged session in production's
 * database. Each chunk: by table and kind from each change line ("table public.t: INSERT:
 * ..."), each table's last commit time from its transactions' COMMIT lines. It reads a copy of
 * the slot (its counter, made from it the first time): the counter is first advanced to
 * `through` (what the caller has recorded, so nothing is decoded twice and a crash between
 * recording and advancing loses nothing), then read up to about `uptoChanges` lines, whole
 * transactions, not consumed. The slot itself is never read: other previews and a carry copy
 * it.
 */
export class SlotCounter {
  private constructor(
    private readonly c: pg.Client,
    readonly source: string,
  ) {}

  static async open(clusters: ClusterAdmin, clusterId: string, database: string, source: string): Promise<SlotCounter> {
    if (!source.startsWith(ORIGIN_SLOT_PREFIX) && !source.startsWith(CARRY_SLOT_PREFIX)) throw new Error(`not a slot the platform counts: ${source}`);
    // the planner takes the decoded lines for a few (a function's default estimate) and would
    // join changes to their commits by nested loop: quadratic in the lines of a chunk
    return new SlotCounter(await privilegedClient(clusters, clusterId, database, "-c enable_nestloop=off"), source);
  }

  async close(): Promise<void> {
    await this.c.end().catch(() => {});
  }

  /** The next chunk after `through`; null when the slot or its counter is gone or was invalidated (it held back more WAL than allowed). */
  async chunk(through: string | null, uptoChanges: number, timeoutSeconds: number): Promise<CountChunk | null> {
    const c = this.c;
    const counter = countSlotName(this.source);
    const state = await c.query<{ slot_name: string; lost: boolean }>(
      `SELECT slot_name::pg_catalog.text AS slot_name, (wal_status OPERATOR(pg_catalog.=) 'lost') AS lost
         FROM pg_catalog.pg_replication_slots WHERE slot_name OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.text[])`,
      [[this.source, counter]],
    );
    const slots = new Map(state.rows.map((r) => [r.slot_name, r.lost]));
    if (slots.get(this.source) !== false || slots.get(counter) === true) return null;
    await c.query(`SET statement_timeout = '${Math.max(1000, Math.round(timeoutSeconds * 1000))}ms'`);
    if (!slots.has(counter)) await whileSlotBusy(() => c.query("SELECT pg_catalog.pg_copy_logical_replication_slot($1, $2)", [this.source, counter]));
    if (through) {
      await whileSlotBusy(() =>
        c.query(
          `SELECT pg_catalog.pg_replication_slot_advance(slot_name, $2::pg_catalog.pg_lsn) FROM pg_catalog.pg_replication_slots
            WHERE slot_name OPERATOR(pg_catalog.=) $1 AND confirmed_flush_lsn OPERATOR(pg_catalog.<) $2::pg_catalog.pg_lsn`,
          [counter, through],
        ),
      );
    }
    const { rows } = await whileSlotBusy(() =>
      c.query<{
        lines: string;
        through: string | null;
        tables: { table: string; inserts: number; updates: number; deletes: number; last_write_at: string }[] | null;
      }>(
        `WITH changes AS MATERIALIZED (
           SELECT lsn, xid, data FROM pg_catalog.pg_logical_slot_peek_changes($1, NULL, $2::pg_catalog.int4, 'include-timestamp', 'on', 'skip-empty-xacts', 'on', 'only-local', 'on')
         ),
         commits AS (
           SELECT xid, lsn, pg_catalog.substring(data, '\\(at (.+)\\)$')::pg_catalog.timestamptz AS at
             FROM changes WHERE pg_catalog.starts_with(data, 'COMMIT ')
              AND ($3::pg_catalog.pg_lsn IS NULL OR lsn OPERATOR(pg_catalog.>) $3::pg_catalog.pg_lsn)
         ),
         writes AS (
           SELECT xid, pg_catalog.substring(data, '^table (.+?): (?:INSERT|UPDATE|DELETE):') AS tbl,
                  pg_catalog.substring(data, '^table .+?: (INSERT|UPDATE|DELETE):') AS kind
             FROM changes WHERE pg_catalog.starts_with(data, 'table ')
         ),
         per_table AS (
           SELECT w.tbl AS "table",
                  pg_catalog.count(*) FILTER (WHERE w.kind OPERATOR(pg_catalog.=) 'INSERT') AS inserts,
                  pg_catalog.count(*) FILTER (WHERE w.kind OPERATOR(pg_catalog.=) 'UPDATE') AS updates,
                  pg_catalog.count(*) FILTER (WHERE w.kind OPERATOR(pg_catalog.=) 'DELETE') AS deletes,
                  pg_catalog.max(k.at) AS last_write_at
             FROM writes w JOIN commits k ON k.xid OPERATOR(pg_catalog.=) w.xid
            WHERE w.tbl IS NOT NULL
            GROUP BY w.tbl
         )
         SELECT (SELECT pg_catalog.count(*) FROM changes) AS lines,
                (SELECT pg_catalog.max(lsn) FROM commits)::pg_catalog.text AS through,
                (SELECT pg_catalog.json_agg(per_table) FROM per_table) AS tables`,
        [counter, uptoChanges, through],
      ),
    );
    return {
      lines: Number(rows[0].lines),
      through: rows[0].through,
      tables: (rows[0].tables ?? []).map((t) => ({
        table: t.table,
        inserts: Number(t.inserts),
        updates: Number(t.updates),
        deletes: Number(t.deletes),
        last_write_at: new Date(t.last_write_at).toISOString(),
      })),
    };
  }
}

/** Drops a slot's counter if it is there. */
async function dropCounter(c: pg.Client, source: string): Promise<void> {
  await c.query(
    "SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name OPERATOR(pg_catalog.=) $1 AND NOT active",
    [countSlotName(source)],
  );
}

/** The origin slots on a project's instance (made in its database). */
export async function listOriginSlots(clusters: ClusterAdmin, clusterId: string, database: string): Promise<string[]> {
  return withPrivilegedSession(clusters, clusterId, database, async (c) => {
    const { rows } = await c.query<{ slot_name: string }>(
      "SELECT slot_name::pg_catalog.text AS slot_name FROM pg_catalog.pg_replication_slots WHERE pg_catalog.starts_with(slot_name::pg_catalog.text, $1)",
      [ORIGIN_SLOT_PREFIX],
    );
    return rows.map((r) => r.slot_name);
  });
}

/** Drops an origin slot if it is there (what it held back is released). */
export async function dropOriginSlot(clusters: ClusterAdmin, clusterId: string, database: string, slot: string): Promise<void> {
  if (!slot.startsWith(ORIGIN_SLOT_PREFIX)) throw new Error(`not an origin slot: ${slot}`);
  await withPrivilegedSession(clusters, clusterId, database, async (c) => {
    await c.query(
      "SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name OPERATOR(pg_catalog.=) $1 AND NOT active",
      [slot],
    );
    await dropCounter(c, slot);
  });
}

// ---------------------------------------------------------------- carrying production's writes (data cutovers)
//
// A data cutover replays production's writes since the preview's origin into the preview.
// It reads them from a copy of the origin slot (its own position, advanced as the preview
// commits what it applied; the origin slot itself is only ever peeked, other previews
// share it). The replay runs in the preview as the preview's own role, in replica mode
// (production's triggers already ran: the preview's must not fire again), recording its
// progress in a replication origin in the same commit, so a retried job applies nothing
// twice. That role is granted, for the time of the replay only, the two origin functions
// and SET on session_replication_role. Copying, reading, advancing and dropping a slot,
// origins and grants are functions and statements of pg_catalog with our own arguments.

/** Slots copied for a cutover's replay are named so. */
export const CARRY_SLOT_PREFIX = "capydb_carry_";

/** One decoded line of test_decoding: its WAL position, transaction and text. */
export interface DecodedRow {
  lsn: string;
  xid: string;
  data: string;
}

/** A sequence of production's, with its last value (null: never used). */
export interface SequenceValue {
  schema: string;
  name: string;
  last_value: string | null;
}

/**
 * The replay's side on production: one privileged session in production's database, kept
 * for the whole carry-over (the pause counts every connection made in it). Values are printed
 * by output functions under this session's settings, pinned to what the replay reads back.
 */
export class CarrySource {
  private constructor(
    private readonly c: pg.Client,
    readonly slot: string,
  ) {}

  static async open(clusters: ClusterAdmin, clusterId: string, database: string, slot: string): Promise<CarrySource> {
    if (!slot.startsWith(CARRY_SLOT_PREFIX)) throw new Error(`not a carry slot: ${slot}`);
    const client = await privilegedClient(
      clusters,
      clusterId,
      database,
      "-c DateStyle=ISO,MDY -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex -c synchronous_commit=on",
    );
    return new CarrySource(client, slot);
  }

  async close(): Promise<void> {
    await this.c.end().catch(() => {});
  }

  /** The origin slot copied under the replay's own name (once: a retry keeps the copy and its position). */
  async copyFrom(originSlot: string): Promise<void> {
    if (!originSlot.startsWith(ORIGIN_SLOT_PREFIX)) throw new Error(`not an origin slot: ${originSlot}`);
    const there = await this.c.query("SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name OPERATOR(pg_catalog.=) $1", [this.slot]);
    if (!there.rowCount) await whileSlotBusy(() => this.c.query("SELECT pg_catalog.pg_copy_logical_replication_slot($1, $2)", [originSlot, this.slot]));
  }

  /**
   * The next changes, whole transactions, up to `uptoLsn` (null: all) and about `uptoChanges`
   * lines (the stop is checked after each transaction). Null when the slot is gone or lost. Not
   * consumed: the caller advances the slot once the preview has committed them.
   */
  async read(uptoLsn: string | null, uptoChanges: number): Promise<DecodedRow[] | null> {
    const state = await this.c.query<{ lost: boolean }>(
      "SELECT (wal_status OPERATOR(pg_catalog.=) 'lost') AS lost FROM pg_catalog.pg_replication_slots WHERE slot_name OPERATOR(pg_catalog.=) $1",
      [this.slot],
    );
    if (state.rows.length === 0 || state.rows[0].lost) return null;
    const { rows } = await whileSlotBusy(() =>
      this.c.query<DecodedRow>(
        `SELECT lsn::pg_catalog.text AS lsn, xid::pg_catalog.text AS xid, data
         FROM pg_catalog.pg_logical_slot_peek_changes($1, $2::pg_catalog.pg_lsn, $3, 'include-xids', 'on', 'include-timestamp', 'on', 'skip-empty-xacts', 'on', 'only-local', 'on')`,
        [this.slot, uptoLsn, uptoChanges],
      ),
    );
    return rows;
  }

  /** Moves the slot past what the preview has committed (what it held back is released). */
  async advance(lsn: string): Promise<void> {
    await whileSlotBusy(() =>
      this.c.query(
        `SELECT pg_catalog.pg_replication_slot_advance(slot_name, $2::pg_catalog.pg_lsn) FROM pg_catalog.pg_replication_slots
        WHERE slot_name OPERATOR(pg_catalog.=) $1 AND confirmed_flush_lsn OPERATOR(pg_catalog.<) $2::pg_catalog.pg_lsn`,
        [this.slot, lsn],
      ),
    );
  }

  /**
   * Production's WAL position once writes are held, flushed: a transactional logical message
   * committed synchronously flushes every commit before it (a tenant's asynchronous commits
   * too, which decoding would otherwise not see yet). The drain reads up to the answer.
   */
  async flushedLsn(): Promise<string> {
    await this.c.query("SELECT pg_catalog.pg_logical_emit_message(true, 'capydb', 'writes held')");
    return (await this.c.query<{ lsn: string }>("SELECT pg_catalog.pg_current_wal_lsn()::pg_catalog.text AS lsn")).rows[0].lsn;
  }

  /** Production's sequences and their values (read while writes are held: the values the preview must reach). */
  async sequences(): Promise<SequenceValue[]> {
    const { rows } = await this.c.query<SequenceValue>(
      `SELECT n.nspname::pg_catalog.text AS schema, k.relname::pg_catalog.text AS name, pg_catalog.pg_sequence_last_value(k.oid)::pg_catalog.text AS last_value
         FROM pg_catalog.pg_class k JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace
        WHERE k.relkind OPERATOR(pg_catalog.=) 'S' AND n.nspname OPERATOR(pg_catalog.<>) ALL ('{pg_catalog,information_schema}'::pg_catalog.name[])`,
    );
    return rows;
  }

  /** Drops the slot if it is there. */
  async dropSlot(): Promise<void> {
    await this.c.query(
      "SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name OPERATOR(pg_catalog.=) $1 AND NOT active",
      [this.slot],
    );
  }
}

/**
 * Makes the slot a rollback carries back from, in the preview's database about to become
 * production: what it decodes with only-local is what production's clients write after the
 * swap (the replay's own changes carry an origin and are skipped). Waits for the transactions
 * open in that instance at most `timeoutSeconds`.
 */
export async function createCarryBackSlot(clusters: ClusterAdmin, clusterId: string, database: string, slot: string, timeoutSeconds: number): Promise<string> {
  if (!slot.startsWith(CARRY_SLOT_PREFIX)) throw new Error(`not a carry slot: ${slot}`);
  return withPrivilegedSession(clusters, clusterId, database, async (c) => {
    const there = await c.query<{ lsn: string }>(
      "SELECT confirmed_flush_lsn::pg_catalog.text AS lsn FROM pg_catalog.pg_replication_slots WHERE slot_name OPERATOR(pg_catalog.=) $1",
      [slot],
    );
    if (there.rows[0]) return there.rows[0].lsn;
    await c.query(`SET statement_timeout = '${Math.round(timeoutSeconds)}s'`);
    const { rows } = await c.query<{ lsn: string }>(
      "SELECT lsn::pg_catalog.text AS lsn FROM pg_catalog.pg_create_logical_replication_slot($1, 'test_decoding')",
      [slot],
    );
    return rows[0].lsn;
  });
}

/** Drops a carry slot if it is there (a failed cutover's). */
export async function dropCarrySlot(clusters: ClusterAdmin, clusterId: string, database: string, slot: string): Promise<void> {
  if (!slot.startsWith(CARRY_SLOT_PREFIX)) throw new Error(`not a carry slot: ${slot}`);
  await withPrivilegedSession(clusters, clusterId, database, async (c) => {
    await c.query(
      "SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name OPERATOR(pg_catalog.=) $1 AND NOT active",
      [slot],
    );
    await dropCounter(c, slot);
  });
}

const CARRY_FUNCTIONS = ["pg_replication_origin_session_setup(pg_catalog.text)", "pg_replication_origin_xact_setup(pg_catalog.pg_lsn, pg_catalog.timestamptz)"];

/**
 * Lets `role` replay into `database` (the preview): the replication origin that records its
 * progress made if missing, the two origin functions and replica mode granted. Answers the
 * origin's progress (production's LSN the preview has committed through; null: nothing yet).
 */
export async function beginCarryApply(clusters: ClusterAdmin, clusterId: string, database: string, role: string, origin: string): Promise<string | null> {
  if (!origin.startsWith(CARRY_SLOT_PREFIX)) throw new Error(`not a carry origin: ${origin}`);
  return withPrivilegedSession(clusters, clusterId, database, async (c) => {
    const exists = await c.query("SELECT 1 FROM pg_catalog.pg_replication_origin WHERE roname OPERATOR(pg_catalog.=) $1", [origin]);
    if (!exists.rowCount) await c.query("SELECT pg_catalog.pg_replication_origin_create($1)", [origin]);
    for (const f of CARRY_FUNCTIONS) await c.query(`GRANT EXECUTE ON FUNCTION pg_catalog.${f} TO ${quoteIdent(role)}`);
    await c.query(`GRANT SET ON PARAMETER session_replication_role TO ${quoteIdent(role)}`);
    const { rows } = await c.query<{ lsn: string | null }>("SELECT pg_catalog.pg_replication_origin_progress($1, true)::pg_catalog.text AS lsn", [origin]);
    return rows[0].lsn;
  });
}

/** Takes back what beginCarryApply granted and drops the origin (the replay is over, done or abandoned). */
export async function endCarryApply(clusters: ClusterAdmin, clusterId: string, database: string, role: string, origin: string): Promise<void> {
  if (!origin.startsWith(CARRY_SLOT_PREFIX)) throw new Error(`not a carry origin: ${origin}`);
  await withPrivilegedSession(clusters, clusterId, database, async (c) => {
    const roleThere = await c.query("SELECT 1 FROM pg_catalog.pg_authid WHERE rolname OPERATOR(pg_catalog.=) $1::pg_catalog.name", [role]);
    if (roleThere.rowCount) {
      for (const f of CARRY_FUNCTIONS) await c.query(`REVOKE EXECUTE ON FUNCTION pg_catalog.${f} FROM ${quoteIdent(role)}`);
      await c.query(`REVOKE SET ON PARAMETER session_replication_role FROM ${quoteIdent(role)}`);
    }
    await c.query("SELECT pg_catalog.pg_replication_origin_drop(roname) FROM pg_catalog.pg_replication_origin WHERE roname OPERATOR(pg_catalog.=) $1", [
      origin,
    ]);
  });
}
