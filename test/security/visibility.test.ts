// Attack: reconnaissance from inside one's own database. pg_stat_activity (and the
// pg_stat_get_backend_* functions behind it) show every session of the cluster: other
// tenants' databases, roles, application names, client addresses, when they work.
// A tenant must see none of it, in a new database and in one made before the fix.
// Nor pg_stat_database (every database's session count, commits, rows written). What
// stays visible is what the README's threat model says: pg_locks shows other databases'
// locks as numbers (job queues read it), and pg_stat_statements, where an operator
// preloads it, shows other roles' counts and timings but never their statements.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import pg from "pg";
import type { CapyClient } from "@capydb/api";
import { startTestServer, type TestServer } from "../harness/server.js";
import { readyProject, tenant } from "../harness/tenants.js";
import { freePort } from "../harness/ports.js";
import { startLocalCluster } from "../../server/src/platform/dataplane/local-cluster.js";

let t: TestServer;
let a: CapyClient;
let b: CapyClient;

async function session(uri: string, applicationName: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: uri, application_name: applicationName });
  await c.connect();
  return c;
}

/** What the spy can learn of the victim's session, or the error that stops it. */
async function spy(c: pg.Client, victimApp: string): Promise<string> {
  const probes = [
    "select string_agg(coalesce(datname, '') || '/' || coalesce(usename, '') || '/' || application_name, ',') from pg_stat_activity where application_name = $1",
    "select count(*)::text from pg_stat_get_backend_idset() as b(id) where pg_stat_get_backend_dbid(b.id) is not null and pg_stat_get_backend_userid(b.id) <> (select oid from pg_roles where rolname = current_user)",
    // pg_stat_database's session count, function by function
    "select sum(pg_stat_get_db_numbackends(oid))::text from pg_database where datname <> current_database()",
  ];
  const seen: string[] = [];
  for (const [i, sql] of probes.entries()) {
    try {
      const r = await c.query(sql, i === 0 ? [victimApp] : []);
      seen.push(String(Object.values(r.rows[0])[0] ?? ""));
    } catch (err) {
      seen.push(`denied:${(err as { code?: string }).code}`);
    }
  }
  return seen.join(" | ");
}

beforeAll(async () => {
  t = await startTestServer({ CAPYDB_SCHEDULER_INTERVAL_MS: "200" });
  a = await tenant(t, "Spy");
  b = await tenant(t, "Watched");
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await t?.stop();
});

describe("other tenants' sessions", () => {
  it("are invisible from a tenant's database", async () => {
    const victim = await readyProject(b, "watched-app");
    const attacker = await readyProject(a, "spy");
    const victimSession = await session(victim.uri, "watched-secret-app");
    const spySession = await session(attacker.uri, "spy");
    try {
      expect(await spy(spySession, "watched-secret-app")).toBe("denied:42501 | denied:42501 | denied:42501");
      // Every role can list the shared cluster's databases and roles: their names carry nothing the victim wrote.
      const names = (await spySession.query("select string_agg(datname, ',') as d, (select string_agg(rolname, ',') from pg_roles) as r from pg_database"))
        .rows[0];
      expect(names.d).toContain(victim.project.database_name);
      expect(`${names.d},${names.r}`).not.toMatch(/watched/i);
    } finally {
      await victimSession.end();
      await spySession.end();
    }
  });

  it("are hidden again in a database made before the platform hid them (the scheduler catches up)", async () => {
    const victim = await readyProject(b, "watched-old");
    const attacker = await readyProject(a, "spy-old");
    // What a database made by the previous version looks like: PUBLIC still may call them.
    const admin = new pg.Client({ connectionString: new URL(`/${attacker.project.database_name}`, t.adminUrl).toString() });
    await admin.connect();
    await admin.query(
      "grant execute on function pg_stat_get_activity(integer), pg_stat_get_backend_idset(), pg_stat_get_backend_dbid(integer), pg_stat_get_backend_userid(integer), pg_stat_get_db_numbackends(oid) to public",
    );
    await admin.end();
    const control = new pg.Client({ connectionString: t.controlUrl });
    await control.connect();
    await control.query("update projects set sessions_hidden = false where id = $1", [attacker.project.id]);
    const victimSession = await session(victim.uri, "watched-old-app");
    try {
      // the older database leaks until the scheduler's pass reaches it
      const deadline = Date.now() + 30_000;
      let hidden = false;
      while (!hidden && Date.now() < deadline) {
        hidden = (await control.query("select sessions_hidden from projects where id = $1", [attacker.project.id])).rows[0].sessions_hidden;
        if (!hidden) await new Promise((r) => setTimeout(r, 200));
      }
      expect(hidden).toBe(true);
      const spySession = await session(attacker.uri, "spy");
      try {
        expect(await spy(spySession, "watched-old-app")).toBe("denied:42501 | denied:42501 | denied:42501");
      } finally {
        await spySession.end();
      }
    } finally {
      await victimSession.end();
      await control.end();
    }
  });
});

