// Stopping the server the usual ways while a preview's pg_dump is at work: Ctrl-C in a
// terminal (SIGINT to the whole foreground process group: npm, sh, tsx, the server and,
// before #14, its pg_dump), `kill` of the group (SIGTERM), `systemctl stop` signalling
// every process of the unit (the tools too), and a second Ctrl-C. Each time the server
// hands the job back to the queue and exits 0 in bounded time; the job is never failed,
// and the next server takes it at once, and the last one completes it. The pg_dump is
// held up for real: a tenant session holds ACCESS EXCLUSIVE on a table, so pg_dump waits
// for its lock until the test lets go. A last test stops a worker whose tool ignores
// SIGTERM: its job is handed back anyway, and the tool killed.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { CapyClient } from "@capydb/api";
import { adminQuery, createDatabase, removeServerProcessLeftovers, testServerEnv, withDatabase } from "../harness/server.js";
import { freePort } from "../harness/ports.js";
import { createDb } from "../../server/src/platform/store/db.js";
import { migrate } from "../../server/src/platform/store/migrate.js";
import { newId } from "../../server/src/platform/secrets.js";
import { enqueueJob } from "../../server/src/platform/jobs/sql/enqueue.js";
import { Worker } from "../../server/src/platform/jobs/worker.js";
import { runningToolGroups } from "../../server/src/platform/jobs/tools.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const GRACE_SECONDS = 2;
// Starting the last steps of a stop (closing pools, PgBouncer left running) on a loaded machine.
const MARGIN_MS = 5_000;

let env: Record<string, string>;
let controlDb: string;
const started: ChildProcess[] = [];

interface ServerProcess {
  proc: ChildProcess;
  api: CapyClient;
  log: () => string;
  /** Resolves with the exit code (or signal) of the process we spawned. */
  exited: Promise<string>;
}

/**
 * `npm start` as a user runs it in a terminal, or the server's entry point as a process
 * manager runs it; either way the leader of a process group of its own, as a shell makes
 * a foreground job, so the test can signal the whole group the way a terminal does.
 */
