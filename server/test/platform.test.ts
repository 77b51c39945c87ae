// Platform endpoints and start-up behaviour: health, metrics, concurrent starts, bootstrap keys.
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { loadConfig } from "../src/config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { startTestServer, testServerEnv, type TestServer } from "../../test/harness/server.js";

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {});
});

describe("platform", () => {
  let t: TestServer;

  it("serves /healthz and Prometheus /metrics without authentication", async () => {
    t = await startTestServer();
    cleanup.push(() => t.stop());
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    await fetch(`${t.url}/v1/projects`, { headers: { authorization: `Bearer ${t.adminKey}` } });
    const metrics = await fetch(`${t.url}/metrics`);
    expect(metrics.headers.get("content-type")).toMatch(/text\/plain/);
    const text = await metrics.text();
    expect(text).toMatch(/capydb_http_requests_total\{method="GET",route="\/v1\/projects",status="200"\} \d+/);
    expect(text).toContain("capydb_http_request_duration_seconds_bucket");
    expect(text).toContain("capydb_process_resident_memory_bytes");
  });

  it("two servers starting at once on one control-plane database apply each migration once", async () => {
    const { env, controlUrl } = await testServerEnv();
    const second: Record<string, string> = { ...env, CAPYDB_DATA_DIR: env.CAPYDB_DATA_DIR + "-b", CAPYDB_PGBOUNCER: "false" };
    fs.mkdirSync(second.CAPYDB_DATA_DIR, { recursive: true, mode: 0o755 });
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

  it("generates a bootstrap admin key once when none is configured, written with mode 0600", async () => {
    const { env } = await testServerEnv();
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
