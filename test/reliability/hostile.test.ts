// Hostile input and tenant isolation over EVERY endpoint of the catalogue, against a
// server process whose whole log is kept, then scanned for secrets at the end.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { endpoints, errorCodesOf, isErrorCode, CapyClient, connectionLevelCodes, ERROR_CODES, type Endpoint } from "@capydb/api";
import { adminQuery, removeServerProcessLeftovers, testServerEnv } from "../harness/server.js";
import { freePort } from "../harness/ports.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
let server: ChildProcess;
let log = "";
let url: string;
let env: Record<string, string>;
const secrets: string[] = [];
const bodies: string[] = [];

interface Tenant {
  orgId: string;
  key: string;
  projectKey: string;
  ids: Record<string, string>;
}
let a: Tenant;
let b: Tenant;

async function call(method: string, p: string, token: string | null, body?: string, contentType = "application/json") {
  const res = await fetch(url + p, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": contentType } : {}) },
    body,
  });
  const text = await res.text();
  // connection-uri answers carry the password because that is what they are asked for
  if (!p.includes("/connection-uri")) bodies.push(text);
  return { status: res.status, text };
}

/**
 * A body declared larger than the limit: the server answers from the headers, and the body is
 * never sent (sending it races the server's answer into an EPIPE).
 */
function oversized(method: string, p: string, token: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", "content-length": String(2 * 1024 * 1024) };
    const req = http.request(url + p, { method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, text });
      });
    });
    req.on("error", reject);
    req.write("{");
  });
}

async function tenant(admin: CapyClient, name: string): Promise<Tenant> {
  const orgId = (await admin.createOrganization({ name })).organization.id;
  const k = await admin.createApiKey(orgId, { name: "org" });
  secrets.push(k.secret);
  const c = new CapyClient({ baseUrl: url, apiKey: k.secret, retries: 0 });
  const p = await c.createProject({ name: `${name}-app` });
  await c.waitForJob(p.job.id, { timeoutMs: 30_000 });
  const other = await c.createProject({ name: `${name}-other` });
  await c.waitForJob(other.job.id, { timeoutMs: 30_000 });
  const pk = await admin.createApiKey(orgId, { name: "other-project", project_id: other.project.id });
  secrets.push(pk.secret);
  secrets.push(new URL(await c.getConnectionUri(p.project.id)).password);
  const pv = await c.createPreview(p.project.id, { name: "pv" });
  await c.waitForJob(pv.job.id, { timeoutMs: 60_000 });
  secrets.push(new URL(await c.getPreviewConnectionUri(pv.preview.id)).password);
  const bk = await c.createBackup(p.project.id, {});
  await c.waitForJob(bk.job.id, { timeoutMs: 60_000 });
  const backup = (await c.listBackups(p.project.id)).backups[0];
  const cut = (await c.createCutoverRequest(p.project.id, { preview_id: pv.preview.id })).cutover_request;
  const policy = (await c.createTrustPolicy(p.project.id, { repository: "octo-org/octo-repo" })).trust_policy;
  await c.close();
  return {
    orgId,
    key: k.secret,
    projectKey: pk.secret,
    ids: {
      projectID: p.project.id,
      previewID: pv.preview.id,
      backupID: backup.id,
      cutoverID: cut.id,
      jobID: bk.job.id,
      orgID: orgId,
      keyID: k.api_key.id,
      trustPolicyID: policy.id,
      name: "citext",
      objectKey: "x",
    },
  };
}

const fill = (p: string, ids: Record<string, string>) => p.replace(/\{(\w+)\}/g, (_m, k: string) => ids[k] ?? "zzz");

/**
 * An error answer's code: one of the closed set, of the answer's status, and listed by the
 * OpenAPI document for the operation that answered — unless the HTTP layer refused the request
 * before choosing one (a URL too long for Node's parser) — null when all holds.
 */
