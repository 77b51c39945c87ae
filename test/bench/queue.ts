// Job queue throughput: drain 10,000 no-op jobs through the real claim path (the
// `Worker` of server/src/platform/jobs, with its lease, renewal and lease-checked
// completion) at several concurrencies, next to a naive baseline measured in the same
// run: one connection claiming one job at a time with SELECT ... FOR UPDATE SKIP
// LOCKED LIMIT 1 + UPDATE, then marking it done.
//
//   npx tsx test/bench/queue.ts        (BENCH_JOBS=10000 BENCH_CONCURRENCY=8,16,32)
//
// Starts its own PostgreSQL (startLocalCluster, default durability: fsync and
// synchronous_commit on) in a temp dir, so the figures include real commit flushes.
// Prints figures and the claim query's plan; asserts nothing except that every job
// ended succeeded exactly once.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { startLocalCluster, type LocalCluster } from "../../server/src/platform/dataplane/local-cluster.js";
import { createDb, type Db, type Queryable } from "../../server/src/platform/store/db.js";
import { migrate } from "../../server/src/platform/store/migrate.js";
import { claimJobs } from "../../server/src/platform/jobs/sql/claim.js";
import { Worker, type Logger } from "../../server/src/platform/jobs/worker.js";
import { envInt, fmt, freePort, postgresCpuSeconds, printHeader, printTable, runIfMain, selfCpuSeconds } from "./lib.js";

const JOB_TYPE = "bench.noop";
const GOAL_JOBS_PER_SECOND = 1000;

export interface QueueBenchRow {
  name: string;
  concurrency: number;
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  nodeCpuSeconds: number;
  postgresCpuSeconds: number;
}

export interface QueueBenchResult {
  rows: QueueBenchRow[];
  claimPlan: string;
  claimUsesPendingIndex: boolean;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = "/" + database;
  return u.toString();
}

function concurrencies(): number[] {
  const raw = process.env.BENCH_CONCURRENCY ?? "8,16,32";
  const list = raw.split(",").map((s) => Number(s.trim()));
  if (list.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`BENCH_CONCURRENCY must be a comma-separated list of positive integers, got "${raw}"`);
  return list;
}

/** A fresh queue of `n` due no-op jobs (bulk insert: setup, not what is measured). */
async function fillQueue(db: Db, n: number): Promise<void> {
  await db.query("TRUNCATE jobs, job_resource_locks");
  await db.query(
    `INSERT INTO jobs (id, type, run_at)
     SELECT 'job_' || lpad(i::text, 8, '0') || substr(md5(random()::text), 1, 12), $1, now() - interval '1 second'
     FROM generate_series(1, $2) AS i`,
    [JOB_TYPE, n],
  );
  await db.query("VACUUM ANALYZE jobs");
}

/** Every job ended succeeded after exactly one attempt; throws otherwise. */
async function checkDrained(db: Db, n: number, name: string): Promise<void> {
  const { rows } = await db.query<{ state: string; attempts: number; n: number }>(
    "SELECT state, attempts, count(*)::int AS n FROM jobs GROUP BY 1, 2 ORDER BY 1, 2",
  );
  const ok = rows.length === 1 && rows[0].state === "succeeded" && rows[0].attempts === 1 && rows[0].n === n;
  if (!ok) throw new Error(`${name}: the queue did not end with ${n} jobs succeeded once: ${JSON.stringify(rows)}`);
}

function measure<T>(cluster: LocalCluster, fn: () => Promise<T>) {
  return async () => {
    const pgBefore = postgresCpuSeconds(cluster.dir);
    const selfBefore = selfCpuSeconds();
    const t0 = process.hrtime.bigint();
    const value = await fn();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { value, seconds, nodeCpu: selfCpuSeconds() - selfBefore, pgCpu: postgresCpuSeconds(cluster.dir) - pgBefore };
  };
}

