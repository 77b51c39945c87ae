// A tenant trying to starve everyone else of job workers, as an attacker would go about
// it: imports from a source the attacker controls, whose table is held ACCESS EXCLUSIVE
// in a transaction that never ends (pg_dump waits for its lock for ever), four at once
// to fill the four workers; and a plain flood of jobs against several worker processes.
// Each hung job must stop at its maximum runtime with a clear error and leave nothing
// half-made behind, and one organization must never hold more than its cap of workers,
// counted over every process, so other tenants' work goes on meanwhile.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { JobFailedError, type CapyClient, type Job, type Project } from "@capydb/api";
import { startLocalCluster, type LocalCluster } from "../../server/src/platform/dataplane/local-cluster.js";
import { createDb, type Db } from "../../server/src/platform/store/db.js";
import { migrate } from "../../server/src/platform/store/migrate.js";
import { newId } from "../../server/src/platform/secrets.js";
import { enqueueJob } from "../../server/src/platform/jobs/sql/enqueue.js";
import { Worker, type JobHandler } from "../../server/src/platform/jobs/worker.js";
import { freePort } from "../harness/ports.js";
import { adminQuery, createDatabase, startTestServer, withDatabase, type TestServer } from "../harness/server.js";
import { organization } from "../harness/tenants.js";

const IMPORT_MAX_RUNTIME_SECONDS = 12;
const READER_PASSWORD = "tarpit-Reader-pw";

let t: TestServer;
let attacker: CapyClient;
let bystander: CapyClient;
let attackerOrgId: string;
let source: LocalCluster;
let sourceRoot: string;
let sourceUrl: string;
let locker: pg.Client | null = null;

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** The most intervals open at one instant. */
function maxOverlap(intervals: Array<{ start: Date; end: Date }>): number {
  const edges = intervals.flatMap((i) => [
    { at: i.start.getTime(), d: 1 },
    { at: i.end.getTime(), d: -1 },
  ]);
  // An interval ending at the instant another starts does not overlap it.
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let open = 0;
  let max = 0;
  for (const e of edges) max = Math.max(max, (open += e.d));
  return max;
}

async function newProject(client: CapyClient, name: string): Promise<Project> {
  const { job, project } = await client.createProject({ name });
  await client.waitForJob(job.id, { timeoutMs: 60_000 });
  return (await client.getProject(project.id)).project;
}

async function sourceSql(database: string, sql: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: withDatabase(source.adminUrl, database) });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  sourceRoot = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-tarpit-"));
  fs.chmodSync(sourceRoot, 0o755);
  source = await startLocalCluster({ dir: path.join(sourceRoot, "pg"), port: await freePort(), settings: { fsync: "off" } });
  await sourceSql("postgres", `CREATE ROLE reader LOGIN PASSWORD '${READER_PASSWORD}'`);
  await sourceSql("postgres", "CREATE DATABASE shop OWNER reader");
  sourceUrl = `postgresql://reader:${encodeURIComponent(READER_PASSWORD)}@127.0.0.1:${source.port}/shop`;
  const reader = new pg.Client({ connectionString: sourceUrl });
  await reader.connect();
  await reader.query("CREATE TABLE orders (id serial PRIMARY KEY, total numeric); INSERT INTO orders (total) SELECT g FROM generate_series(1, 1000) g");
  await reader.end();

  t = await startTestServer({
    CAPYDB_IMPORT_ALLOWED_CIDRS: "127.0.0.0/8",
    CAPYDB_JOB_MAX_RUNTIME: `import.run=${IMPORT_MAX_RUNTIME_SECONDS}`,
    // pg_dump's own lock wait is another defence; this test is about the job limits, so it
    // is set out of the way: the hang ends only by the maximum runtime.
    CAPYDB_TOOL_LOCK_WAIT_SECONDS: "3600",
    // The defaults under test: four workers, two jobs per organization.
  });
  expect(t.server.ctx.config.workerConcurrency).toBe(4);
  const client = async (name: string) => {
    const { orgId: id, client } = await organization(t, name);
    return { id, client };
  };
  const a = await client("Tarpit Inc");
  attacker = a.client;
  attackerOrgId = a.id;
  bystander = (await client("Bystander Ltd")).client;
}, 180_000);

afterAll(async () => {
  await locker?.query("ROLLBACK").catch(() => {});
  await locker?.end().catch(() => {});
  await attacker?.close();
  await bystander?.close();
  await t?.stop();
  await source?.stop();
  if (sourceRoot) fs.rmSync(sourceRoot, { recursive: true, force: true });
});

