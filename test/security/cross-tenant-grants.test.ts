// Attack: tenant A grants something to tenant B's roles (which it can name: role names
// are visible cluster-wide) — a table privilege, default privileges — and so makes
// B's DROP ROLE fail for ever ("role ... cannot be dropped because some objects depend
// on it"): B's preview and project deletes never finish and the stuck preview counts
// against B's limit. Deletes must always finish, whatever another tenant granted, even
// while A holds its table locked.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { CapyClient } from "@capydb/api";
import { adminQuery, startTestServer, type TestServer } from "../harness/server.js";
import { psql, roleExists } from "../harness/sql.js";
import { readyProject, tenant } from "../harness/tenants.js";

let t: TestServer;
let a: CapyClient;
let b: CapyClient;

beforeAll(async () => {
  t = await startTestServer({ CAPYDB_JOB_MAX_ATTEMPTS: "2" });
  a = await tenant(t, "Granter");
  b = await tenant(t, "Victim");
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await t?.stop();
});

describe("grants from another tenant", () => {
  it("never block the deletes of a preview or a project, even while the granter holds its table locked", async () => {
    const attacker = await readyProject(a, "granter");
    const victim = await readyProject(b, "victim");
    psql(victim.uri, "create table notes(id int)");
    const pv = await b.createPreview(victim.project.id, { name: "pr-1" });
    await b.waitForJob(pv.job.id, { timeoutMs: 60_000 });
    const preview = (await b.getPreview(pv.preview.id)).preview;

    // A, with only its own connection string, ties B's roles to its database.
    psql(attacker.uri, "create table bait(id int); create sequence bait_seq; create schema lure");
    for (const role of [preview.role_name, victim.project.role_name]) {
      psql(attacker.uri, `grant select, insert on bait to "${role}"; grant usage on sequence bait_seq to "${role}"; grant usage on schema lure to "${role}"`);
      psql(attacker.uri, `alter default privileges grant select on tables to "${role}"`);
    }
    const dependents = await adminQuery(
      "postgres",
      "select count(*)::int as n from pg_shdepend where refobjid = (select oid from pg_roles where rolname = $1)",
      [preview.role_name],
    );
    expect(dependents.rows[0].n).toBeGreaterThan(0);

    // ...and holds its table locked while B deletes.
    const holder = new pg.Client({ connectionString: attacker.uri });
    await holder.connect();
    await holder.query("begin; lock table bait in access exclusive mode");
    try {
      await b.waitForJob((await b.deletePreview(preview.id)).job.id, { timeoutMs: 60_000 });
      expect(await roleExists(preview.role_name)).toBe(false);
      expect((await b.getPreview(preview.id)).preview.state).toBe("deleted");

      await b.waitForJob((await b.deleteProject(victim.project.id)).job.id, { timeoutMs: 60_000 });
      expect(await roleExists(victim.project.role_name)).toBe(false);
    } finally {
      await holder.query("rollback").catch(() => {});
      await holder.end();
    }
    // A's own objects are untouched; only its grants to B's roles are gone.
    expect(psql(attacker.uri, "select count(*) from bait")).toBe("0");
    expect(psql(attacker.uri, "select coalesce(array_to_string(relacl, ','), '') from pg_class where relname = 'bait'")).not.toContain(preview.role_name);
  });
});
