// Input that Postgres would choke on, sent as an attacker would: a timeout Postgres cannot
// hold, NUL and escape characters in labels, names and ids. Each answers a 400 naming the
// field (never a 500), and a PATCH is all or nothing: nothing reaches the data plane unless
// everything in the body is valid, and a failure after the role was changed puts it back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapyClient, type Project } from "@capydb/api";
import { adminQuery, startTestServer, type TestServer } from "../harness/server.js";

let t: TestServer;
let orgId: string;
let key: string;
let org: CapyClient;
let project: Project;

async function call(token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(t.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as { error?: string };
  return { status: res.status, error: json.error };
}

/** What Postgres holds for the project's role: its connection limit and its settings. */
async function roleState(roleName: string) {
  const { rows } = await adminQuery(
    "postgres",
    `select r.rolconnlimit, (select setconfig from pg_db_role_setting s where s.setrole = r.oid and s.setdatabase = 0) as settings
     from pg_roles r where r.rolname = $1`,
    [roleName],
  );
  return rows[0];
}

beforeAll(async () => {
  // A failure injected after the role's settings were applied and before the update is
  // recorded: the PATCH must leave both as they were.
  t = await startTestServer({ CAPYDB_FAULTS: "project.update.after_role=permanent" });
  orgId = (await t.admin.createOrganization({ name: "Bad input" })).organization.id;
  key = (await t.admin.createApiKey(orgId, { name: "attacker" })).secret;
  org = new CapyClient({ baseUrl: t.url, apiKey: key, retries: 0 });
  const { job, project: made } = await org.createProject({ name: "target" });
  await org.waitForJob(job.id, { timeoutMs: 60_000 });
  project = (await org.getProject(made.id)).project;
});
afterAll(async () => {
  await org?.close();
  await t?.stop();
});

describe("timeouts Postgres cannot hold", () => {
  it('statement_timeout "999999999d" with max_connections in the same body: 400, and neither the limit nor the settings changed', async () => {
    const before = await roleState(project.role_name);
    for (const token of [key, t.adminKey]) {
      const res = await call(token, "PATCH", `/v1/projects/${project.id}`, { max_connections: 3, statement_timeout: "999999999d" });
      expect(res.status).toBe(400);
      expect(res.error).toMatch(/^statement_timeout: must be at most 2147483647ms/);
      const idle = await call(token, "PATCH", `/v1/projects/${project.id}`, { max_connections: 3, idle_transaction_timeout: "24856d" });
      expect(idle.status).toBe(400);
      expect(idle.error).toMatch(/^idle_transaction_timeout: /);
    }
    expect(await roleState(project.role_name)).toEqual(before);
    expect((await org.getProject(project.id)).project).toMatchObject({
      max_connections: project.max_connections,
      statement_timeout: project.statement_timeout,
    });
    const create = await call(key, "POST", "/v1/projects", { name: "never", statement_timeout: "999999999d" });
    expect(create.status).toBe(400);
    expect(create.error).toMatch(/^statement_timeout: /);
  });

  it("a failure after the role was changed leaves the role and the record as they were", async () => {
    const before = await roleState(project.role_name);
    const res = await call(t.adminKey, "PATCH", `/v1/projects/${project.id}`, { max_connections: 4, statement_timeout: "5s" });
    expect(res.status).toBe(500);
    expect(await roleState(project.role_name)).toEqual(before);
    expect((await org.getProject(project.id)).project).toMatchObject({
      max_connections: project.max_connections,
      statement_timeout: project.statement_timeout,
    });
  });
});

describe("NUL and control characters", () => {
  it("answer 400 naming the field wherever they would reach Postgres, and nothing is created", async () => {
    const counts = async () =>
      (
        await t.server.ctx.db.query(
          "select (select count(*)::int from backups) b, (select count(*)::int from projects) p, (select count(*)::int from scheduled_backups) s, (select count(*)::int from api_keys) k",
        )
      ).rows[0];
    const before = await counts();
    const cases: Array<[string, string, string, unknown, RegExp]> = [
      [key, "POST", `/v1/projects/${project.id}/backups`, { label: "nightly\u0000" }, /^label: must not contain control characters/],
      [key, "POST", `/v1/projects/${project.id}/backups`, { label: "\u001b[2Jforged" }, /^label: must not contain control characters/],
      [key, "PUT", `/v1/projects/${project.id}/scheduled-backups/default`, { cron_hour: 1, cron_minute: 0, is_active: true, label: "a\u0000b" }, /^label: /],
      [key, "POST", "/v1/projects", { name: "nul\u0000byte" }, /^name: /],
      [key, "POST", "/v1/projects", { name: "ok", region: "local\u0000" }, /^region: must not contain control characters/],
      [key, "PATCH", `/v1/projects/${project.id}`, { name: "re\u0000named" }, /^name: /],
      [
        key,
        "POST",
        `/v1/projects/${project.id}/preview-databases`,
        { source_kind: "backup", backup_id: "bkp_\u0000" },
        /^backup_id: must not contain control characters/,
      ],
      [
        key,
        "POST",
        `/v1/projects/${project.id}/cutover-requests`,
        { preview_id: "pdb_x", customer_note: "note\u0000" },
        /^customer_note: must not contain NUL/,
      ],
      [
        key,
        "POST",
        `/v1/projects/${project.id}/imports/preflight`,
        { source_url: "postgresql://u@127.0.0.1/db\u0000" },
        /^source_url: must not contain control characters/,
      ],
      [key, "POST", `/v1/organizations/${orgId}/api-keys`, { name: "k\u0000" }, /^name: /],
      [key, "POST", `/v1/organizations/${orgId}/api-keys`, { name: "k", project_id: "prj_\u0000" }, /^project_id: must not contain control characters/],
      [
        t.adminKey,
        "POST",
        "/v1/organizations",
        { name: "o", clerk_organization_id: "org_\u0000" },
        /^clerk_organization_id: must not contain control characters/,
      ],
      [t.adminKey, "POST", "/v1/projects", { name: "ok", organization_id: "org_\u0000" }, /^organization_id: must not contain control characters/],
    ];
    for (const [token, method, path, body, error] of cases) {
      const res = await call(token, method, path, body);
      expect({ path, body, status: res.status }).toEqual({ path, body, status: 400 });
      expect(res.error).toMatch(error);
    }
    const listed = await fetch(`${t.url}/v1/projects?organization_id=org_%00`, { headers: { authorization: `Bearer ${t.adminKey}` } });
    expect(listed.status).toBe(400);
    expect(((await listed.json()) as { error: string }).error).toMatch(/^organization_id: must not contain control characters/);
    expect(await counts()).toEqual(before);
    expect((await org.getProject(project.id)).project.name).toBe("target");
  });
});