/** Drains the queue with the real Worker (claim, lease renewal, lease-checked completion). */
async function drainWithWorker(cluster: LocalCluster, url: string, jobs: number, concurrency: number): Promise<QueueBenchRow> {
  const pool = createDb(url, { max: concurrency + 4, applicationName: "capydb-bench-worker" });
  let succeeded = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const problems: string[] = [];
  // The worker logs "job succeeded" after the completing UPDATE has committed.
  const log: Logger = {
    info: (_obj, msg) => {
      if (msg === "job succeeded" && ++succeeded === jobs) done();
    },
    warn: (obj, msg) => void problems.push(`${msg ?? ""} ${JSON.stringify(obj)}`),
    error: (obj, msg) => void problems.push(`${msg ?? ""} ${JSON.stringify(obj)}`),
  };
  const worker = new Worker({
    db: pool,
    databaseUrl: url,
    handlers: { [JOB_TYPE]: { async run() {} } },
    concurrency,
    leaseSeconds: 30,
    retryBaseMs: 1000,
    log,
    workerId: `bench-${concurrency}`,
  });
  try {
    const run = measure(cluster, async () => {
      await worker.start();
      await finished;
    });
    const m = await run();
    await worker.stop();
    if (problems.length) throw new Error(`worker (concurrency ${concurrency}) reported problems: ${problems.slice(0, 3).join("; ")}`);
    await checkDrained(pool, jobs, `worker c=${concurrency}`);
    return {
      name: "Worker (real claim path)",
      concurrency,
      jobs,
      seconds: m.seconds,
      jobsPerSecond: jobs / m.seconds,
      nodeCpuSeconds: m.nodeCpu,
      postgresCpuSeconds: m.pgCpu,
    };
  } finally {
    await worker.stop(0).catch(() => {});
    await pool.end().catch(() => {});
  }
}

