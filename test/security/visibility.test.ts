// Attack: reconnaissance from inside one's own database. pg_stat_activity (and the
// pg_stat_get_backend_* functions behind it) show every session of the cluster: other
// tenants' databases, roles, application names, client addresses, when they work.
// A tenant must see none of it, in a new database and in one made before the fix.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { CapyClient } from "@capydb/api";
import { startTestServer, type TestServer } from "../harness/server.js";
import { readyProject, tenant } from "../harness/tenants.js";

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
      expect(await spy(spySession, "watched-secret-app")).toBe("denied:42501 | denied:42501");
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
      "grant execute on function pg_stat_get_activity(integer), pg_stat_get_backend_idset(), pg_stat_get_backend_dbid(integer), pg_stat_get_backend_userid(integer) to public",
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
        expect(await spy(spySession, "watched-old-app")).toBe("denied:42501 | denied:42501");
      } finally {
        await spySession.end();
      }
    } finally {
      await victimSession.end();
      await control.end();
    }
  });
});