async function startServer(how: "npm start" | "node", extraEnv: Record<string, string> = {}): Promise<ServerProcess> {
  const [cmd, args] = how === "npm start" ? ["npm", ["start"]] : [process.execPath, ["--import", "tsx", path.join(root, "server/src/main.ts")]];
  const proc = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  started.push(proc);
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<string>((r) => proc.once("exit", (code, signal) => r(String(code ?? signal))));
  const url = `http://127.0.0.1:${env.CAPYDB_PORT}`;
  for (let i = 0; i < 600; i++) {
    if (proc.exitCode !== null) throw new Error(`${how} exited early:\n${out}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) {
        return { proc, api: new CapyClient({ baseUrl: url, apiKey: env.CAPYDB_BOOTSTRAP_API_KEY, retries: 2 }), log: () => out, exited };
      }
    } catch {
      // starting
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${how} did not serve /healthz within 60 s:\n${out}`);
}

/** True while any process of the group led by `pgid` (one we started) is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Signals the whole process group and answers how long until every process in it has gone. */
async function stopGroup(server: ServerProcess, signal: "SIGINT" | "SIGTERM"): Promise<number> {
  await server.api.close();
  const pgid = server.proc.pid!;
  const t0 = Date.now();
  process.kill(-pgid, signal);
  while (groupAlive(pgid)) {
    if (Date.now() - t0 > 60_000) throw new Error(`the server's process group still runs 60 s after ${signal}:\n${server.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await server.exited;
  return Date.now() - t0;
}

/** pg_dump / pg_restore processes working on the project's database (or databases named after it). */
function toolsOf(database: string): string[] {
  const r = spawnSync("pgrep", ["-a", "-f", `pg_(dump|restore) .*dbname='${database}`], { encoding: "utf8" });
  if (r.status !== 0 && r.status !== 1) throw new Error(`pgrep failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.stdout.split("\n").filter(Boolean);
}

async function jobRow(id: string): Promise<{ state: string; attempts: number; error: string | null; lease_token: string | null; claimed_by: string | null }> {
  const { rows } = await adminQuery(controlDb, "SELECT state, attempts, error, lease_token, claimed_by FROM jobs WHERE id = $1", [id]);
  return rows[0] as never;
}

/** Waits until the job runs and its pg_dump waits for the locked table. */
async function waitForDumpOnLock(jobId: string, database: string, log: () => string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const { rows } = await adminQuery(
      "postgres",
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'capydb' AND wait_event_type = 'Lock'",
      [database],
    );
    if (rows[0].n > 0 && (await jobRow(jobId)).state === "running") return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the preview's pg_dump never waited on the lock; job ${JSON.stringify(await jobRow(jobId))}\n${log()}`);
}

beforeAll(async () => {
  const base = await testServerEnv();
  env = {
    ...base.env,
    CAPYDB_PORT: String(await freePort()),
    CAPYDB_SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS),
    // A job handed back is claimed by the next server at once, not after its lease.
    CAPYDB_JOB_LEASE_SECONDS: "30",
    CAPYDB_TOOL_LOCK_WAIT_SECONDS: "300",
    CAPYDB_PREVIEW_SPARES: "false",
    CAPYDB_LOG_LEVEL: "warn",
  };
  controlDb = decodeURIComponent(new URL(base.controlUrl).pathname.slice(1));
});

afterAll(async () => {
  for (const p of started) {
    if (groupAlive(p.pid!)) process.kill(-p.pid!, "SIGKILL");
  }
  if (env) await removeServerProcessLeftovers(env.CAPYDB_DATA_DIR);
});

describe("stopping the server while a job's pg_dump runs", () => {
  it("Ctrl-C and SIGTERM to the process group hand the job back within the grace, exit 0, and the next server completes it", async () => {
    const first = await startServer("npm start");
    const orgId = (await first.api.createOrganization({ name: "Stops" })).organization.id;
    const made = await first.api.createProject({ name: "busy", organization_id: orgId });
    await first.api.waitForJob(made.job.id, { timeoutMs: 30_000 });
    const database = made.project.database_name;
    const tenant = new pg.Client({ connectionString: await first.api.getConnectionUri(made.project.id) });
    await tenant.connect();
    await tenant.query("CREATE TABLE orders AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 20000) g");
    // The tenant's long transaction: every pg_dump of this database waits for it.
    await tenant.query("BEGIN");
    await tenant.query("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE");

    const { job, preview } = await first.api.createPreview(made.project.id, { name: "while-stopping", fresh: true });
    await waitForDumpOnLock(job.id, database, first.log);
    expect(toolsOf(database).length).toBeGreaterThan(0);

    // Ctrl-C in the terminal running `npm start`.
    const interruptedMs = await stopGroup(first, "SIGINT");
    expect(await jobRow(job.id)).toMatchObject({ state: "pending", attempts: 0, error: null, lease_token: null });
    expect(first.log()).toContain("capydb: SIGINT: stopping");
    expect(first.log()).toMatch(/capydb: stopped; 1 running job handed back to the queue/);
    expect(first.log()).not.toMatch(/error while stopping|stopping at once/);
    expect(interruptedMs).toBeGreaterThanOrEqual(GRACE_SECONDS * 1000 - 100); // the job had its grace
    expect(interruptedMs).toBeLessThan(GRACE_SECONDS * 1000 + MARGIN_MS);
    expect(toolsOf(database)).toEqual([]);

    // A process manager's stop: SIGTERM to the group of the server it started.
    const second = await startServer("node");
    const claimedWithin = Date.now();
    await waitForDumpOnLock(job.id, database, second.log);
    // Handed back, not left to expire: claimed long before its 30 s lease would have run out.
    expect(Date.now() - claimedWithin).toBeLessThan(10_000);
    const terminatedMs = await stopGroup(second, "SIGTERM");
    expect(await jobRow(job.id)).toMatchObject({ state: "pending", attempts: 0, error: null, lease_token: null });
    expect(await second.exited).toBe("0");
    expect(second.log()).toContain("capydb: SIGTERM: stopping");
    expect(terminatedMs).toBeGreaterThanOrEqual(GRACE_SECONDS * 1000 - 100);
    expect(terminatedMs).toBeLessThan(GRACE_SECONDS * 1000 + MARGIN_MS);
    expect(toolsOf(database)).toEqual([]);

    // `systemctl stop` with its default KillMode=control-group: every process of the unit gets
    // the SIGTERM, the tools too. Killed from outside while the server stops, a tool is an
    // interruption, not a failure: its job goes back at once, long before this grace ends.
    const unit = await startServer("node", { CAPYDB_SHUTDOWN_GRACE_SECONDS: "120" });
    await waitForDumpOnLock(job.id, database, unit.log);
    await unit.api.close();
    const tools = toolsOf(database).map((line) => Number(line.split(" ")[0]));
    expect(tools.length).toBeGreaterThan(0);
    const t1 = Date.now();
    process.kill(-unit.proc.pid!, "SIGTERM");
    for (const pid of tools) process.kill(pid, "SIGTERM"); // processes of our server, started by this test
    expect(await unit.exited).toBe("0");
    expect(Date.now() - t1).toBeLessThan(MARGIN_MS);
    expect(unit.log()).toMatch(/capydb: stopped; 1 running job handed back to the queue/);
    expect(await jobRow(job.id)).toMatchObject({ state: "pending", attempts: 0, error: null, lease_token: null });

    // A second Ctrl-C, pressed a moment after the first, ends a long grace at once.
    const patient = await startServer("node", { CAPYDB_SHUTDOWN_GRACE_SECONDS: "120" });
    await waitForDumpOnLock(job.id, database, patient.log);
    await patient.api.close();
    const t0 = Date.now();
    process.kill(-patient.proc.pid!, "SIGINT");
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(-patient.proc.pid!, "SIGINT");
    expect(await patient.exited).toBe("0");
    expect(Date.now() - t0).toBeLessThan(1500 + MARGIN_MS);
    expect(patient.log()).toContain("capydb: SIGINT again: stopping running jobs now");
    expect(await jobRow(job.id)).toMatchObject({ state: "pending", attempts: 0, error: null, lease_token: null });
    expect(toolsOf(database)).toEqual([]);

    // The tenant's transaction ends; the next server makes the preview.
    await tenant.query("COMMIT");
    await tenant.end();
    const third = await startServer("node");
    const done = await third.api.waitForJob(job.id, { timeoutMs: 60_000 });
    expect(done).toMatchObject({ state: "succeeded", attempts: 1 });
    const ready = (await third.api.getPreview(preview.id)).preview;
    expect(ready.state).toBe("ready");
    const copy = new pg.Client({ connectionString: await third.api.getPreviewConnectionUri(preview.id) });
    await copy.connect();
    expect((await copy.query("SELECT count(*)::int AS n FROM orders")).rows[0].n).toBe(20000);
    await copy.end();
    await stopGroup(third, "SIGTERM");
    expect(await third.exited).toBe("0");
  }, 120_000);
});

describe("a stop does not wait on a job that ignores it", () => {
  it("a handler whose tool ignores SIGTERM has its job handed back after the hand-back time; the tool is killed after", async () => {
    const name = `capy_stop_${crypto.randomBytes(5).toString("hex")}`;
    await createDatabase(inject("pgAdminUrl"), name);
    const url = withDatabase(inject("pgAdminUrl"), name);
    const db = createDb(url, { max: 4, applicationName: "capydb-test-shutdown" });
    await migrate(db);
    let toolPid = 0;
    const quiet = { info() {}, warn() {}, error() {} };
    const worker = new Worker({
      db,
      databaseUrl: url,
      concurrency: 1,
      leaseSeconds: 30,
      retryBaseMs: 50,
      pollIntervalMs: 50,
      log: quiet,
      handlers: {
        "test.deaf": {
          async run(ctx) {
            // A tool deaf to SIGTERM: the ignored signal is inherited by the sleep it becomes.
            const running = ctx.runTool("sh", ["-c", "trap '' TERM INT; exec sleep 30"]);
            toolPid = runningToolGroups()[0];
            await running;
          },
        },
      },
    });
    try {
      await worker.start();
      const job = await enqueueJob(db, { id: newId("job"), type: "test.deaf" });
      for (let i = 0; i < 200; i++) {
        const { rows } = await db.query("SELECT state FROM jobs WHERE id = $1", [job.id]);
        if (rows[0].state === "running" && toolPid) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(toolPid).toBeGreaterThan(0);
      const t0 = Date.now();
      expect(await worker.stop(300, { handBackMs: 500 })).toEqual({ handedBack: 1 });
      const stopMs = Date.now() - t0;
      expect(stopMs).toBeGreaterThanOrEqual(750);
      expect(stopMs).toBeLessThan(3000);
      const { rows } = await db.query("SELECT state, attempts, error, lease_token FROM jobs WHERE id = $1", [job.id]);
      expect(rows[0]).toMatchObject({ state: "pending", attempts: 0, error: null, lease_token: null });
      // SIGTERM to its group did nothing; SIGKILL follows, so no orphan keeps running.
      const alive = () => {
        try {
          process.kill(toolPid, 0);
          return true;
        } catch {
          return false;
        }
      };
      expect(alive()).toBe(true);
      for (let i = 0; i < 160 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
      expect(alive()).toBe(false);
      // The abandoned attempt, returning at last, changes nothing on the job handed back.
      await new Promise((r) => setTimeout(r, 300));
      const { rows: after } = await db.query("SELECT state, attempts, error FROM jobs WHERE id = $1", [job.id]);
      expect(after[0]).toMatchObject({ state: "pending", attempts: 0, error: null });
    } finally {
      await worker.stop(0).catch(() => {});
      await db.end();
    }
  }, 30_000);
});
