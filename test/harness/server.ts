// Starts a real CapyDB server in-process for a test file: its own control-plane
// database on the harness cluster, its own data dir and PgBouncer, a known admin key.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { CapyClient } from "@capydb/api";
import { loadConfig } from "../../server/src/config.js";
import { startServer, type RunningServer, type StartOptions } from "../../server/src/server.js";
import { freePort } from "./ports.js";

export interface TestServer {
  server: RunningServer;
  url: string;
  adminKey: string;
  admin: CapyClient;
  adminUrl: string;
  controlUrl: string;
  dataDir: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = "/" + database;
  return u.toString();
}

export async function createDatabase(adminUrl: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE "${name}"`);
  } finally {
    await c.end();
  }
}

/** The environment of a server on the harness cluster (also used to spawn one as a process). */
export async function testServerEnv(
  extra: Record<string, string> = {},
): Promise<{ env: Record<string, string>; controlUrl: string; dataDir: string; adminKey: string }> {
  const adminUrl = inject("pgAdminUrl");
  const controlDb = `capy_ctl_${crypto.randomBytes(5).toString("hex")}`;
  await createDatabase(adminUrl, controlDb);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-test-"));
  fs.chmodSync(dataDir, 0o755);
  const adminKey = "capy_live_" + crypto.randomBytes(32).toString("base64url");
  const controlUrl = withDatabase(adminUrl, controlDb);
  const env: Record<string, string> = {
    CAPYDB_DATABASE_URL: controlUrl,
    CAPYDB_CLUSTER_ADMIN_URL: adminUrl,
    CAPYDB_DATA_DIR: dataDir,
    CAPYDB_PORT: "0",
    CAPYDB_PGBOUNCER_PORT: String(await freePort()),
    CAPYDB_BOOTSTRAP_API_KEY: adminKey,
    CAPYDB_LOG_LEVEL: "error",
    // Short enough for quick tests, long enough (0.25 + 0.5 + 1 + 2 s across five attempts)
    // that a job rides out a few seconds of a stalled disk on a loaded CI machine.
    CAPYDB_JOB_RETRY_BASE_MS: "250",
    // Most tests exercise the shared engine (databases in the harness cluster, which they inspect
    // with adminQuery); the instance engine's own tests set CAPYDB_DATA_PLANE_ENGINE=instances.
    CAPYDB_DATA_PLANE_ENGINE: "shared",
    ...extra,
  };
  return { env, controlUrl, dataDir, adminKey };
}

export async function startTestServer(extra: Record<string, string> = {}, options: StartOptions = {}): Promise<TestServer> {
  const { env, controlUrl, dataDir, adminKey } = await testServerEnv(extra);
  const server = await startServer(loadConfig(env), options);
  const admin = new CapyClient({ baseUrl: server.url, apiKey: adminKey, retries: 0 });
  return {
    server,
    url: server.url,
    adminKey,
    admin,
    adminUrl: inject("pgAdminUrl"),
    controlUrl,
    dataDir,
    env,
    async stop() {
      await admin.close();
      await server.stop();
      await server.ctx.pooler.stopAll();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * After a server started as a process (from testServerEnv) has exited: stops the PgBouncer
 * it started — a daemon that outlives the server on purpose, so apps' pooled connections
 * survive a control-plane restart — and removes its data directory.
 */
export async function removeServerProcessLeftovers(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, "pgbouncer", "pgbouncer.pid");
  const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, "utf8").trim()) : 0;
  if (pid > 0) {
    try {
      process.kill(pid, "SIGINT");
      for (let i = 0; i < 50; i++) {
        process.kill(pid, 0); // throws once it is gone
        await new Promise((r) => setTimeout(r, 100));
      }
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
}

/** The test cluster's superuser URL for one database. */
export function adminUrl(database: string): string {
  return withDatabase(inject("pgAdminUrl"), database);
}

/** Runs a query on a database of the harness cluster as the superuser. */
export async function adminQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(
  database: string,
  sql: string,
  params: unknown[] = [],
): Promise<pg.QueryResult<T>> {
  const c = new pg.Client({ connectionString: adminUrl(database) });
  await c.connect();
  try {
    return await c.query<T>(sql, params);
  } finally {
    await c.end();
  }
}