describe("other tenants' activity", () => {
  it("pg_stat_database and pg_stat_database_conflicts are refused (every database's sessions, commits, rows written)", async () => {
    const victim = await readyProject(b, "watched-stats");
    const attacker = await readyProject(a, "spy-stats");
    const victimSession = await session(victim.uri, "watched-stats-app");
    const spySession = await session(attacker.uri, "spy");
    try {
      await victimSession.query("create table ledger (id int); insert into ledger select generate_series(1, 100)");
      const probes = [
        [
          "select numbackends::text || '/' || xact_commit::text || '/' || tup_inserted::text from pg_stat_database where datname = $1",
          [victim.project.database_name],
        ],
        ["select confl_lock::text || '/' || confl_snapshot::text from pg_stat_database_conflicts where datname = $1", [victim.project.database_name]],
        ["select pg_stat_get_db_xact_commit(oid)::text from pg_database where datname = $1", [victim.project.database_name]],
        ["select pg_stat_get_db_tuples_inserted(oid)::text from pg_database where datname = $1", [victim.project.database_name]],
        ["select pg_stat_get_db_sessions(oid)::text from pg_database where datname = $1", [victim.project.database_name]],
      ] as const;
      const seen: string[] = [];
      for (const [sql, params] of probes) {
        seen.push(
          await spySession.query(sql, [...params]).then(
            (r) => `${sql.slice(0, 40)}: ${JSON.stringify(r.rows)}`,
            (err: { code?: string }) => `denied:${err.code}`,
          ),
        );
      }
      expect(seen).toEqual(probes.map(() => "denied:42501"));
    } finally {
      await victimSession.end();
      await spySession.end();
    }
  });

  it("pg_locks shows another database's locks as numbers only (documented: job queues read it), never names", async () => {
    const victim = await readyProject(b, "watched-locks");
    const attacker = await readyProject(a, "spy-locks");
    const victimSession = await session(victim.uri, "watched-locks-app");
    const spySession = await session(attacker.uri, "spy");
    try {
      await victimSession.query("create table watched_payroll (id int)");
      await victimSession.query("begin");
      await victimSession.query("lock table watched_payroll in access exclusive mode");
      const { rows } = await spySession.query(
        `select l.locktype, l.relation::regclass::text as relation, l.mode, l.granted, l.pid
           from pg_locks l join pg_database d on d.oid = l.database
          where d.datname = $1 and l.locktype = 'relation' and l.mode = 'AccessExclusiveLock'`,
        [victim.project.database_name],
      );
      // What the README says is visible: that the database holds a lock, of which mode, on which oid.
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ locktype: "relation", mode: "AccessExclusiveLock", granted: true, relation: expect.stringMatching(/^\d+$/) });
      // Nothing more: the table's name is in the victim's catalog, and the pid leads nowhere.
      expect(JSON.stringify(rows)).not.toMatch(/watched|payroll/i);
      await expect(spySession.query("select * from pg_stat_get_activity($1)", [rows[0].pid])).rejects.toMatchObject({ code: "42501" });
    } finally {
      await victimSession.query("rollback").catch(() => {});
      await victimSession.end();
      await spySession.end();
    }
  });

  it("pg_stat_statements, where an operator preloads it, shows other roles' counts and timings, never their statements (documented)", async () => {
    // PostgreSQL's own rule, on a cluster that preloads the module (the harness cluster does
    // not): two tenant roles set up as the platform does (own database, CONNECT from PUBLIC
    // revoked, the extension made by the superuser in capydb_extensions).
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-pgss-"));
    fs.chmodSync(root, 0o755);
    const cluster = await startLocalCluster({
      dir: path.join(root, "pg"),
      port: await freePort(),
      binDir: inject("pgBinDir"),
      settings: { fsync: "off", shared_preload_libraries: "pg_stat_statements" },
    });
    const at = (database: string, user?: string) => {
      const u = new URL(cluster.adminUrl);
      u.pathname = `/${database}`;
      if (user) {
        u.username = user;
        u.password = "pw-" + user;
      }
      return new pg.Client({ connectionString: u.toString() });
    };
    try {
      const admin = at("postgres");
      await admin.connect();
      for (const t of ["spy", "watched"]) {
        await admin.query(`create role ${t}_role login password 'pw-${t}_role'`);
        await admin.query(`create database ${t}_db`);
        await admin.query(`revoke connect, temporary on database ${t}_db from public`);
        await admin.query(`grant connect on database ${t}_db to ${t}_role`);
      }
      await admin.end();
      const spyAdmin = at("spy_db");
      await spyAdmin.connect();
      await spyAdmin.query("create schema capydb_extensions; create extension pg_stat_statements with schema capydb_extensions");
      await spyAdmin.query("grant usage on schema capydb_extensions to spy_role");
      await spyAdmin.end();

      const watched = at("watched_db", "watched_role");
      await watched.connect();
      for (let i = 0; i < 3; i++) await watched.query("select 'watched-secret-statement' as payroll_of_ceo, $1::int", [i]);
      await watched.end();

      const spy = at("spy_db", "spy_role");
      await spy.connect();
      try {
        const { rows } = await spy.query(
          `select s.query, s.queryid, s.calls, s.total_exec_time, d.datname
             from capydb_extensions.pg_stat_statements s join pg_database d on d.oid = s.dbid
            where s.userid = 'watched_role'::regrole`,
        );
        // visible, as documented: that the other role ran statements, how often and how long
        expect(rows.length).toBeGreaterThan(0);
        expect(rows.map((r) => r.datname)).toContain("watched_db");
        // never what they were
        expect(rows.every((r) => r.queryid === null && r.query === "<insufficient privilege>")).toBe(true);
        const all = await spy.query("select string_agg(query, ' ') as q from capydb_extensions.pg_stat_statements");
        expect(all.rows[0].q).not.toMatch(/watched-secret|payroll/);
      } finally {
        await spy.end();
      }
    } finally {
      await cluster.stop();
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});
