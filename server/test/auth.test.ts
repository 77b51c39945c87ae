// Authentication and tenant isolation against the real server and real Postgres.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { CapyClient, type Project } from "@capydb/api";
import { adminQuery, startTestServer, type TestServer } from "../../test/harness/server.js";
import { loadConfig } from "../src/config.js";
import { hashApiKey } from "../src/platform/secrets.js";
import { startServer } from "../src/server.js";

let t: TestServer;
let jwks: http.Server;
let jwksUrl: string;
let keys: Awaited<ReturnType<typeof generateKeyPair>>;
const ISSUER = "https://clerk.example.test";
const ORIGIN = "https://app.example.test";

async function raw(method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(t.url + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function session(claims: Record<string, unknown>, opts: { exp?: number | string; key?: CryptoKey | Uint8Array; alg?: string } = {}) {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: opts.alg ?? "RS256", kid: "k1" })
    .setIssuer(ISSUER)
    .setSubject("user_123")
    .setIssuedAt();
  jwt.setExpirationTime(opts.exp ?? "5m");
  return jwt.sign(opts.key ?? keys.privateKey);
}

let orgA: string, orgB: string;
let keyA: string, keyB: string;
let projectA: Project, projectA2: Project, projectB: Project;
let projKeyA: string;

beforeAll(async () => {
  keys = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  jwks = http.createServer((_req, res) => res.end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((r) => jwks.listen(0, "127.0.0.1", r));
  jwksUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/.well-known/jwks.json`;
  t = await startTestServer({ CAPYDB_CLERK_JWKS_URL: jwksUrl, CAPYDB_CLERK_ISSUER: ISSUER, CAPYDB_CLERK_AUTHORIZED_PARTIES: ORIGIN });
  orgA = (await t.admin.createOrganization({ name: "A", clerk_organization_id: "org_clerk_A" })).organization.id;
  orgB = (await t.admin.createOrganization({ name: "B" })).organization.id;
  keyA = (await t.admin.createApiKey(orgA, { name: "a" })).secret;
  keyB = (await t.admin.createApiKey(orgB, { name: "b" })).secret;
  const a = new CapyClient({ baseUrl: t.url, apiKey: keyA, retries: 0 });
  const b = new CapyClient({ baseUrl: t.url, apiKey: keyB, retries: 0 });
  const made = await Promise.all([a.createProject({ name: "a1" }), a.createProject({ name: "a2" }), b.createProject({ name: "b1" })]);
  for (const m of made) await t.admin.waitForJob(m.job.id, { timeoutMs: 30_000 });
  [projectA, projectA2, projectB] = await Promise.all(made.map(async (m) => (await t.admin.getProject(m.project.id)).project));
  projKeyA = (await t.admin.createApiKey(orgA, { name: "proj", project_id: projectA.id })).secret;
  await a.close();
  await b.close();
});
afterAll(async () => {
  await t?.stop();
  jwks?.close();
});

describe("API keys", () => {
  it("are capy_live_ + 32 random bytes, shown once, stored as a hash", async () => {
    const { api_key, secret } = await t.admin.createApiKey(orgA, { name: "once" });
    expect(secret).toMatch(/^capy_live_[A-Za-z0-9_-]{43}$/);
    expect(api_key.prefix).toBe(secret.slice(0, 16));
    const listed = await t.admin.listApiKeys(orgA);
    expect(JSON.stringify(listed)).not.toContain(secret);
    const { rows } = await t.server.ctx.db.query("select * from api_keys where id = $1", [api_key.id]);
    expect(JSON.stringify(rows[0])).not.toContain(secret.slice(10));
    expect(rows[0].secret_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("missing, malformed, unknown and revoked keys answer 401", async () => {
    expect((await raw("GET", "/v1/projects")).status).toBe(401);
    expect((await raw("GET", "/v1/projects", "nonsense")).status).toBe(401);
    expect((await raw("GET", "/v1/projects", "capy_live_" + "x".repeat(43))).status).toBe(401);
    const { api_key, secret } = await t.admin.createApiKey(orgA, { name: "revoke-me" });
    expect((await raw("GET", "/v1/projects", secret)).status).toBe(200);
    await t.admin.revokeApiKey(api_key.id);
    const after = await raw("GET", "/v1/projects", secret);
    expect(after.status).toBe(401);
    expect(after.body.error).toMatch(/revoked|invalid/);
  });

  it("a key revoked through one server stops working at once on another server of the same control plane, also after its listener was cut", async () => {
    // A second server process of the same deployment: same control plane, same server key;
    // a five-minute key cache, so only the revocation notification can evict in time.
    fs.mkdirSync(t.dataDir + "-other", { recursive: true });
    fs.copyFileSync(path.join(t.dataDir, "secret-key"), path.join(t.dataDir + "-other", "secret-key"));
    const other = await startServer(
      loadConfig({
        ...t.env,
        CAPYDB_DATA_DIR: t.dataDir + "-other",
        CAPYDB_PGBOUNCER: "false",
        CAPYDB_API_KEY_CACHE_SECONDS: "300",
        CAPYDB_RUN_WORKERS: "false",
        CAPYDB_RUN_SCHEDULER: "false",
      }),
    );
    const revokedOnOther = async (secret: string) => {
      const onOther = async () => (await fetch(other.url + "/v1/projects", { headers: { authorization: `Bearer ${secret}` } })).status;
      expect(await onOther()).toBe(200);
      expect(other.ctx.apiKeyCache.get(hashApiKey(secret))).not.toBeNull(); // remembered by the other server
      return onOther;
    };
    const statusSoonAfter = async (probe: () => Promise<number>) => {
      // the notification travels through the control-plane database: allow it a moment (on a loaded
      // machine, seconds), far below the cache's 300 s
      const deadline = Date.now() + 10_000;
      let status = await probe();
      while (status === 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        status = await probe();
      }
      return status;
    };
    try {
      const first = await t.admin.createApiKey(orgA, { name: "revoke-elsewhere" });
      const probe1 = await revokedOnOther(first.secret);
      await t.admin.revokeApiKey(first.api_key.id);
      expect(await statusSoonAfter(probe1)).toBe(401);

      // Cut the other server's listening connection: it drops what it cached (revocations could be
      // missed meanwhile), listens again by itself, and revocations reach it at once again.
      const second = await t.admin.createApiKey(orgA, { name: "revoke-after-cut" });
      await revokedOnOther(second.secret);
      const cut = await adminQuery(
        "postgres",
        "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'capydb-key-listen' and datname = $1",
        [new URL(t.controlUrl).pathname.slice(1)],
      );
      expect(cut.rowCount).toBe(2); // this file's two servers
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && (other.ctx.apiKeyCache.get(hashApiKey(second.secret)) !== null || !other.ctx.apiKeyCache.listening)) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(other.ctx.apiKeyCache.listening).toBe(true);
      expect(other.ctx.apiKeyCache.get(hashApiKey(second.secret))).toBeNull();
      const probe2 = await revokedOnOther(second.secret);
      await t.admin.revokeApiKey(second.api_key.id);
      expect(await statusSoonAfter(probe2)).toBe(401);
    } finally {
      await other.stop();
      fs.rmSync(t.dataDir + "-other", { recursive: true, force: true });
    }
  });

  it("admin endpoints answer 403 to organization and project keys", async () => {
    expect((await raw("GET", "/v1/organizations", keyA)).status).toBe(403);
    expect((await raw("POST", "/v1/organizations", keyA, { name: "x" })).status).toBe(403);
    expect((await raw("POST", "/v1/organizations", projKeyA, { name: "x" })).status).toBe(403);
  });
});

describe("tenant isolation", () => {
  it("another organization's project answers 404 on every project endpoint", async () => {
    for (const [method, path, body] of [
      ["GET", `/v1/projects/${projectB.id}`],
      ["PATCH", `/v1/projects/${projectB.id}`, { plan: "pro" }],
      ["DELETE", `/v1/projects/${projectB.id}`],
      ["GET", `/v1/projects/${projectB.id}/connection-uri`],
      ["GET", `/v1/projects/${projectB.id}/jobs`],
      ["GET", `/v1/projects/${projectB.id}/extensions`],
      ["POST", `/v1/projects/${projectB.id}/extensions`, { name: "citext" }],
      ["DELETE", `/v1/projects/${projectB.id}/extensions/citext`],
      ["GET", `/v1/jobs/${projectB.latest_job_id}`],
      ["GET", `/v1/organizations/${orgB}/api-keys`],
      ["GET", `/v1/projects/${projectB.id}/backups`],
      ["POST", `/v1/projects/${projectB.id}/backups`, {}],
      ["GET", `/v1/projects/${projectB.id}/scheduled-backups`],
      ["PUT", `/v1/projects/${projectB.id}/scheduled-backups/default`, { cron_hour: 1, cron_minute: 2, is_active: true }],
      ["POST", `/v1/organizations/${orgB}/api-keys`, { name: "steal" }],
    ] as Array<[string, string, unknown?]>) {
      const res = await raw(method, path, keyA, body);
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 404 });
      expect(typeof res.body.error).toBe("string");
    }
    expect((await t.admin.getProject(projectB.id)).project.state).toBe("ready");
  });

  it("a project-scoped key sees only its project: cannot list, read or create others", async () => {
    const list = await raw("GET", "/v1/projects", projKeyA);
    expect(list.status).toBe(200);
    expect((list.body.projects as Project[]).map((p) => p.id)).toEqual([projectA.id]);
    expect((await raw("GET", `/v1/projects/${projectA.id}`, projKeyA)).status).toBe(200);
    expect((await raw("GET", `/v1/projects/${projectA2.id}`, projKeyA)).status).toBe(404);
    expect((await raw("GET", `/v1/projects/${projectB.id}`, projKeyA)).status).toBe(404);
    const create = await raw("POST", "/v1/projects", projKeyA, { name: "sneaky" });
    expect(create.status).toBe(403);
    expect((await raw("POST", `/v1/organizations/${orgA}/api-keys`, projKeyA, { name: "escalate" })).status).toBe(403);
  });

  it("previews of another organization or project answer 404", async () => {
    const b = new CapyClient({ baseUrl: t.url, apiKey: keyB, retries: 0 });
    const { job, preview } = await b.createPreview(projectB.id, { source_kind: "empty" });
    await b.waitForJob(job.id, { timeoutMs: 30_000 });
    const { preview: previewA2 } = await t.admin.createPreview(projectA2.id, { source_kind: "empty" });
    for (const [token, id] of [
      [keyA, preview.id],
      [projKeyA, preview.id],
      [projKeyA, previewA2.id],
    ] as const) {
      for (const [method, path, body] of [
        ["GET", `/v1/preview-databases/${id}`],
        ["GET", `/v1/preview-databases/${id}/connection-uri`],
        ["POST", `/v1/preview-databases/${id}/reset`, {}],
        ["POST", `/v1/preview-databases/${id}/extend`, {}],
        ["DELETE", `/v1/preview-databases/${id}`],
      ] as Array<[string, string, unknown?]>) {
        expect({ path, status: (await raw(method, path, token, body)).status }).toEqual({ path, status: 404 });
      }
    }
    expect((await raw("GET", `/v1/projects/${projectB.id}/preview-databases`, keyA)).status).toBe(404);
    expect((await raw("POST", `/v1/projects/${projectB.id}/preview-databases`, keyA, {})).status).toBe(404);
    expect((await b.getPreview(preview.id)).preview.state).toBe("ready");
    await b.close();
  });

  it("backups of another organization or project answer 404", async () => {
    const b = new CapyClient({ baseUrl: t.url, apiKey: keyB, retries: 0 });
    await b.waitForJob((await b.createBackup(projectB.id, {})).job.id, { timeoutMs: 60_000 });
    const backupB = (await b.listBackups(projectB.id)).backups[0];
    for (const token of [keyA, projKeyA]) {
      for (const [method, path] of [
        ["GET", `/v1/backups/${backupB.id}`],
        ["POST", `/v1/backups/${backupB.id}/restore`],
        ["POST", `/v1/backups/${backupB.id}/verify`],
      ]) {
        expect({ path, status: (await raw(method, path, token, method === "POST" ? {} : undefined)).status }).toEqual({ path, status: 404 });
      }
    }
    // a backup of B cannot seed a preview of A
    const res = await raw("POST", `/v1/projects/${projectA.id}/preview-databases`, keyA, { source_kind: "backup", backup_id: backupB.id });
    expect(res.status).toBe(400);
    await b.close();
  });

  it("project A's role cannot connect to project B's database, nor to the control plane", async () => {
    const uriA = (await t.admin.getConnectionUri(projectA.id)).toString();
    const toB = new URL(uriA);
    toB.pathname = "/" + projectB.database_name;
    expect(() => execFileSync("psql", [toB.toString(), "-XAtc", "select 1"], { stdio: "pipe" })).toThrow(/permission denied for database/);
    const toControl = new URL(uriA);
    toControl.pathname = new URL(t.controlUrl).pathname;
    expect(() => execFileSync("psql", [toControl.toString(), "-XAtc", "select 1"], { stdio: "pipe" })).toThrow(/permission denied for database/);
    const toPostgres = new URL(uriA);
    toPostgres.pathname = "/postgres";
    expect(() => execFileSync("psql", [toPostgres.toString(), "-XAtc", "select 1"], { stdio: "pipe" })).toThrow(/permission denied for database/);
  });
});

describe("Clerk session tokens", () => {
  it("a valid token of a linked organization acts on that organization (v2 o.id and v1 org_id)", async () => {
    for (const claims of [
      { o: { id: "org_clerk_A", rol: "admin" }, azp: ORIGIN, v: 2 },
      { org_id: "org_clerk_A", azp: ORIGIN },
    ]) {
      const res = await raw("GET", "/v1/projects", await session(claims));
      expect(res.status).toBe(200);
      const ids = (res.body.projects as Project[]).map((p) => p.id).sort();
      expect(ids).toEqual([projectA.id, projectA2.id].sort());
    }
    const other = await raw("GET", `/v1/projects/${projectB.id}`, await session({ o: { id: "org_clerk_A" }, azp: ORIGIN }));
    expect(other.status).toBe(404);
  });

  it("expired, forged, wrong-azp and unlinked tokens answer 401", async () => {
    const forger = await generateKeyPair("RS256");
    const cases = {
      expired: await session({ o: { id: "org_clerk_A" }, azp: ORIGIN }, { exp: Math.floor(Date.now() / 1000) - 60 }),
      forged: await session({ o: { id: "org_clerk_A" }, azp: ORIGIN }, { key: forger.privateKey }),
      azp: await session({ o: { id: "org_clerk_A" }, azp: "https://evil.example" }),
      unlinked: await session({ o: { id: "org_clerk_nobody" }, azp: ORIGIN }),
      noOrg: await session({ azp: ORIGIN }),
    };
    for (const [name, token] of Object.entries(cases)) {
      const res = await raw("GET", "/v1/projects", token);
      expect({ name, status: res.status }).toEqual({ name, status: 401 });
      expect(res.body.error).toBeTypeOf("string");
      expect(JSON.stringify(res.body)).not.toContain(token);
    }
  });

  it("a session creates projects in its organization and its Clerk user is recorded", async () => {
    const token = await session({ o: { id: "org_clerk_A" }, azp: ORIGIN });
    const res = await raw("POST", "/v1/projects", token, { name: "from-dashboard" });
    expect(res.status).toBe(201);
    expect((res.body.project as Project).organization_id).toBe(orgA);
    const users = await adminQuery(new URL(t.controlUrl).pathname.slice(1), "select clerk_user_id from users");
    expect(users.rows.map((r) => r.clerk_user_id)).toContain("user_123");
  });
});