function codeProblem(e: Endpoint, status: number, text: string): string | null {
  if (status < 400) return null;
  let code: unknown;
  try {
    code = (JSON.parse(text) as { code?: unknown }).code;
  } catch {
    return `${e.method} ${e.path} → ${status} without a JSON body`;
  }
  if (!isErrorCode(code)) return `${e.method} ${e.path} → ${status} with code ${JSON.stringify(code)}, not one of the closed set`;
  if (ERROR_CODES[code].status !== status) return `${e.method} ${e.path} → ${status} with code ${code}, a code of ${ERROR_CODES[code].status}`;
  if (!connectionLevelCodes.includes(code) && !errorCodesOf(e).get(status)?.includes(code))
    return `${e.method} ${e.path} → ${status} ${code}, which its OpenAPI operation does not list`;
  return null;
}

beforeAll(async () => {
  const base = await testServerEnv();
  env = { ...base.env, CAPYDB_PORT: String(await freePort()), CAPYDB_LOG_LEVEL: "debug", CAPYDB_IMPORT_ALLOWED_CIDRS: "127.0.0.0/8" };
  secrets.push(env.CAPYDB_BOOTSTRAP_API_KEY);
  server = spawn(process.execPath, ["--import", "tsx", path.join(root, "server/src/main.ts")], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout!.on("data", (d) => (log += d));
  server.stderr!.on("data", (d) => (log += d));
  url = `http://127.0.0.1:${env.CAPYDB_PORT}`;
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const admin = new CapyClient({ baseUrl: url, apiKey: env.CAPYDB_BOOTSTRAP_API_KEY, retries: 0 });
  [a, b] = [await tenant(admin, "alpha"), await tenant(admin, "beta")];
  await admin.close();
}, 180_000);

afterAll(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((r) => server!.once("exit", r));
    server.kill("SIGTERM");
    await exited;
  }
  if (env) await removeServerProcessLeftovers(env.CAPYDB_DATA_DIR);
});

const scoped = endpoints.filter((e) => !e.public && /\{\w+\}/.test(e.path));

describe("tenant isolation matrix", () => {
  it("another organization's key and another project's key get 404 on every endpoint that names a resource", async () => {
    const failures: string[] = [];
    for (const e of scoped) {
      if (e.admin) continue;
      for (const [who, token] of [
        ["other org", b.key],
        ["other project", a.projectKey],
      ] as const) {
        if (who === "other project" && e.path.includes("{orgID}")) continue; // org-level: a project key gets 403 (checked below)
        const body = e.body ? "{}" : undefined;
        const res = await call(e.method, fill(e.path, a.ids), token, body);
        if (res.status !== 404) failures.push(`${who}: ${e.method} ${e.path} → ${res.status} ${res.text.slice(0, 100)}`);
        const problem = codeProblem(e, res.status, res.text);
        if (problem) failures.push(`${who}: ${problem}`);
      }
    }
    expect(failures).toEqual([]);
    // org-level endpoints with a project key, and operator endpoints with any tenant key: 403
    for (const [m, p] of [
      ["GET", `/v1/organizations/${a.orgId}/api-keys`],
      ["POST", `/v1/organizations/${a.orgId}/api-keys`],
    ]) {
      expect((await call(m, p, a.projectKey, m === "POST" ? '{"name":"x"}' : undefined)).status).toBe(403);
    }
    for (const e of endpoints.filter((x) => x.admin)) {
      expect({ e: `${e.method} ${e.path}`, s: (await call(e.method, fill(e.path, a.ids), a.key, e.body ? "{}" : undefined)).status }).toEqual({
        e: `${e.method} ${e.path}`,
        s: 403,
      });
    }
    for (const action of ["acknowledge", "reject", "execute", "rollback"]) {
      expect((await call("POST", `/v1/cutover-requests/${a.ids.cutoverID}/${action}`, a.key, "{}")).status).toBe(403);
      expect((await call("POST", `/v1/cutover-requests/${a.ids.cutoverID}/${action}`, b.key, "{}")).status).toBe(404);
    }
    // revoked keys: 401 everywhere
    const admin = new CapyClient({ baseUrl: url, apiKey: env.CAPYDB_BOOTSTRAP_API_KEY, retries: 0 });
    const doomed = await admin.createApiKey(a.orgId, { name: "doomed" });
    await admin.revokeApiKey(doomed.api_key.id);
    await admin.close();
    for (const e of scoped.slice(0, 10)) expect((await call(e.method, fill(e.path, a.ids), doomed.secret, e.body ? "{}" : undefined)).status).toBe(401);
  });
});

