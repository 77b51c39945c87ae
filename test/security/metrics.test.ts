// /metrics as an attacker sees it: platform-wide job counts must not be readable without
// a platform-admin key (not anonymously, not with a tenant's key), and scraping it as fast
// as one likes must not turn into as many queries on the control-plane database.
// The server's control-plane connections go through a TCP proxy here that counts the
// statements they carry (simple-protocol Query and extended-protocol Execute messages).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import net from "node:net";
import { CapyClient } from "@capydb/api";
import { loadConfig } from "../../server/src/config.js";
import { startServer, type RunningServer } from "../../server/src/server.js";
import { testServerEnv } from "../harness/server.js";

/** Frontend message types of the PostgreSQL protocol (after the startup message). */
const FRONTEND_TYPES = new Set("BCDEFHPQSXpdcf".split(""));
const SSL_OR_GSS_REQUEST = new Set([80877103, 80877104]);

/** A proxy to PostgreSQL that counts the statements its clients send. */
async function countingProxy(target: URL) {
  const stats = { statements: 0, unparsed: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    let startup = true;
    client.on("data", (chunk) => {
      upstream.write(chunk);
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (startup) {
          if (pending.length < 8) break;
          const len = pending.readInt32BE(0);
          if (pending.length < len) break;
          startup = SSL_OR_GSS_REQUEST.has(pending.readInt32BE(4)); // answered "N": a startup message follows
          pending = pending.subarray(len);
        } else {
          if (pending.length < 5) break;
          const type = String.fromCharCode(pending[0]);
          const len = pending.readInt32BE(1);
          if (pending.length < 1 + len) break;
          if (!FRONTEND_TYPES.has(type)) stats.unparsed++;
          if (type === "Q" || type === "E") stats.statements++;
          pending = pending.subarray(1 + len);
        }
      }
    });
    upstream.on("data", (chunk) => client.write(chunk));
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", close).on("error", close);
    upstream.on("close", close).on("error", close);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const url = new URL(target);
  url.port = String((server.address() as net.AddressInfo).port);
  url.hostname = "127.0.0.1";
  return {
    url: url.toString(),
    stats,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

let server: RunningServer;
let proxy: Awaited<ReturnType<typeof countingProxy>>;
let dataDir: string;
let adminKey: string;
let admin: CapyClient;
let orgId: string;
let orgKey: string;
let projectKey: string;

const scrape = (key?: string) => fetch(`${server.url}/metrics`, { headers: key ? { authorization: `Bearer ${key}` } : {} });

beforeAll(async () => {
  const made = await testServerEnv({
    // nothing but the requests of this test talks to the control-plane database
    CAPYDB_RUN_WORKERS: "false",
    CAPYDB_RUN_SCHEDULER: "false",
    CAPYDB_PGBOUNCER: "false",
    // key lookups stay out of the count: only what /metrics itself asks the database is measured
    CAPYDB_API_KEY_CACHE_SECONDS: "300",
  });
  dataDir = made.dataDir;
  adminKey = made.adminKey;
  proxy = await countingProxy(new URL(made.controlUrl));
  server = await startServer(loadConfig({ ...made.env, CAPYDB_DATABASE_URL: proxy.url }));
  admin = new CapyClient({ baseUrl: server.url, apiKey: adminKey, retries: 0 });
  orgId = (await admin.createOrganization({ name: "Tenant" })).organization.id;
  orgKey = (await admin.createApiKey(orgId, { name: "tenant" })).secret;
  const { project } = await admin.createProject({ name: "shop", organization_id: orgId });
  projectKey = (await admin.createApiKey(orgId, { name: "ci", project_id: project.id })).secret;
});
afterAll(async () => {
  await admin?.close();
  await server?.stop();
  await server?.ctx.pooler.stopAll();
  proxy?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("/metrics", () => {
  it("answers 401 without a key and 403 to organization and project keys, with no figures in the body", async () => {
    const anonymous = await scrape();
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).not.toContain("capydb_jobs");
    for (const key of [orgKey, projectKey]) {
      const tenant = await scrape(key);
      expect(tenant.status).toBe(403);
      const body = await tenant.text();
      expect(body).not.toContain("capydb_");
      expect(JSON.parse(body).error).toMatch(/platform-admin API key/);
    }
  });

  it("serves the platform's metrics to a platform-admin key sent as Bearer (as Prometheus' authorization config does)", async () => {
    const res = await scrape(adminKey);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^capydb_jobs\{type="project\.create",state="pending"\} 1$/m);
    expect(text).toContain("capydb_http_requests_total");
  });

  it("200 scrapes in a burst cost the control-plane database at most a couple of queries, and the counts still follow the database", async () => {
    await scrape(adminKey); // the key is looked up and cached; its last use recorded
    // A second project: its job is in the database before the burst begins.
    await admin.createProject({ name: "shop-two", organization_id: orgId });
    expect(proxy.stats.unparsed).toBe(0);

    const before = proxy.stats.statements;
    const started = Date.now();
    for (let wave = 0; wave < 10; wave++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => scrape(adminKey).then(async (r) => [r.status, await r.text()] as const)));
      for (const [status, text] of answers) {
        expect(status).toBe(200);
        expect(text).toMatch(/^capydb_jobs\{type="project\.create",state="pending"\} [12]$/m);
      }
    }
    const burstSeconds = (Date.now() - started) / 1000;
    const queries = proxy.stats.statements - before;
    // One count per refresh interval (5 s by default) that the burst spans, plus one.
    expect(queries).toBeLessThanOrEqual(Math.ceil(burstSeconds / 5) + 1);

    // The counter is not blind and the cached counts are not frozen: once the refresh
    // interval has passed, a scrape reads the database again and sees the second project's job.
    await new Promise((r) => setTimeout(r, 5200));
    const beforeFresh = proxy.stats.statements;
    const fresh = await (await scrape(adminKey)).text();
    expect(proxy.stats.statements - beforeFresh).toBeGreaterThanOrEqual(1);
    expect(fresh).toMatch(/^capydb_jobs\{type="project\.create",state="pending"\} 2$/m);
    expect(proxy.stats.unparsed).toBe(0);
  }, 60_000);
});