/** The naive baseline: one connection, one job per claim, claim then complete. */
async function drainNaively(cluster: LocalCluster, url: string, jobs: number): Promise<QueueBenchRow> {
  const client = new pg.Client({ connectionString: url, application_name: "capydb-bench-naive" });
  await client.connect();
  try {
    const run = measure(cluster, async () => {
      let n = 0;
      for (;;) {
        await client.query("BEGIN");
        const { rows } = await client.query<{ id: string }>(
          `SELECT id FROM jobs WHERE state = 'pending' AND run_at <= now() AND type = $1
           ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
          [JOB_TYPE],
        );
        if (rows.length === 0) {
          await client.query("COMMIT");
          break;
        }
        await client.query(
          `UPDATE jobs SET state = 'running', attempts = attempts + 1, claimed_by = 'naive', claimed_at = now(),
             started_at = now(), lease_token = gen_random_uuid(), lease_expires_at = now() + interval '30 seconds', updated_at = now()
           WHERE id = $1`,
          [rows[0].id],
        );
        await client.query("COMMIT");
        // (the no-op job runs here)
        await client.query(
          `UPDATE jobs SET state = 'succeeded', completed_at = now(), updated_at = now(), lease_token = NULL, lease_expires_at = NULL
           WHERE id = $1`,
          [rows[0].id],
        );
        n++;
      }
      return n;
    });
    const m = await run();
    if (m.value !== jobs) throw new Error(`naive loop drained ${m.value} jobs, expected ${jobs}`);
    await checkDrained(createDbOnce(url), jobs, "naive");
    return {
      name: "naive SKIP LOCKED LIMIT 1 loop",
      concurrency: 1,
      jobs,
      seconds: m.seconds,
      jobsPerSecond: jobs / m.seconds,
      nodeCpuSeconds: m.nodeCpu,
      postgresCpuSeconds: m.pgCpu,
    };
  } finally {
    await client.end().catch(() => {});
  }
}

let sharedDb: Db | null = null;
function createDbOnce(url: string): Db {
  sharedDb ??= createDb(url, { max: 2, applicationName: "capydb-bench" });
  return sharedDb;
}

/** The exact SQL and parameters the Worker's claim sends (captured, not copied). */
async function capturedClaim(limit: number): Promise<{ text: string; values: unknown[] }> {
  let captured: { text: string; values: unknown[] } | null = null;
  const recorder = {
    query: async (text: string, values: unknown[]) => {
      captured = { text, values };
      return { rows: [] };
    },
  } as unknown as Queryable;
  await claimJobs(recorder, "bench-explain", limit, 30, [JOB_TYPE]);
  return captured!;
}

/** EXPLAIN ANALYZE of one real claim on the full queue, rolled back. */
async function explainClaim(db: Db): Promise<string> {
  const { text, values } = await capturedClaim(16);
  const client = await db.connect();
  try {
    await client.query("BEGIN");
    const { rows } = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) ${text}`, values);
    await client.query("ROLLBACK");
    return rows.map((r) => r["QUERY PLAN"]).join("\n");
  } finally {
    client.release();
  }
}

export async function main(): Promise<QueueBenchResult> {
  const jobs = envInt("BENCH_JOBS", 10_000);
  const levels = concurrencies();
  printHeader(`Job queue: draining ${jobs.toLocaleString("en-US")} no-op jobs`, "npx tsx test/bench/queue.ts");

  const root = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-bench-queue-"));
  fs.chmodSync(root, 0o755);
  let cluster: LocalCluster | null = null;
  let db: Db | null = null;
  try {
    // Default durability: no fsync/synchronous_commit overrides.
    cluster = await startLocalCluster({ dir: path.join(root, "pg"), port: await freePort() });
    const admin = new pg.Client({ connectionString: cluster.adminUrl });
    await admin.connect();
    await admin.query("CREATE DATABASE capydb_queue_bench");
    const settings = await admin.query<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'shared_buffers') ORDER BY name",
    );
    const version = (await admin.query<{ server_version: string }>("SHOW server_version")).rows[0].server_version;
    await admin.end();
    process.stdout.write(`PostgreSQL ${version} in ${root}: ${settings.rows.map((r) => `${r.name}=${r.setting}`).join(", ")}\n\n`);

    const url = withDatabase(cluster.adminUrl, "capydb_queue_bench");
    db = createDb(url, { max: 4, applicationName: "capydb-bench" });
    await migrate(db);

    // The claim's plan on a full queue.
    await fillQueue(db, jobs);
    const claimPlan = await explainClaim(db);
    const claimUsesPendingIndex = /jobs_pending_idx/.test(claimPlan);

    const rows: QueueBenchRow[] = [];
    await fillQueue(db, jobs);
    rows.push(await drainNaively(cluster, url, jobs));
    for (const c of levels) {
      await fillQueue(db, jobs);
      rows.push(await drainWithWorker(cluster, url, jobs, c));
    }

    printTable(
      ["drain", "concurrency", "jobs", "seconds", "jobs/s", "node CPU s", "postgres CPU s"],
      rows.map((r) => [r.name, r.concurrency, r.jobs, fmt(r.seconds, 2), fmt(r.jobsPerSecond, 0), fmt(r.nodeCpuSeconds, 1), fmt(r.postgresCpuSeconds, 1)]),
    );
    const best = rows.filter((r) => r.name.startsWith("Worker")).sort((a, b) => b.jobsPerSecond - a.jobsPerSecond)[0];
    const naive = rows[0];
    process.stdout.write(
      `\nBest Worker: ${fmt(best.jobsPerSecond, 0)} jobs/s at concurrency ${best.concurrency} ` +
        `(${fmt(best.jobsPerSecond / naive.jobsPerSecond, 1)}× the naive loop). ` +
        `Goal >= ${fmt(GOAL_JOBS_PER_SECOND, 0)} jobs/s: ${best.jobsPerSecond >= GOAL_JOBS_PER_SECOND ? "MET" : "NOT MET"}.\n`,
    );
    process.stdout.write(`\nEXPLAIN (ANALYZE, BUFFERS) of one Worker claim (limit 16) on a queue of ${jobs} pending jobs, rolled back:\n\n`);
    process.stdout.write(
      claimPlan
        .split("\n")
        .map((l) => "    " + l)
        .join("\n") + "\n\n",
    );
    process.stdout.write(
      claimUsesPendingIndex
        ? "The claim walks jobs_pending_idx (partial index on (run_at, id) WHERE state = 'pending') in order and stops after LIMIT rows.\n"
        : "The claim does NOT use jobs_pending_idx in this plan (see above).\n",
    );
    return { rows, claimPlan, claimUsesPendingIndex };
  } finally {
    await sharedDb?.end().catch(() => {});
    sharedDb = null;
    await db?.end().catch(() => {});
    await cluster?.stop().catch(() => {});
    fs.rmSync(root, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, main);