describe("hostile input", () => {
  it("a generated fuzz pass over every endpoint: always 4xx with an error, never 500, server alive, nothing created", async () => {
    // Every database and role on the data plane is made for a control-plane row (other
    // test files share the cluster, so the cluster's own catalogs are not a stable count).
    const controlDb = new URL(env.CAPYDB_DATABASE_URL).pathname.slice(1);
    const counts = async () =>
      (
        await adminQuery(
          controlDb,
          `select (select count(*) from organizations) orgs, (select count(*) from api_keys) keys, (select count(*) from projects) projects,
                  (select count(*) from preview_databases) previews, (select count(*) from backups) backups,
                  (select count(*) from cutover_requests) cutovers, (select count(*) from scheduled_backups) schedules`,
        )
      ).rows[0];
    const before = await counts();
    const nasty = [
      "'",
      '"',
      ";",
      "--",
      "'; DROP TABLE projects; --",
      "../../etc/passwd",
      "..%2F..%2F",
      "%00",
      "\u0000",
      "😀",
      "ü".repeat(300),
      "x".repeat(70_000),
      "{{7*7}}",
      "$(reboot)",
      "`id`",
      "<script>",
      "\\",
      "null",
    ];
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
    const value = (depth = 0): unknown => {
      const r = rand();
      if (r < 0.2) return pick(nasty);
      if (r < 0.3) return Math.floor(rand() * 1e12) * (rand() < 0.5 ? -1 : 1);
      if (r < 0.35) return 1.5;
      if (r < 0.4) return rand() < 0.5;
      if (r < 0.45) return null;
      if (r < 0.55 && depth < 4) return [value(depth + 1), value(depth + 1)];
      if (depth < 4) return { [pick(nasty).slice(0, 20) || "k"]: value(depth + 1) };
      return pick(nasty);
    };
    const failures: string[] = [];
    for (const e of endpoints.filter((x) => !x.public)) {
      for (let i = 0; i < 12; i++) {
        // every body is invalid: a junk field, a wrong type, or not an object
        const fields: Record<string, unknown> = { [`junk_${i}`]: value() };
        if (i % 3 === 0) for (const f of ["name", "source_url", "preview_id", "cron_hour", "ttl_seconds", "object_key", "organization_id"]) fields[f] = value();
        const body = i % 4 === 3 ? JSON.stringify(value()) : i % 5 === 4 ? "{not json" : JSON.stringify(fields);
        // real ids only where a stray success would destroy nothing (DELETEs always get hostile ids)
        const hostileIds = Object.fromEntries(Object.keys(a.ids).map((k) => [k, encodeURIComponent(pick(nasty))]));
        const ids = i % 2 === 0 && e.method !== "DELETE" ? a.ids : hostileIds;
        const res = await call(e.method, fill(e.path, ids), a.key, e.method === "GET" || e.method === "DELETE" ? undefined : body);
        let json: { error?: unknown } = {};
        try {
          json = JSON.parse(res.text);
        } catch {
          // reported below
        }
        const ok = res.status >= 400 && res.status < 500 && typeof json.error === "string";
        // a GET with real ids may legitimately succeed
        const legit = res.status < 300 && e.method === "GET";
        if (!ok && !legit) failures.push(`${e.method} ${fill(e.path, ids).slice(0, 80)} → ${res.status} ${res.text.slice(0, 120)}`);
        if (res.status >= 500) failures.push(`500 on ${e.method} ${e.path}`);
        const problem = codeProblem(e, res.status, res.text);
        if (problem) failures.push(problem);
      }
    }
    expect(failures).toEqual([]);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(await counts()).toEqual(before);
  }, 300_000);
});

