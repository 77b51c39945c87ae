// PostgreSQL restarts: the control-plane database (requests fail fast with 503 and the
// server recovers by itself) and the data-plane cluster mid-job (the job is retried as
// transient and succeeds; the API stays up meanwhile).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { inject } from "vitest";
import { CapyClient } from "@capydb/api";
import { loadConfig } from "../../server/src/config.js";
import { startServer, type RunningServer } from "../../server/src/server.js";
import { startLocalCluster, type LocalCluster } from "../../server/src/platform/dataplane/local-cluster.js";
import { freePort } from "../harness/ports.js";

const run = promisify(execFile);
let root: string;
let control: LocalCluster;
let data: LocalCluster;
let server: RunningServer;
let api: CapyClient;
const adminKey = "capy_live_" + "r".repeat(43);

async function cluster(name: string, port?: number): Promise<LocalCluster> {
  return startLocalCluster({ dir: path.join(root, name), port: port ?? (await freePort()), settings: { fsync: "off" } });
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-restarts-"));
  fs.chmodSync(root, 0o755);
  [control, data] = await Promise.all([cluster("control"), cluster("data")]);
  await run("psql", [control.adminUrl, "-XAtc", "create database capydb"]);
  const dataDir = path.join(root, "server");
  fs.mkdirSync(dataDir, { mode: 0o755 });
  server = await startServer(
    loadConfig({
      CAPYDB_DATABASE_URL: control.adminUrl.replace(/\/postgres$/, "/capydb"),
      CAPYDB_CLUSTER_ADMIN_URL: data.adminUrl,
      CAPYDB_DATA_DIR: dataDir,
      CAPYDB_PORT: "0",
      CAPYDB_PGBOUNCER: "false",
      // the data-plane cluster restarted below holds the projects' databases: the shared engine
      CAPYDB_DATA_PLANE_ENGINE: "shared",
      CAPYDB_BOOTSTRAP_API_KEY: adminKey,
      CAPYDB_LOG_LEVEL: "silent",
      CAPYDB_JOB_RETRY_BASE_MS: "200",
    }),
  );
  api = new CapyClient({ baseUrl: server.url, apiKey: adminKey, retries: 0 });
});
afterAll(async () => {
  await api?.close();
  await server?.stop().catch(() => {});
  await control?.stop().catch(() => {});
  await data?.stop().catch(() => {});
  fs.rmSync(root, { recursive: true, force: true });
});

describe("restarts", () => {
  it("control-plane database down: requests answer 503 fast, never hang; the server recovers by itself", async () => {
    const orgId = (await api.createOrganization({ name: "R" })).organization.id;
    await control.stop();
    for (const path of ["/healthz", "/v1/projects", `/v1/projects?organization_id=${orgId}`]) {
      const started = Date.now();
      const res = await fetch(server.url + path, { headers: { authorization: `Bearer ${adminKey}` }, signal: AbortSignal.timeout(15_000) });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toMatch(/unavailable/);
      expect(Date.now() - started).toBeLessThan(10_000); // a bound that only a hang would break
    }
    control = await cluster("control", control.port);
    let health = 0;
    for (let i = 0; i < 100 && health !== 200; i++) {
      health = (await fetch(`${server.url}/healthz`)).status;
      if (health !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(health).toBe(200);
    const { job } = await api.createProject({ name: "after", organization_id: orgId });
    expect((await api.waitForJob(job.id, { timeoutMs: 60_000 })).state).toBe("succeeded");
  });

  it("data-plane restart mid-job: the job is retried as transient and succeeds, the API stays up", async () => {
    const orgId = (await api.createOrganization({ name: "D" })).organization.id;
    const made = await api.createProject({ name: "big", organization_id: orgId });
    await api.waitForJob(made.job.id, { timeoutMs: 60_000 });
    const uri = await api.getConnectionUri(made.project.id);
    await run(path.join(inject("pgBinDir"), "pgbench"), ["-i", "-s", "5", "-q", uri]);
    const { job } = await api.createBackup(made.project.id, { label: "through a restart" });
    for (let i = 0; i < 400; i++) {
      const running = (await api.getJob(job.id)).job.state === "running";
      const dumping = await run("pgrep", ["-f", `pg_dump.*${made.project.database_name}`]).then(
        () => true,
        () => false,
      );
      if (running && dumping) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    await data.stop();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    data = await cluster("data", data.port);
    const done = await api.waitForJob(job.id, { timeoutMs: 180_000 });
    expect(done.state).toBe("succeeded");
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    const backup = (await api.listBackups(made.project.id)).backups[0];
    expect(backup).toMatchObject({ state: "completed", verification_state: "verified" });
  });
});