describe("a tenant's hung jobs cannot starve the workers", () => {
  it(
    "four imports from a tarpit source hold at most two workers, stop at their maximum runtime with a clear error, leave no half-made database; another tenant's project is created meanwhile",
    { timeout: 180_000 },
    async () => {
      const projects: Project[] = [];
      for (let i = 0; i < 4; i++) projects.push(await newProject(attacker, `tarpit-${i}`));

      // The tarpit: the source's only table locked in a transaction that stays open.
      locker = new pg.Client({ connectionString: withDatabase(source.adminUrl, "shop") });
      await locker.connect();
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE");

      const imports: Job[] = [];
      for (const p of projects) imports.push((await attacker.createImport(p.id, { source_url: sourceUrl })).job);
      const ids = imports.map((j) => j.id);
      const jobRows = async () =>
        (
          await t.server.ctx.db.query<{
            id: string;
            state: string;
            error: string | null;
            retry_classification: string | null;
            attempts: number;
            claimed_at: Date | null;
            completed_at: Date | null;
          }>("SELECT id, state, error, retry_classification, attempts, claimed_at, completed_at FROM jobs WHERE id = ANY($1)", [ids])
        ).rows;

      // Two imports reach the source and wait for its lock; the other two wait for the organization's slots.
      await waitFor(
        "two pg_dumps waiting for the locked table",
        async () => {
          const { rows } = await sourceSql("postgres", "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'shop' AND wait_event_type = 'Lock'");
          return rows[0].n === 2;
        },
        60_000,
      );

      // Meanwhile another tenant creates a project, and it is ready promptly.
      const before = Date.now();
      const { job: createJob } = await bystander.createProject({ name: "bystander" });
      const created = await bystander.waitForJob(createJob.id, { timeoutMs: 30_000 });
      expect(created.state).toBe("succeeded");
      expect(Date.now() - before).toBeLessThan(30_000);
      // ... while the attacker's imports were hung, two of them on workers, two waiting their turn.
      expect((await jobRows()).map((r) => r.state).sort()).toEqual(["pending", "pending", "running", "running"]);
      // Half-made: the build databases of the hung imports exist now.
      const { rows: names } = await t.server.ctx.db.query<{ id: string; database_name: string }>("SELECT id, database_name FROM projects WHERE id = ANY($1)", [
        projects.map((p) => p.id),
      ]);
      const buildNames = names.map((r) => `${r.database_name}_im`);
      const builds = async () =>
        (await adminQuery<{ datname: string }>("postgres", "SELECT datname FROM pg_database WHERE datname = ANY($1)", [buildNames])).rows;
      expect(await builds()).toHaveLength(2);

      // Each import stops at its maximum runtime, fails for good, and says why.
      for (const job of imports) {
        await expect(attacker.waitForJob(job.id, { timeoutMs: 4 * IMPORT_MAX_RUNTIME_SECONDS * 1000 })).rejects.toBeInstanceOf(JobFailedError);
      }
      for (const row of await jobRows()) {
        expect(row, row.id).toMatchObject({ state: "failed", retry_classification: "permanent", attempts: 1 });
        expect(row.error).toMatch(
          new RegExp(
            `^import\\.run exceeded its maximum runtime of ${IMPORT_MAX_RUNTIME_SECONDS} s and was stopped \\(CAPYDB_JOB_MAX_RUNTIME_SECONDS, or CAPYDB_JOB_MAX_RUNTIME`,
          ),
        );
        const ranMs = row.completed_at!.getTime() - row.claimed_at!.getTime();
        expect(ranMs).toBeGreaterThanOrEqual(IMPORT_MAX_RUNTIME_SECONDS * 1000);
        // The runtime, the grace a handler gets to return after its abort (10 s), and the cleanup.
        expect(ranMs).toBeLessThan((IMPORT_MAX_RUNTIME_SECONDS + 15) * 1000);
      }
      // Never more than two of the attacker's jobs at once, over all of its jobs.
      const { rows: spans } = await t.server.ctx.db.query<{ start: Date; end: Date }>(
        "SELECT claimed_at AS start, coalesce(completed_at, now()) AS end FROM jobs WHERE organization_id = $1 AND claimed_at IS NOT NULL",
        [attackerOrgId],
      );
      expect(maxOverlap(spans)).toBe(2);
      // Nothing half-made stays behind, and the projects keep their own databases.
      expect(await builds()).toEqual([]);
      for (const p of projects) expect((await attacker.getProject(p.id)).project.state).toBe("ready");
      const { rows: kept } = await adminQuery<{ n: number }>("postgres", "SELECT count(*)::int AS n FROM pg_database WHERE datname = ANY($1)", [
        names.map((r) => r.database_name),
      ]);
      expect(kept[0].n).toBe(4);
    },
  );
});

