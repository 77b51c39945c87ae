// Platform endpoints and start-up behaviour: health, metrics, concurrent starts, bootstrap keys.
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { loadConfig } from "../src/config.js";
import { startServer, type RunningServer } from "../src/server.js";
import pg from "pg";
import { hardenCluster } from "../src/platform/dataplane/provision.js";
import { adminQuery, adminUrl as harnessAdminUrl, startTestServer, testServerEnv, type TestServer } from "../../test/harness/server.js";
import { freePort } from "../../test/harness/ports.js";

const cleanup: Array<() => Promise<unknown>> = [];
/** A server environment whose data directory goes at the end (after the servers using it stopped). */
async function serverEnv() {
  const made = await testServerEnv();
  cleanup.unshift(async () => fs.rmSync(made.env.CAPYDB_DATA_DIR, { recursive: true, force: true }));
  return made;
}
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {});
});

describe("platform", () => {
  let t: TestServer;

  it("serves /healthz without authentication, and Prometheus /metrics to a platform-admin key", async () => {
    t = await startTestServer();
    cleanup.push(() => t.stop());
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok", data_plane: { engine: "shared", clone_method: null } });
    await fetch(`${t.url}/v1/projects`, { headers: { authorization: `Bearer ${t.adminKey}` } });
    const metrics = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${t.adminKey}` } });
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toMatch(/text\/plain/);
    const text = await metrics.text();
    expect(text).toMatch(/capydb_http_requests_total\{method="GET",route="\/v1\/projects",status="200"\} \d+/);
    expect(text).toContain("capydb_http_request_duration_seconds_bucket");
    // Node's default metrics under their standard names, for stock Node.js dashboards
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).not.toContain("capydb_process_");
  });

  it("two servers starting at once on one control-plane database apply each migration once", async () => {
    const { env, controlUrl } = await serverEnv();
    const second: Record<string, string> = { ...env, CAPYDB_DATA_DIR: env.CAPYDB_DATA_DIR + "-b", CAPYDB_PGBOUNCER: "false" };
    fs.mkdirSync(second.CAPYDB_DATA_DIR, { recursive: true, mode: 0o755 });
    cleanup.unshift(async () => fs.rmSync(second.CAPYDB_DATA_DIR, { recursive: true, force: true }));
    // both servers share the server key, as a scaled-out deployment does
    second.CAPYDB_SECRET_KEY = env.CAPYDB_SECRET_KEY = Buffer.alloc(32, 7).toString("base64");
    const servers: RunningServer[] = await Promise.all([startServer(loadConfig({ ...env, CAPYDB_PGBOUNCER: "false" })), startServer(loadConfig(second))]);
    for (const s of servers) cleanup.push(() => s.stop());
    const { rows } = await servers[0].ctx.db.query("select name, count(*)::int as n from schema_migrations group by name");
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    expect(controlUrl).toContain("capy_ctl_");
    for (const s of servers) expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  });

  it("hardens the cluster from many servers at once without a concurrent-update error, and leaves PUBLIC no CONNECT", async () => {
    const name = `capy_harden_${process.pid}_${Date.now()}`;
    await adminQuery("postgres", `create database ${name}`);
    cleanup.push(() => adminQuery("postgres", `drop database if exists ${name}`));
    const pool = new pg.Pool({ connectionString: harnessAdminUrl("postgres"), max: 12 });
    cleanup.push(() => pool.end());
    // each round gives PUBLIC its CONNECT back, then twelve servers' worth of hardening race for the row
    for (let round = 0; round < 5; round++) {
      await adminQuery("postgres", `grant connect, temporary on database ${name} to public`);
      await Promise.all(Array.from({ length: 12 }, () => hardenCluster(pool, [name])));
      const { rows } = await adminQuery(
        "postgres",
        "select has_database_privilege('public', $1, 'CONNECT') as c, has_database_privilege('public', $1, 'TEMPORARY') as t",
        [name],
      );
      expect(rows[0]).toEqual({ c: false, t: false });
    }
  });

  it("waits at startup for a control-plane database that is not accepting connections yet, and gives up after CAPYDB_DATABASE_WAIT_SECONDS", async () => {
    const { env } = await serverEnv();
    const real = new URL(env.CAPYDB_DATABASE_URL);
    const port = await freePort();
    const late = new URL(real);
    late.port = String(port);
    env.CAPYDB_DATABASE_URL = late.toString();
    env.CAPYDB_PGBOUNCER = "false";
    // Nothing listens on the port yet: every attempt is refused until the proxy below
    // (standing in for a database that finishes starting) forwards to the real one.
    const booting = startServer(loadConfig(env));
    await new Promise((r) => setTimeout(r, 1500));
    const proxy = net.createServer((socket) => {
      const upstream = net.connect(Number(real.port), real.hostname);
      socket.pipe(upstream).pipe(socket);
      socket.on("error", () => upstream.destroy());
      upstream.on("error", () => socket.destroy());
    });
    await new Promise<void>((r) => proxy.listen(port, "127.0.0.1", () => r()));
    const server = await booting;
    cleanup.push(async () => {
      await server.stop();
      proxy.close();
    });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    const nowhere = new URL(real);
    nowhere.port = String(await freePort());
    const started = Date.now();
    await expect(startServer(loadConfig({ ...env, CAPYDB_DATABASE_URL: nowhere.toString(), CAPYDB_DATABASE_WAIT_SECONDS: "1" }))).rejects.toThrow(
      /ECONNREFUSED|connect/,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
  });

  it("a server whose secret key differs from the control plane's refuses to start, and the running one keeps working", async () => {
    const stranger = {
      ...t.env,
      CAPYDB_DATA_DIR: t.dataDir + "-stranger",
      CAPYDB_PGBOUNCER: "false",
      CAPYDB_SECRET_KEY: Buffer.alloc(32, 9).toString("base64"),
    };
    cleanup.push(async () => fs.rmSync(stranger.CAPYDB_DATA_DIR, { recursive: true, force: true }));
    await expect(startServer(loadConfig(stranger))).rejects.toThrow(/same CAPYDB_SECRET_KEY/);
    const created = await t.admin.createOrganization({ name: "still works" });
    const { job } = await t.admin.createProject({ name: "after", organization_id: created.organization.id });
    expect((await t.admin.waitForJob(job.id, { timeoutMs: 30_000 })).state).toBe("succeeded");
  });

  it("generates a bootstrap admin key once when none is configured, written with mode 0600", async () => {
    const { env } = await serverEnv();
    delete env.CAPYDB_BOOTSTRAP_API_KEY;
    env.CAPYDB_PGBOUNCER = "false";
    const first = await startServer(loadConfig(env));
    const key = first.generatedAdminKey!;
    expect(key).toMatch(/^capy_live_[A-Za-z0-9_-]{43}$/);
    const file = path.join(env.CAPYDB_DATA_DIR, "bootstrap-api-key");
    expect(fs.readFileSync(file, "utf8").trim()).toBe(key);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const res = await fetch(`${first.url}/v1/organizations`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    await first.stop();
    const again = await startServer(loadConfig(env));
    cleanup.push(() => again.stop());
    expect(again.generatedAdminKey).toBeNull();
  });

  it("CAPYDB_BOOTSTRAP_API_KEY is an admin key with exactly that secret", async () => {
    expect((await fetch(`${t.url}/v1/organizations`, { headers: { authorization: `Bearer ${t.adminKey}` } })).status).toBe(200);
  });
});

describe("configuration", () => {
  it("every CAPYDB_* setting the server reads is in the README's configuration table", () => {
    const here = path.dirname(new URL(import.meta.url).pathname);
    const source = fs.readFileSync(path.join(here, "../src/config.ts"), "utf8");
    const readme = fs.readFileSync(path.join(here, "../../README.md"), "utf8");
    const settings = [...new Set([...source.matchAll(/"(CAPYDB_[A-Z0-9_]+)"/g)].map((m) => m[1]))];
    expect(settings.length).toBeGreaterThan(30);
    const rows = readme.split("\n").filter((line) => line.startsWith("| `CAPYDB_"));
    expect(settings.filter((name) => !rows.some((row) => row.split("|")[1].includes(`\`${name}\``)))).toEqual([]);
  });

  it("refuses a control-plane pool too small for the worker concurrency, naming both settings", () => {
    expect(() => loadConfig({ CAPYDB_WORKER_CONCURRENCY: "20", CAPYDB_DATABASE_POOL_SIZE: "32" })).toThrow(
      /CAPYDB_DATABASE_POOL_SIZE must be at least 2 × CAPYDB_WORKER_CONCURRENCY \+ 4 \(44 for 20 jobs at once; it is 32\)/,
    );
    expect(loadConfig({ CAPYDB_WORKER_CONCURRENCY: "20", CAPYDB_DATABASE_POOL_SIZE: "44" }).databasePoolSize).toBe(44);
    expect(loadConfig({}).workerConcurrency).toBe(4);
  });
});
