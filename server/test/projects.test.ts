import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { CapyClient } from "@capydb/api";
import { adminQuery, startTestServer, type TestServer } from "../../test/harness/server.js";
import { databaseExists, psql, roleExists } from "../../test/harness/sql.js";
import { organization } from "../../test/harness/tenants.js";

let t: TestServer;
let orgId: string;
let org: CapyClient;

async function readyProject(name: string) {
  const { job, project } = await org.createProject({ name });
  await org.waitForJob(job.id, { timeoutMs: 30_000 });
  return (await org.getProject(project.id)).project;
}

beforeAll(async () => {
  t = await startTestServer();
  ({ orgId, client: org } = await organization(t, "Acme", "ci"));
});
afterAll(async () => {
  await org?.close();
  await t?.stop();
});

describe("projects", () => {
  it("creates a project that psql can connect to, direct and pooled, with a locked-down role", async () => {
    const { job, project } = await org.createProject({ name: "Shop" });
    expect(project.state).toBe("provisioning");
    expect(job.type).toBe("project.create");
    const done = await org.waitForJob(job.id, { timeoutMs: 30_000 });
    expect(done.state).toBe("succeeded");
    const ready = (await org.getProject(project.id)).project;
    expect(ready.state).toBe("ready");
    expect(ready.latest_job_id).toBe(job.id);
    const uri = await org.getConnectionUri(project.id);
    expect(psql(uri, "select current_user")).toBe(ready.role_name);
    const pooled = await org.getConnectionUri(project.id, { pooled: true });
    expect(pooled).toContain(`:${ready.pooled_port}/`);
    expect(ready.pooled_port).toBeGreaterThan(0);
    // transaction pooling through PgBouncer: a write and a read back
    psql(pooled, "create table t(x int); insert into t values (42)");
    expect(psql(pooled, "select x from t")).toBe("42");
    const role = await adminQuery("postgres", "select rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolconnlimit from pg_roles where rolname = $1", [
      ready.role_name,
    ]);
    expect(role.rows[0]).toEqual({ rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolreplication: false, rolconnlimit: 20 });
    // CONNECT and TEMPORARY are not granted to PUBLIC on the new database
    const acl = await adminQuery(
      "postgres",
      "select has_database_privilege('public', $1, 'CONNECT') as c, has_database_privilege('public', $1, 'TEMPORARY') as tmp",
      [ready.database_name],
    );
    expect(acl.rows[0]).toEqual({ c: false, tmp: false });
    // the password is stored sealed, never in clear in the control plane
    const password = new URL(uri).password;
    const stored = await t.server.ctx.db.query("select role_password_sealed from projects where id = $1", [project.id]);
    expect(stored.rows[0].role_password_sealed).not.toContain(password);
  });

  it("applies PATCHed settings to Postgres: statement_timeout visible in a session of the role", async () => {
    const p = await readyProject("Settings");
    const { project } = await org.updateProject(p.id, { statement_timeout: "1500ms", idle_transaction_timeout: "30s", max_connections: 7 });
    expect(project).toMatchObject({ statement_timeout: "1500ms", idle_transaction_timeout: "30s", max_connections: 7, plan: "free" });
    // the plan is the operator's
    expect((await t.admin.updateProject(p.id, { plan: "pro" })).project.plan).toBe("pro");
    const uri = await org.getConnectionUri(p.id);
    expect(psql(uri, "show statement_timeout")).toBe("1500ms");
    expect(psql(uri, "show idle_in_transaction_session_timeout")).toBe("30s");
    const role = await adminQuery("postgres", "select rolconnlimit from pg_roles where rolname = $1", [p.role_name]);
    expect(role.rows[0].rolconnlimit).toBe(7);
    // and it is enforced
    expect(() => psql(uri, "select pg_sleep(3)")).toThrow(/statement timeout/);
  });

  it("deletes a project: database and role are dropped, the URI stops working, a retried DELETE answers the same job", async () => {
    const p = await readyProject("Doomed");
    const uri = await org.getConnectionUri(p.id);
    // an open session does not block the delete
    const session = new pg.Client({ connectionString: uri });
    session.on("error", () => {});
    await session.connect();
    const { job } = await org.deleteProject(p.id);
    expect((await org.getProject(p.id)).project.state).toBe("deleting");
    const again = await org.deleteProject(p.id);
    expect(again.job.id).toBe(job.id);
    await org.waitForJob(job.id, { timeoutMs: 30_000 });
    expect((await org.getProject(p.id)).project.state).toBe("deleted");
    expect(await databaseExists(p.database_name)).toBe(false);
    expect(await roleExists(p.role_name)).toBe(false);
    expect(() => psql(uri, "select 1")).toThrow();
    const listed = (await org.listProjects()).projects.map((x) => x.id);
    expect(listed).not.toContain(p.id);
    expect((await org.deleteProject(p.id)).job.id).toBe(job.id);
    await session.end().catch(() => {});
  });

  it("a failed provisioning leaves neither database nor role behind, and says why", async () => {
    for (const [point, kind] of [
      ["project.create.after_database", "permanent"],
      ["project.create.after_role", "transient"],
    ]) {
      const faulty = await startTestServer({ CAPYDB_FAULTS: `${point}=${kind}`, CAPYDB_JOB_MAX_ATTEMPTS: "2" });
      try {
        const o = (await faulty.admin.createOrganization({ name: "Faulty" })).organization.id;
        const { job, project } = await faulty.admin.createProject({ name: "Broken", organization_id: o });
        await expect(faulty.admin.waitForJob(job.id, { timeoutMs: 30_000 })).rejects.toThrow(/injected/);
        const failed = (await faulty.admin.getJob(job.id)).job;
        expect(failed).toMatchObject({ state: "failed", retry_classification: kind, attempts: kind === "permanent" ? 1 : 2 });
        const after = (await faulty.admin.getProject(project.id)).project;
        expect(after.state).toBe("failed");
        expect(after.last_error).toContain("injected");
        expect(await databaseExists(project.database_name)).toBe(false);
        expect(await roleExists(project.role_name)).toBe(false);
      } finally {
        await faulty.stop();
      }
    }
  });

  it("without PgBouncer, pooled_port is 0 and ?pooled=true answers 409 saying so", async () => {
    const plain = await startTestServer({ CAPYDB_PGBOUNCER: "false" });
    try {
      const o = (await plain.admin.createOrganization({ name: "NoPool" })).organization.id;
      const { job, project } = await plain.admin.createProject({ name: "nopool", organization_id: o });
      expect(project.pooled_port).toBe(0);
      await plain.admin.waitForJob(job.id, { timeoutMs: 30_000 });
      await expect(plain.admin.getConnectionUri(project.id, { pooled: true })).rejects.toMatchObject({
        status: 409,
        message: expect.stringMatching(/PgBouncer is not installed/),
      });
      expect(psql(await plain.admin.getConnectionUri(project.id), "select 1")).toBe("1");
    } finally {
      await plain.stop();
    }
  });

  it("lists projects newest first and filters by organization for admins", async () => {
    const other = (await t.admin.createOrganization({ name: "Other" })).organization.id;
    const { project: theirs } = await t.admin.createProject({ name: "Theirs", organization_id: other });
    const mine = (await org.listProjects()).projects;
    expect(mine.every((p) => p.organization_id === orgId)).toBe(true);
    const created = mine.map((p) => p.created_at);
    expect([...created].sort().reverse()).toEqual(created);
    const filtered = (await t.admin.listProjects({ organizationId: other })).projects;
    expect(filtered.map((p) => p.id)).toEqual([theirs.id]);
  });
});