describe("error codes", () => {
  it("every kind of refusal on every endpoint carries a code of the closed set that its operation lists", async () => {
    const failures: string[] = [];
    let checked = 0;
    const check = (e: Endpoint, res: { status: number; text: string }, ...expected: number[]) => {
      checked++;
      if (!expected.includes(res.status)) failures.push(`${e.method} ${e.path} → ${res.status}, expected ${expected}: ${res.text.slice(0, 100)}`);
      const problem = codeProblem(e, res.status, res.text);
      if (problem) failures.push(problem);
    };
    for (const e of endpoints.filter((x) => !x.public)) {
      const p = fill(e.path, a.ids);
      check(e, await call(e.method, p, null), 401);
      check(e, await call(e.method, p, "capy_live_revoked_or_never_issued"), 401);
      if (e.admin) check(e, await call(e.method, p, a.key, e.body ? "{}" : undefined), 403);
      if (e.method !== "GET") {
        check(e, await call(e.method, p, a.key, "<name>x</name>", "application/xml"), 415);
        check(e, await oversized(e.method, p, a.key), 413);
        check(e, await call(e.method, p, a.key, "{not json"), 400);
      }
      if (/\{\w+\}/.test(e.path)) {
        check(e, await call(e.method, fill(e.path, Object.fromEntries(Object.keys(a.ids).map((k) => [k, "y".repeat(150)]))), a.key), 414);
        const unknown = Object.fromEntries(Object.entries(a.ids).map(([k, v]) => [k, v.replace(/_[a-z0-9]+$/, "_doesnotexist0")]));
        // 404, or 400 where the body is checked before the ids (an empty body is invalid for some)
        if (!e.admin) check(e, await call(e.method, fill(e.path, unknown), a.key, e.body ? "{}" : undefined), 404, 400);
      }
    }
    const answer = async (p: string) => {
      const res = await call("GET", p, a.key);
      return { status: res.status, code: (JSON.parse(res.text) as { code: string }).code };
    };
    expect(await answer("/v1/no/such/endpoint")).toEqual({ status: 404, code: "endpoint_not_found" });
    // refused by Node's HTTP parser before any route is chosen, in the same shape
    expect(await answer(`/v1/projects/${"x".repeat(70_000)}`)).toEqual({ status: 431, code: "headers_too_large" });
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(150);
  }, 120_000);
});

describe("secrets", () => {
  it("no role password, API key secret or source-URL password appears in the server log, job records or error bodies", async () => {
    // a failing import with a password in its source URL
    const c = new CapyClient({ baseUrl: url, apiKey: a.key, retries: 0 });
    const sourcePassword = "Pa55-source-" + Date.now();
    secrets.push(sourcePassword);
    const project = (await c.listProjects()).projects.find((p) => p.name === "alpha-other")!;
    const { job } = await c.createImport(project.id, { source_url: `postgresql://someone:${sourcePassword}@127.0.0.1:${await freePort()}/db` });
    await c.waitForJob(job.id, { timeoutMs: 60_000 }).catch(() => {});
    await c.close();
    const jobs = await adminQuery(new URL(env.CAPYDB_DATABASE_URL).pathname.slice(1), "select * from jobs");
    const dump = JSON.stringify(jobs.rows);
    const leaks = secrets.flatMap((s) => {
      const where = [log.includes(s) && "log", dump.includes(s) && "jobs", bodies.some((b) => b.includes(s)) && "bodies"].filter(Boolean);
      if (!where.length) return [];
      const at = log.indexOf(s);
      return [`${s.slice(0, 14)}… in ${where.join("+")}${at >= 0 ? `: …${log.slice(Math.max(0, at - 150), at).replace(s, "<S>")}` : ""}`];
    });
    expect(leaks).toEqual([]);
    expect(log.length).toBeGreaterThan(1000); // the log was really captured (debug level)
  }, 120_000);
});
