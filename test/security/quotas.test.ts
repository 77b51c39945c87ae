// Ceilings are the operator's. An attacker holding an organization key tries to give its
// projects more than its plan allows (connections, storage, a better plan), to keep a
// preview alive for ever, to pile up backups and projects, and to take connection slots
// of the shared cluster that other tenants were promised. Every attempt is refused with
// a clear error and leaves nothing changed on the data plane; a platform admin can still
// set the plan, and give one organization more.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapyClient, type Project } from "@capydb/api";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { adminQuery, startTestServer, type TestServer } from "../harness/server.js";
import { loadConfig } from "../../server/src/config.js";

const DAY = 24 * 3600;

async function call(t: TestServer, key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(t.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown> & { error?: string };
  return { status: res.status, json, error: json.error };
}

async function tenant(t: TestServer, name: string) {
  const orgId = (await t.admin.createOrganization({ name })).organization.id;
  const key = (await t.admin.createApiKey(orgId, { name: "attacker" })).secret;
  return { orgId, key, client: new CapyClient({ baseUrl: t.url, apiKey: key, retries: 0 }) };
}

async function readyProject(c: CapyClient, name: string, extra: Record<string, unknown> = {}): Promise<Project> {
  const { job, project } = await c.createProject({ name, ...extra });
  await c.waitForJob(job.id, { timeoutMs: 60_000 });
  return (await c.getProject(project.id)).project;
}

const role = async (name: string) =>
  (await adminQuery<{ rolconnlimit: number }>("postgres", "select rolconnlimit from pg_roles where rolname = $1", [name])).rows[0];

describe("plan ceilings against an organization key", () => {
  let t: TestServer;
  let a: Awaited<ReturnType<typeof tenant>>;
  let project: Project;

  beforeAll(async () => {
    // The free plan as an operator might tighten it (CAPYDB_PLANS); the rest is built in.
    const plans = { free: { projects_per_organization: 3, manual_backups_per_project: 2, max_preview_lifetime_seconds: 2 * DAY } };
    t = await startTestServer({ CAPYDB_PLANS: JSON.stringify(plans) });
    a = await tenant(t, "Attacker");
    project = await readyProject(a.client, "loot");
  });
  afterAll(async () => {
    await a?.client.close();
    await t?.stop();
  });

  it("PATCH max_connections 10000: 400 naming the ceiling, the role's connection limit unchanged", async () => {
    const before = (await role(project.role_name)).rolconnlimit;
    const res = await call(t, a.key, "PATCH", `/v1/projects/${project.id}`, { max_connections: 10000 });
    expect(res.status).toBe(400);
    expect(res.error).toBe("max_connections: at most 20 on plan free (set by the platform operator)");
    expect((await role(project.role_name)).rolconnlimit).toBe(before);
    // a free project gets the plan's default, which is its ceiling
    expect(before).toBe(20);
    expect((await a.client.getProject(project.id)).project.max_connections).toBe(20);
  });

  it("PATCH storage_limit_bytes 2^53-1: 400, the limit unchanged", async () => {
    const res = await call(t, a.key, "PATCH", `/v1/projects/${project.id}`, { storage_limit_bytes: Number.MAX_SAFE_INTEGER });
    expect(res.status).toBe(400);
    expect(res.error).toMatch(/^storage_limit_bytes: at most 10737418240 on plan free \(set by the platform operator\)$/);
    expect((await a.client.getProject(project.id)).project.storage_limit_bytes).toBe(10 * 1024 ** 3);
  });

  it("PATCH plan enterprise: 403 for organization and project keys, the plan unchanged", async () => {
    const res = await call(t, a.key, "PATCH", `/v1/projects/${project.id}`, { plan: "enterprise" });
    expect(res.status).toBe(403);
    expect(res.error).toMatch(/^plan: only a platform operator can change a project's plan/);
    const projectKey = (await t.admin.createApiKey(a.orgId, { name: "scoped", project_id: project.id })).secret;
    expect((await call(t, projectKey, "PATCH", `/v1/projects/${project.id}`, { plan: "pro", max_connections: 5 })).status).toBe(403);
    const after = (await a.client.getProject(project.id)).project;
    expect(after).toMatchObject({ plan: "free", max_connections: 20 });
  });

  it("a timeout beyond the plan's ceiling is refused, and so is any ceiling breach in a mixed body (nothing applied)", async () => {
    const before = await adminQuery("postgres", "select setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole where r.rolname = $1", [
      project.role_name,
    ]);
    const res = await call(t, a.key, "PATCH", `/v1/projects/${project.id}`, { max_connections: 5, statement_timeout: "2d" });
    expect(res.status).toBe(400);
    expect(res.error).toBe("statement_timeout: at most 24h on plan free (set by the platform operator)");
    expect((await role(project.role_name)).rolconnlimit).toBe(20);
    const after = await adminQuery("postgres", "select setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole where r.rolname = $1", [
      project.role_name,
    ]);
    expect(after.rows).toEqual(before.rows);
  });

  it("creating a project with huge limits or another plan: refused, nothing created", async () => {
    const count = async () => (await t.server.ctx.db.query("select count(*)::int as n from projects where organization_id = $1", [a.orgId])).rows[0].n;
    const before = await count();
    for (const [body, status, error] of [
      [{ name: "greedy", max_connections: 10000 }, 400, /^max_connections: at most 20 on plan free/],
      [{ name: "greedy", storage_limit_bytes: Number.MAX_SAFE_INTEGER }, 400, /^storage_limit_bytes: at most/],
      [{ name: "greedy", idle_transaction_timeout: "7d" }, 400, /^idle_transaction_timeout: at most 24h/],
      [{ name: "greedy", plan: "enterprise" }, 403, /^plan: only a platform operator/],
    ] as const) {
      const res = await call(t, a.key, "POST", "/v1/projects", body);
      expect({ body, status: res.status }).toEqual({ body, status });
      expect(res.error).toMatch(error);
    }
    expect(await count()).toBe(before);
  });

  it("projects per organization: the fourth project on a plan allowing three answers 409", async () => {
    const b = await tenant(t, "Hoarder");
    try {
      const made = await Promise.all([1, 2, 3, 4, 5].map((i) => call(t, b.key, "POST", "/v1/projects", { name: `p${i}` })));
      expect(made.map((r) => r.status).sort()).toEqual([201, 201, 201, 409, 409]);
      expect(made.find((r) => r.status === 409)!.error).toMatch(
        /^projects_per_organization: the organization has 3 projects, at most 3 on plan free \(set by the platform operator\): delete one first$/,
      );
      for (const r of made.filter((x) => x.status === 201)) await b.client.waitForJob((r.json.job as { id: string }).id, { timeoutMs: 60_000 });
    } finally {
      await b.client.close();
    }
  });

  it("a preview cannot be kept for ever: its TTL is capped at the plan's lifetime from creation", async () => {
    const tooLong = await call(t, a.key, "POST", `/v1/projects/${project.id}/preview-databases`, { source_kind: "empty", ttl_seconds: 3 * DAY });
    expect(tooLong.status).toBe(400);
    expect(tooLong.error).toMatch(/^ttl_seconds: a preview lives at most 172800 seconds on plan free/);
    const { job, preview } = await a.client.createPreview(project.id, { source_kind: "empty", ttl_seconds: DAY });
    await a.client.waitForJob(job.id, { timeoutMs: 60_000 });
    const cap = Date.parse(preview.created_at) + 2 * DAY * 1000;
    // extending by the whole lifetime again (and again) would keep it alive for ever
    for (let i = 0; i < 3; i++) {
      const res = await call(t, a.key, "POST", `/v1/preview-databases/${preview.id}/extend`, { ttl_seconds: 2 * DAY });
      expect(res.status).toBe(400);
      expect(res.error).toMatch(
        /^ttl_seconds: a preview lives at most 172800 seconds from its creation on plan free \(set by the platform operator\); this one can be kept until /,
      );
    }
    const extended = (await a.client.extendPreview(preview.id, { ttl_seconds: DAY })).preview;
    expect(Date.parse(extended.ttl_expires_at)).toBeLessThanOrEqual(cap);
    const stored = await t.server.ctx.db.query<{ ok: boolean }>(
      "select ttl_expires_at <= created_at + interval '2 days' as ok from preview_databases where id = $1",
      [preview.id],
    );
    expect(stored.rows[0].ok).toBe(true);
    await a.client.waitForJob((await a.client.deletePreview(preview.id)).job.id, { timeoutMs: 60_000 });
  });

  it("backups taken on request: past the plan's count, 409 until one is deleted", async () => {
    const taken = [];
    for (const label of ["one", "two"]) {
      const { job } = await a.client.createBackup(project.id, { label });
      await a.client.waitForJob(job.id, { timeoutMs: 60_000 });
      taken.push(job);
    }
    const third = await call(t, a.key, "POST", `/v1/projects/${project.id}/backups`, { label: "three" });
    expect(third.status).toBe(409);
    expect(third.error).toMatch(
      /^manual_backups_per_project: the project keeps 2 backups taken on request, at most 2 on plan free \(set by the platform operator\): delete one first/,
    );
    const burst = await Promise.all([1, 2, 3].map(() => call(t, a.key, "POST", `/v1/projects/${project.id}/backups`, {})));
    expect(burst.map((r) => r.status)).toEqual([409, 409, 409]);
    const backups = (await a.client.listBackups(project.id)).backups;
    expect(backups).toHaveLength(2);
    // deleting one makes room for one more
    const deleted = await call(t, a.key, "DELETE", `/v1/backups/${backups[1].id}`);
    expect(deleted.status).toBe(200);
    expect(await t.server.ctx.blobs.stat(backups[1].backup_key!)).toBeNull();
    const { job } = await a.client.createBackup(project.id, { label: "three" });
    await a.client.waitForJob(job.id, { timeoutMs: 60_000 });
    expect((await call(t, a.key, "POST", `/v1/projects/${project.id}/backups`, {})).status).toBe(409);
  });

  it("a platform admin sets the plan (and tenants can resend it unchanged); the new plan's ceilings apply", async () => {
    const p = await readyProject(a.client, "upgraded");
    expect((await t.admin.updateProject(p.id, { plan: "pro" })).project.plan).toBe("pro");
    // infrastructure-as-code resends the whole configuration: an unchanged plan is not a change
    const resent = await call(t, a.key, "PATCH", `/v1/projects/${p.id}`, { plan: "pro", max_connections: 60 });
    expect(resent.status).toBe(200);
    expect((await role(p.role_name)).rolconnlimit).toBe(60);
    expect((await call(t, a.key, "PATCH", `/v1/projects/${p.id}`, { max_connections: 101 })).error).toBe(
      "max_connections: at most 100 on plan pro (set by the platform operator)",
    );
    await t.admin.updateProject(p.id, { plan: "free" });
  });

  it("a platform admin gives one organization its own ceilings; tenants can read but not set them", async () => {
    const quotasPath = `/v1/organizations/${a.orgId}/quotas`;
    expect((await call(t, a.key, "PUT", quotasPath, { max_connections: 10000 })).status).toBe(403);
    const read = await call(t, a.key, "GET", quotasPath);
    expect(read.status).toBe(200);
    expect((read.json.quotas as { plans: Record<string, { max_connections: number }> }).plans.free.max_connections).toBe(20);
    const set = await call(t, t.adminKey, "PUT", quotasPath, { max_connections: 25 });
    expect(set.status).toBe(200);
    expect((await call(t, a.key, "PATCH", `/v1/projects/${project.id}`, { max_connections: 25 })).status).toBe(200);
    expect((await role(project.role_name)).rolconnlimit).toBe(25);
    expect((await call(t, a.key, "PATCH", `/v1/projects/${project.id}`, { max_connections: 26 })).error).toBe(
      "max_connections: at most 25 for this organization (set by the platform operator)",
    );
    await call(t, t.adminKey, "PUT", quotasPath, {});
  });
});

describe("the cluster's connection slots", () => {
  let t: TestServer;
  const FOR_TENANTS = 50;

  beforeAll(async () => {
    // Keep all but 50 of the shared test cluster's slots for "the platform", so the
    // promises this control plane makes reach the cluster's limit quickly.
    const { rows } = await adminQuery<{ max: number; su: number; reserved: number | null }>(
      "postgres",
      "select current_setting('max_connections')::int as max, current_setting('superuser_reserved_connections')::int as su, current_setting('reserved_connections', true)::int as reserved",
    );
    const reserve = rows[0].max - rows[0].su - (rows[0].reserved ?? 0) - FOR_TENANTS;
    t = await startTestServer({ CAPYDB_CLUSTER_CONNECTION_RESERVE: String(reserve) });
  });
  afterAll(async () => t?.stop());

  it("one tenant cannot be promised the slots another tenant was: creates, previews and even an admin's PATCH answer 409 past them", async () => {
    const a = await tenant(t, "Greedy");
    const b = await tenant(t, "Neighbour");
    try {
      const a1 = await readyProject(a.client, "a1"); // 20
      const a2 = await readyProject(a.client, "a2"); // 40
      const previews = [];
      for (const name of ["pv1", "pv2"]) previews.push(await a.client.createPreview(a1.id, { name, source_kind: "empty" })); // 45, 50
      const third = await call(t, a.key, "POST", `/v1/projects/${a1.id}/preview-databases`, { name: "pv3", source_kind: "empty" });
      expect(third.status).toBe(409);
      expect(third.error).toMatch(
        /^preview: its role's 5 connections do not fit: the cluster has 50 connection slots for tenants .* 50 are promised to projects and previews and 0 left/,
      );
      const neighbour = await call(t, b.key, "POST", "/v1/projects", { name: "b1" });
      expect(neighbour.status).toBe(409);
      expect(neighbour.error).toMatch(/^max_connections: 20 connections for this project do not fit/);
      // a platform admin is bound by the cluster too
      const admin = await call(t, t.adminKey, "PATCH", `/v1/projects/${a2.id}`, { max_connections: 21 });
      expect(admin.status).toBe(409);
      expect((await role(a2.role_name)).rolconnlimit).toBe(20);
      // lowering a limit frees slots for someone else
      await a.client.updateProject(a2.id, { max_connections: 10 });
      const b1 = await readyProject(b.client, "b1", { max_connections: 10 });
      expect(b1.max_connections).toBe(10);
      for (const p of previews) await a.client.waitForJob(p.job.id, { timeoutMs: 60_000 });
      // What the roles of this control plane hold on the cluster is what was counted: each
      // preview's role has the plan's per-preview limit, not its project's 20.
      for (const p of previews) expect((await role(p.preview.role_name)).rolconnlimit).toBe(5);
      const roles = [a1.role_name, a2.role_name, b1.role_name, ...previews.map((p) => p.preview.role_name)];
      const sum = await adminQuery<{ n: number }>("postgres", "select sum(rolconnlimit)::int as n from pg_roles where rolname = any($1)", [roles]);
      expect(sum.rows[0].n).toBeLessThanOrEqual(FOR_TENANTS);
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });
});

describe("CAPYDB_PLANS: the operator's table", () => {
  it("changes a plan's ceilings from JSON or a file, and a mistake stops the server at start naming it", () => {
    expect(loadConfig({}).plans.free).toMatchObject({ max_connections: 20, projects_per_organization: 10 });
    expect(loadConfig({ CAPYDB_PLANS: '{"pro":{"max_connections":200}}' }).plans.pro.max_connections).toBe(200);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "capydb-plans-")), "plans.json");
    fs.writeFileSync(file, JSON.stringify({ free: { allow_no_timeout: false, max_statement_timeout: "30s" } }));
    try {
      expect(loadConfig({ CAPYDB_PLANS: file }).plans.free).toMatchObject({ allow_no_timeout: false, max_statement_timeout: "30s" });
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
    expect(() => loadConfig({ CAPYDB_PLANS: '{"gold":{}}' })).toThrow(/CAPYDB_PLANS: unknown plan "gold"/);
    expect(() => loadConfig({ CAPYDB_PLANS: '{"free":{"max_conections":5}}' })).toThrow(/CAPYDB_PLANS: free\.max_conections: unknown ceiling/);
    expect(() => loadConfig({ CAPYDB_PLANS: '{"free":{"max_statement_timeout":"0"}}' })).toThrow(/CAPYDB_PLANS: free\.max_statement_timeout: /);
    expect(() => loadConfig({ CAPYDB_PLANS: '{"free":{"default_max_connections":50}}' })).toThrow(
      /default_max_connections \(50\) is above free\.max_connections \(20\)/,
    );
  });
});