describe("one organization's flood of jobs", () => {
  let controlDb: string;
  let db: Db;
  const workers: Array<{ worker: Worker; pool: Db }> = [];

  beforeAll(async () => {
    controlDb = `capy_flood_${crypto.randomBytes(5).toString("hex")}`;
    await createDatabase(inject("pgAdminUrl"), controlDb);
    db = createDb(withDatabase(inject("pgAdminUrl"), controlDb), { max: 4, applicationName: "capydb-test-flood" });
    await migrate(db);
    await db.query("CREATE TABLE runs (job_id text PRIMARY KEY, org text, started_at timestamptz NOT NULL, ended_at timestamptz)");
  });

  afterAll(async () => {
    for (const { worker, pool } of workers) {
      await worker.stop(0).catch(() => {});
      await pool.end().catch(() => {});
    }
    await db?.end().catch(() => {});
    if (controlDb) await adminQuery("postgres", `DROP DATABASE IF EXISTS "${controlDb}" WITH (FORCE)`).catch(() => {});
  });

  it("runs at most two of its jobs at once over three worker processes, while other organizations' jobs keep flowing", { timeout: 60_000 }, async () => {
    const url = withDatabase(inject("pgAdminUrl"), controlDb);
    const handler: JobHandler = {
      async run(ctx) {
        await ctx.db.query("INSERT INTO runs (job_id, org, started_at) VALUES ($1, $2, clock_timestamp())", [
          ctx.job.id,
          ctx.job.organization_id ?? "platform",
        ]);
        await sleep(300, undefined, { signal: ctx.signal });
        await ctx.db.query("UPDATE runs SET ended_at = clock_timestamp() WHERE job_id = $1", [ctx.job.id]);
      },
    };
    // The attacker's jobs go in first: the oldest in the queue.
    const enqueue = (organizationId: string | null) => enqueueJob(db, { id: newId("job"), type: "test.flood", organizationId });
    for (let i = 0; i < 16; i++) await enqueue("org_flood");
    for (let i = 0; i < 4; i++) await enqueue("org_other");
    for (let i = 0; i < 6; i++) await enqueue(null);

    // Three "processes": a pool and a worker each, sharing nothing but the database.
    const quiet = { info() {}, warn() {}, error() {} };
    for (let i = 0; i < 3; i++) {
      const pool = createDb(url, { max: 12, applicationName: `capydb-test-flood-${i}` });
      const worker = new Worker({
        db: pool,
        databaseUrl: url,
        handlers: { "test.flood": handler },
        concurrency: 4,
        leaseSeconds: 10,
        retryBaseMs: 50,
        pollIntervalMs: 50,
        log: quiet,
      });
      workers.push({ worker, pool });
    }
    await Promise.all(workers.map((w) => w.worker.start()));

    await waitFor(
      "all 26 jobs to finish",
      async () => {
        const { rows } = await db.query("SELECT count(*)::int AS n FROM jobs WHERE type = 'test.flood' AND state IN ('succeeded', 'failed')");
        return rows[0].n === 26;
      },
      45_000,
    );
    const { rows: states } = await db.query("SELECT state, count(*)::int AS n FROM jobs WHERE type = 'test.flood' GROUP BY 1");
    expect(states).toEqual([{ state: "succeeded", n: 26 }]);
    // The processes shared the queue (all three polled it all along, so any of them could have
    // taken a third flood job). Which of them got the flood's own jobs is a race: a worker that
    // finishes one claims the next at once, so on a loaded machine one process may take them all.
    const { rows: claimers } = await db.query("SELECT count(DISTINCT claimed_by)::int AS n FROM jobs WHERE type = 'test.flood'");
    expect(claimers[0].n).toBeGreaterThan(1);

    const { rows: runs } = await db.query<{ org: string; started_at: Date; ended_at: Date }>("SELECT org, started_at, ended_at FROM runs");
    const spans = (org: string) => runs.filter((r) => r.org === org).map((r) => ({ start: r.started_at, end: r.ended_at }));
    expect(maxOverlap(spans("org_flood"))).toBe(2);
    expect(maxOverlap(spans("org_other"))).toBeLessThanOrEqual(2);
    // Jobs without an organization are the platform's: not capped.
    expect(maxOverlap(spans("platform"))).toBeGreaterThan(2);
    // The other organization, queued behind the whole flood, was done long before the flood.
    const lastOther = Math.max(...spans("org_other").map((s) => s.end.getTime()));
    const lastFloodStart = Math.max(...spans("org_flood").map((s) => s.start.getTime()));
    expect(lastOther).toBeLessThan(lastFloodStart);
  });
});
