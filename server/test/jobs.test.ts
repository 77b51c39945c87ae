// The job engine's promises, on a real PostgreSQL: a killed worker's job is run
// again after its lease and its effect happens once; jobs of one resource never
// overlap; failures are classified and retried (or not); tool output is recorded
// without secrets; completion is lease-checked; a stopping worker hands its jobs
// back; two workers never run a job twice; a job is stopped, cleaned up and failed
// at its maximum runtime (even one stuck where its signal cannot reach, or whose
// worker died); an organization never has more jobs running than its cap.
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { createDatabase, withDatabase } from "../../test/harness/server.js";
import { createDb, type Db } from "../src/platform/store/db.js";
import { migrate } from "../src/platform/store/migrate.js";
import { newId } from "../src/platform/secrets.js";
import { enqueueJob, type EnqueueInput } from "../src/platform/jobs/sql/enqueue.js";
import { claimJobs } from "../src/platform/jobs/sql/claim.js";
import { completeJobs } from "../src/platform/jobs/sql/complete.js";
import { PermanentError, TransientError } from "../src/platform/jobs/errors.js";
import { Worker, type JobHandler, type Logger, type WorkerOptions } from "../src/platform/jobs/worker.js";
import type { JobRow } from "../src/platform/jobs/types.js";
import { DEFAULT_JOB_LIMITS, MaxRuntimeExceeded, parseMaxRuntimeOverrides, type JobLimits } from "../src/platform/jobs/limits.js";
import { loadConfig } from "../src/config.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../..");

let adminUrl: string;
let controlDbName: string;
let controlUrl: string;
let db: Db;
const workers: Array<{ worker: Worker; pool: Db }> = [];
const children: ChildProcess[] = [];

/** A logger that keeps every line, so tests can check what reached the logs. */
function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const add = (obj: object | string, msg?: string) => lines.push(JSON.stringify(obj) + " " + (msg ?? ""));
  return { lines, info: add, warn: add, error: add };
}

async function startWorker(handlers: Record<string, JobHandler>, options: Partial<WorkerOptions> = {}): Promise<Worker> {
  // Each worker gets its own pool, as it would in its own process.
  const pool = createDb(controlUrl, { max: 10, applicationName: "capydb-test-worker" });
  const worker = new Worker({
    db: pool,
    databaseUrl: controlUrl,
    handlers,
    concurrency: 4,
    leaseSeconds: 10,
    retryBaseMs: 50,
    pollIntervalMs: 100,
    log: memoryLogger(),
    ...options,
  });
  await worker.start();
  workers.push({ worker, pool });
  return worker;
}

async function stopWorker(worker: Worker, graceMs?: number): Promise<void> {
  const i = workers.findIndex((w) => w.worker === worker);
  const [entry] = workers.splice(i, 1);
  await worker.stop(graceMs);
  await entry.pool.end().catch(() => {});
}

async function enqueue(input: Omit<EnqueueInput, "id">): Promise<JobRow> {
  return enqueueJob(db, { id: newId("job"), ...input });
}

async function getJob(id: string): Promise<JobRow> {
  const { rows } = await db.query<JobRow>("SELECT * FROM jobs WHERE id = $1", [id]);
  expect(rows).toHaveLength(1);
  return rows[0];
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function waitForState(id: string, states: JobRow["state"][], timeoutMs = 20_000): Promise<JobRow> {
  return waitFor(
    `job ${id} to reach ${states.join("/")}`,
    async () => {
      const job = await getJob(id);
      return states.includes(job.state) ? job : null;
    },
    timeoutMs,
  );
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

beforeAll(async () => {
  adminUrl = inject("pgAdminUrl");
  controlDbName = `capy_jobs_${crypto.randomBytes(5).toString("hex")}`;
  await createDatabase(adminUrl, controlDbName);
  controlUrl = withDatabase(adminUrl, controlDbName);
  db = createDb(controlUrl, { max: 10, applicationName: "capydb-test-jobs" });
  await migrate(db);
  await db.query(`
    CREATE TABLE job_events (job_id text NOT NULL, kind text NOT NULL, worker text, at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE TABLE job_effects (job_id text NOT NULL, worker text NOT NULL);
    CREATE TABLE job_intervals (job_id text PRIMARY KEY, resource text NOT NULL, started_at timestamptz NOT NULL, ended_at timestamptz);
  `);
});

afterEach(async () => {
  // A failed test must not leave a worker claiming the next test's jobs.
  for (const { worker } of [...workers]) await stopWorker(worker, 0);
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await db?.end().catch(() => {});
  if (controlDbName) {
    const pg = createDb(adminUrl, { max: 1 });
    await pg.query(`DROP DATABASE IF EXISTS "${controlDbName}" WITH (FORCE)`).catch(() => {});
    await pg.end();
  }
});

describe("job engine", () => {
  it("runs a job again after its worker is SIGKILLed, once the lease has expired, with one side effect", { timeout: 45_000 }, async () => {
    const type = "test.crash";
    const job = await enqueue({ type });
    const childId = `child-${crypto.randomBytes(3).toString("hex")}`;
    const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "fixtures/crashing-worker.ts")], {
      cwd: repoRoot,
      env: { ...process.env, CAPYDB_JOBS_TEST_URL: controlUrl, JOB_TYPE: type, LEASE_SECONDS: "2", WORKER_ID: childId },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on("exit", (code, signal) => resolve(signal ?? code)));

    await waitFor(`the child worker to start job ${job.id} (output so far: ${output})`, () => output.includes(`started ${job.id}`), 30_000);
    const claimed = await getJob(job.id);
    expect(claimed).toMatchObject({ state: "running", attempts: 1, claimed_by: childId });
    // Let the child renew its lease at least once: a live worker keeps its job.
    await sleep(2500);
    expect(await getJob(job.id)).toMatchObject({ state: "running", attempts: 1, claimed_by: childId, lease_token: claimed.lease_token });

    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    const orphaned = await getJob(job.id);
    expect(orphaned.state).toBe("running");
    const leaseEnd = orphaned.lease_expires_at!;

    const effects = new Map<string, number>();
    const survivor = await startWorker(
      {
        [type]: {
          async run(ctx) {
            await ctx.db.query("INSERT INTO job_events (job_id, kind, worker) VALUES ($1, 'started', $2)", [ctx.job.id, survivor.id]);
            await sleep(50);
            // The side effect, at the end of the handler.
            await ctx.db.query("INSERT INTO job_effects (job_id, worker) VALUES ($1, $2)", [ctx.job.id, survivor.id]);
            effects.set(ctx.job.id, (effects.get(ctx.job.id) ?? 0) + 1);
          },
        },
      },
      { leaseSeconds: 2 },
    );

    const done = await waitForState(job.id, ["succeeded", "failed"], 20_000);
    expect(done).toMatchObject({ state: "succeeded", attempts: 2, claimed_by: survivor.id, lease_token: null, error: null });
    // Reclaimed only after the dead worker's lease ran out, not before.
    expect(done.claimed_at!.getTime()).toBeGreaterThanOrEqual(leaseEnd.getTime());
    const { rows: started } = await db.query("SELECT worker FROM job_events WHERE job_id = $1 AND kind = 'started' ORDER BY at", [job.id]);
    expect(started.map((r) => r.worker)).toEqual([childId, survivor.id]);
    const { rows: effectRows } = await db.query("SELECT worker FROM job_effects WHERE job_id = $1", [job.id]);
    expect(effectRows).toEqual([{ worker: survivor.id }]);
    expect([...effects.values()]).toEqual([1]);
  });

  it("never overlaps two jobs of one locked_resource, and overlaps jobs of different resources", { timeout: 45_000 }, async () => {
    const type = "test.locked";
    const sameResource = "preview:same";
    const handler: JobHandler = {
      async run(ctx) {
        const resource = ctx.job.locked_resource!;
        await ctx.db.query("INSERT INTO job_intervals (job_id, resource, started_at) VALUES ($1, $2, clock_timestamp())", [ctx.job.id, resource]);
        await sleep(Number(ctx.job.payload.ms), undefined, { signal: ctx.signal });
        await ctx.db.query("UPDATE job_intervals SET ended_at = clock_timestamp() WHERE job_id = $1", [ctx.job.id]);
      },
    };
    const same: JobRow[] = [];
    for (let i = 0; i < 10; i++) same.push(await enqueue({ type, lockedResource: sameResource, payload: { ms: 40 + ((i * 37) % 80) } }));
    const distinct: JobRow[] = [];
    for (let i = 0; i < 4; i++) distinct.push(await enqueue({ type, lockedResource: `preview:distinct-${i}`, payload: { ms: 600 } }));

    const a = await startWorker({ [type]: handler }, { concurrency: 4, pollIntervalMs: 20 });
    const b = await startWorker({ [type]: handler }, { concurrency: 4, pollIntervalMs: 20 });
    const all = [...same, ...distinct];
    await waitFor(
      "every locked job to finish",
      async () => {
        const { rows } = await db.query("SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND state IN ('succeeded', 'failed')", [all.map((j) => j.id)]);
        return rows[0].n === all.length;
      },
      30_000,
    );

    const { rows: states } = await db.query("SELECT state, attempts, count(*)::int AS n FROM jobs WHERE id = ANY($1) GROUP BY 1, 2", [all.map((j) => j.id)]);
    expect(states).toEqual([{ state: "succeeded", attempts: 1, n: all.length }]);
    const { rows: claimers } = await db.query("SELECT DISTINCT claimed_by FROM jobs WHERE id = ANY($1)", [all.map((j) => j.id)]);
    expect(claimers.map((r) => r.claimed_by).sort()).toEqual([a.id, b.id].sort());

    const { rows: intervals } = await db.query<{ job_id: string; resource: string; started_at: Date; ended_at: Date }>(
      "SELECT job_id, resource, started_at, ended_at FROM job_intervals WHERE job_id = ANY($1) ORDER BY started_at",
      [all.map((j) => j.id)],
    );
    expect(intervals).toHaveLength(all.length);
    const onSame = intervals.filter((r) => r.resource === sameResource);
    for (let i = 1; i < onSame.length; i++) {
      expect(onSame[i].started_at.getTime(), `${onSame[i].job_id} started before ${onSame[i - 1].job_id} ended`).toBeGreaterThanOrEqual(
        onSame[i - 1].ended_at.getTime(),
      );
    }
    // One resource is served in enqueue order (run_at, id).
    // (ordered in SQL: run_at has microseconds, a JS Date only milliseconds)
    const { rows: fifo } = await db.query("SELECT id FROM jobs WHERE id = ANY($1) ORDER BY run_at, id", [same.map((j) => j.id)]);
    expect(onSame.map((r) => r.job_id)).toEqual(fifo.map((r) => r.id));

    const onDistinct = intervals.filter((r) => r.resource !== sameResource);
    let overlaps = 0;
    for (const x of onDistinct) for (const y of onDistinct) if (x.job_id < y.job_id && x.started_at < y.ended_at && y.started_at < x.ended_at) overlaps++;
    expect(overlaps).toBeGreaterThan(0);

    const { rows: locks } = await db.query("SELECT resource, job_id FROM job_resource_locks WHERE resource LIKE 'preview:%' AND job_id IS NOT NULL");
    expect(locks).toEqual([]);
  });

  it("retries transient failures, fails permanent ones at once, and gives up after max_attempts", { timeout: 30_000 }, async () => {
    const calls = new Map<string, number>();
    const cleanups = new Map<string, unknown[]>();
    const count = (id: string) => calls.set(id, (calls.get(id) ?? 0) + 1);
    const cleanup = async (ctx: { job: JobRow }, err: unknown) => {
      cleanups.set(ctx.job.id, [...(cleanups.get(ctx.job.id) ?? []), err]);
    };
    await startWorker(
      {
        "test.flaky": {
          async run(ctx) {
            count(ctx.job.id);
            if (ctx.job.attempts < 3) throw new TransientError(`connection dropped on attempt ${ctx.job.attempts}`);
          },
          cleanup,
        },
        "test.broken": {
          async run(ctx) {
            count(ctx.job.id);
            throw new PermanentError("the dump is not a PostgreSQL archive");
          },
          cleanup,
        },
        "test.doomed": {
          async run(ctx) {
            count(ctx.job.id);
            throw new TransientError(`server restarting (attempt ${ctx.job.attempts})`);
          },
          cleanup,
        },
      },
      { retryBaseMs: 50, pollIntervalMs: 25 },
    );
    const flaky = await enqueue({ type: "test.flaky" });
    const broken = await enqueue({ type: "test.broken" });
    const doomed = await enqueue({ type: "test.doomed", maxAttempts: 2 });

    // While it waits for its retry, the flaky job says why.
    const retrying = await waitFor("the flaky job to record a transient failure", async () => {
      const j = await getJob(flaky.id);
      return j.retry_classification === "transient" || j.state === "succeeded" ? j : null;
    });
    if (retrying.state !== "succeeded") expect(retrying.error).toMatch(/connection dropped on attempt/);

    const flakyDone = await waitForState(flaky.id, ["succeeded", "failed"]);
    expect(flakyDone).toMatchObject({ state: "succeeded", attempts: 3, retry_classification: null, error: null });
    expect(calls.get(flaky.id)).toBe(3);
    expect(cleanups.has(flaky.id)).toBe(false);

    const brokenDone = await waitForState(broken.id, ["succeeded", "failed"]);
    expect(brokenDone).toMatchObject({ state: "failed", attempts: 1, retry_classification: "permanent", error: "the dump is not a PostgreSQL archive" });
    expect(brokenDone.completed_at).not.toBeNull();
    expect(cleanups.get(broken.id)).toHaveLength(1);
    expect(cleanups.get(broken.id)![0]).toBeInstanceOf(PermanentError);

    const doomedDone = await waitForState(doomed.id, ["succeeded", "failed"]);
    expect(doomedDone).toMatchObject({ state: "failed", attempts: 2, retry_classification: "transient", error: "server restarting (attempt 2)" });
    expect(cleanups.get(doomed.id)).toHaveLength(1);

    // Nothing runs again afterwards.
    await sleep(500);
    expect([calls.get(flaky.id), calls.get(broken.id), calls.get(doomed.id)]).toEqual([3, 1, 2]);
    expect(cleanups.get(broken.id)).toHaveLength(1);
    expect(cleanups.get(doomed.id)).toHaveLength(1);
    expect((await getJob(doomed.id)).state).toBe("failed");
  });

  it("records a failed tool run's exit code and stderr with the password scrubbed everywhere", { timeout: 30_000 }, async () => {
    const binDir = inject("pgBinDir");
    const psql = fs.existsSync(path.join(binDir, "psql")) ? path.join(binDir, "psql") : "psql";
    const password = decodeURIComponent(new URL(adminUrl).password);
    expect(password.length).toBeGreaterThan(8);
    const log = memoryLogger();
    await startWorker(
      {
        // A real password-bearing URL to a database that does not exist; the handler
        // (like a careless one would) also names the URL in its own error.
        "test.psql-wrong-db": {
          async run(ctx) {
            const url = withDatabase(adminUrl, "no_such_database");
            ctx.addSecret(password);
            try {
              await ctx.runTool(psql, ["-X", "-v", "ON_ERROR_STOP=1", "-c", "SELECT 1", url]);
            } catch (err) {
              throw new PermanentError(`psql against ${url} (password ${password}) failed: ${(err as Error).message}`);
            }
          },
        },
        // A malformed URL that psql echoes back whole, password included.
        "test.psql-echo": {
          async run(ctx) {
            ctx.addSecret(password);
            await ctx.runTool(psql, ["-X", "-c", "SELECT 1", `postgresql://capydb_admin:${encodeURIComponent(password)}@[::1/postgres`]);
          },
        },
      },
      { log },
    );
    const wrongDb = await enqueue({ type: "test.psql-wrong-db" });
    const echo = await enqueue({ type: "test.psql-echo" });

    const a = await waitForState(wrongDb.id, ["succeeded", "failed"]);
    expect(a).toMatchObject({ state: "failed", attempts: 1, retry_classification: "permanent" });
    expect(a.last_exit_code).not.toBe(0);
    expect(a.last_exit_code).not.toBeNull();
    expect(a.last_stderr).toMatch(/database "no_such_database" does not exist/);
    expect(a.error).toMatch(/psql exited with code \d+: .*database "no_such_database" does not exist/);

    const b = await waitForState(echo.id, ["succeeded", "failed"]);
    expect(b.state).toBe("failed");
    expect(b.last_exit_code).not.toBe(0);
    expect(b.last_stderr).toMatch(/IPv6 host address in URI/);
    expect(b.last_stderr).toContain("postgresql://capydb_admin:");

    for (const job of [a, b]) {
      const row = JSON.stringify(job);
      expect(row).not.toContain(password);
      expect(row).not.toContain(encodeURIComponent(password));
    }
    const { rows } = await db.query("SELECT count(*)::int AS n FROM jobs WHERE position($1 in jobs::text) > 0 OR position($2 in jobs::text) > 0", [
      password,
      encodeURIComponent(password),
    ]);
    expect(rows[0].n).toBe(0);
    expect(log.lines.join("\n")).not.toContain(password);
  });

  it("neither completes nor fails a job whose lease was lost while its handler ran", { timeout: 30_000 }, async () => {
    const started = { finish: deferred(), fail: deferred() };
    const release = deferred();
    const aborted = deferred<string>();
    const calls = new Map<string, number>();
    const count = (id: string) => calls.set(id, (calls.get(id) ?? 0) + 1);
    const worker = await startWorker(
      {
        // Returns as soon as the test lets it: completion itself must notice the lost lease.
        "test.lease-finish": {
          async run(ctx) {
            count(ctx.job.id);
            started.finish.resolve();
            await release.promise;
          },
        },
        // Throws as soon as the test lets it: recording the failure must notice too.
        "test.lease-fail": {
          async run(ctx) {
            count(ctx.job.id);
            started.fail.resolve();
            await release.promise;
            throw new PermanentError("gave up");
          },
        },
        // Keeps its lease: finishes alongside the others and must succeed.
        "test.lease-keep": {
          async run(ctx) {
            count(ctx.job.id);
            await release.promise;
          },
        },
        // Waits for the worker to notice (at its next renewal) and abort it.
        "test.lease-abort": {
          async run(ctx) {
            count(ctx.job.id);
            await sleep(8000, undefined, { signal: ctx.signal }).then(
              () => {},
              () => aborted.resolve(ctx.job.id),
            );
          },
        },
      },
      { leaseSeconds: 3, concurrency: 4 },
    );
    const jobs = [await enqueue({ type: "test.lease-finish" }), await enqueue({ type: "test.lease-fail" }), await enqueue({ type: "test.lease-abort" })];
    const ids = jobs.map((j) => j.id);
    const kept = await enqueue({ type: "test.lease-keep" });
    await Promise.all([started.finish.promise, started.fail.promise]);
    await waitFor("all four jobs to run", async () => {
      const { rows } = await db.query("SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND state = 'running'", [[...ids, kept.id]]);
      return rows[0].n === 4;
    });

    // Another worker "rescued" the jobs: their lease tokens change under the handlers
    // (with a long lease, so no rescue of ours interferes).
    const stolen = await db.query<{ id: string; lease_token: string }>(
      "UPDATE jobs SET lease_token = gen_random_uuid(), lease_expires_at = now() + interval '1 hour' WHERE id = ANY($1) RETURNING id, lease_token",
      [ids],
    );
    const tokenOf = new Map(stolen.rows.map((r) => [r.id, r.lease_token]));
    release.resolve();

    const abortedId = await Promise.race([aborted.promise, sleep(8000).then(() => "the handler was never aborted")]);
    expect(abortedId).toBe(jobs[2].id);
    await waitFor("the worker to let go of all three jobs", () => worker.activeJobs === 0, 10_000);
    for (const id of ids) {
      const job = await getJob(id);
      expect(job, id).toMatchObject({
        state: "running",
        lease_token: tokenOf.get(id),
        completed_at: null,
        error: null,
        retry_classification: null,
        attempts: 1,
      });
    }
    expect(ids.map((id) => calls.get(id))).toEqual([1, 1, 1]);
    expect(await getJob(kept.id)).toMatchObject({ state: "succeeded", attempts: 1 });
    expect(calls.get(kept.id)).toBe(1);
  });

  it("a job whose worker died on its last attempt gets its cleanup run once, then fails, without running again", async () => {
    const type = "test.last-attempt";
    const job = await enqueue({ type, maxAttempts: 1 });
    // A worker claims it with a one-second lease and dies (it never completes, fails or renews).
    const [claimed] = await claimJobs(db, "worker-that-died", 1, 1, [type]);
    expect(claimed).toMatchObject({ id: job.id, state: "running", attempts: 1 });
    const calls: string[] = [];
    await startWorker({
      [type]: {
        async run() {
          calls.push("run");
        },
        async cleanup(ctx, error) {
          calls.push(`cleanup: ${(error as Error).message}`);
          expect(ctx.job.cleanup_only).toBe(true);
        },
      },
    });
    const failed = await waitForState(job.id, ["failed", "succeeded"], 20_000);
    expect(failed).toMatchObject({
      state: "failed",
      attempts: 1,
      error: "the worker running this job stopped (lease expired) on its last attempt",
      lease_token: null,
    });
    expect(calls).toEqual(["cleanup: the worker running this job stopped (lease expired) on its last attempt"]);
  });

  it("completes a batch of jobs only where each lease still holds", async () => {
    const type = "test.batch-complete";
    const jobs = [await enqueue({ type }), await enqueue({ type }), await enqueue({ type, lockedResource: "preview:batch" })];
    const claimed = await claimJobs(db, "batch-test", 10, 30, [type]);
    expect(claimed.map((j) => j.id).sort()).toEqual(jobs.map((j) => j.id).sort());
    const stolen = claimed.find((j) => j.id === jobs[0].id)!;
    await db.query("UPDATE jobs SET lease_token = gen_random_uuid() WHERE id = $1", [stolen.id]);
    const done = await completeJobs(
      db,
      claimed.map((j) => ({ jobId: j.id, leaseToken: j.lease_token! })),
    );
    expect([...done].sort()).toEqual([jobs[1].id, jobs[2].id].sort());
    expect((await getJob(jobs[0].id)).state).toBe("running");
    expect((await getJob(jobs[1].id)).state).toBe("succeeded");
    expect((await getJob(jobs[2].id)).state).toBe("succeeded");
    const { rows } = await db.query("SELECT job_id FROM job_resource_locks WHERE resource = 'preview:batch'");
    expect(rows).toEqual([{ job_id: null }]);
  });

  it("hands a long job back to the queue on stop, and another worker completes it", { timeout: 30_000 }, async () => {
    const long = await enqueue({ type: "test.long" });
    const short = await enqueue({ type: "test.short" });
    const longStarted = deferred();
    const shortStarted = deferred();
    const first = await startWorker({
      "test.long": {
        async run(ctx) {
          longStarted.resolve();
          await sleep(60_000, undefined, { signal: ctx.signal });
        },
      },
      "test.short": {
        async run() {
          shortStarted.resolve();
          await sleep(300);
        },
      },
    });
    await longStarted.promise;
    await shortStarted.promise;
    // The short job finishes within the grace period; the long one is released.
    await stopWorker(first, 1000);
    expect(await getJob(short.id)).toMatchObject({ state: "succeeded", attempts: 1 });
    const released = await getJob(long.id);
    expect(released).toMatchObject({ state: "pending", attempts: 0, lease_token: null, lease_expires_at: null, completed_at: null });

    const ran: string[] = [];
    const second = await startWorker({
      "test.long": {
        async run(ctx) {
          ran.push(ctx.job.id);
        },
      },
    });
    const done = await waitForState(long.id, ["succeeded", "failed"], 10_000);
    expect(done).toMatchObject({ state: "succeeded", attempts: 1, claimed_by: second.id });
    expect(ran).toEqual([long.id]);
  });

  it("runs each of 200 jobs exactly once across two workers", { timeout: 45_000 }, async () => {
    const type = "test.noop";
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push((await enqueue({ type })).id);
    const invocations = new Map<string, string[]>();
    const handler = (name: string): JobHandler => ({
      async run(ctx) {
        invocations.set(ctx.job.id, [...(invocations.get(ctx.job.id) ?? []), name]);
        await sleep(1);
      },
    });
    const [a, b] = await Promise.all([
      startWorker({ [type]: handler("a") }, { workerId: "worker-a", concurrency: 8, pollIntervalMs: 20 }),
      startWorker({ [type]: handler("b") }, { workerId: "worker-b", concurrency: 8, pollIntervalMs: 20 }),
    ]);
    await waitFor(
      "all 200 jobs to finish",
      async () => {
        const { rows } = await db.query("SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND state <> 'pending' AND state <> 'running'", [ids]);
        return rows[0].n === ids.length;
      },
      30_000,
    );
    await sleep(200);
    const { rows } = await db.query("SELECT state, attempts, claimed_by, count(*)::int AS n FROM jobs WHERE id = ANY($1) GROUP BY 1, 2, 3 ORDER BY 3", [ids]);
    expect(rows.map((r) => [r.state, r.attempts])).toEqual(rows.map(() => ["succeeded", 1]));
    expect(rows.map((r) => r.claimed_by)).toEqual([a.id, b.id]);
    expect(invocations.size).toBe(ids.length);
    for (const id of ids) expect(invocations.get(id), id).toHaveLength(1);
    // Each job ran on the worker the row says claimed it.
    const { rows: owners } = await db.query<{ id: string; claimed_by: string }>("SELECT id, claimed_by FROM jobs WHERE id = ANY($1)", [ids]);
    for (const o of owners) expect(`worker-${invocations.get(o.id)![0]}`).toBe(o.claimed_by);
  });
});

/** The default limits with the given per-type runtimes (and other fields) in place. */
function limitsWith(maxRuntimeByType: Record<string, number>, extra: Partial<JobLimits> = {}): JobLimits {
  return { ...DEFAULT_JOB_LIMITS, maxRuntimeByType, ...extra };
}

const runtimeError = (type: string, seconds: number) =>
  new RegExp(
    `^${type.replace(/\./g, "\\.")} exceeded its maximum runtime of ${seconds} s and was stopped \\(CAPYDB_JOB_MAX_RUNTIME_SECONDS, or CAPYDB_JOB_MAX_RUNTIME`,
  );

describe("maximum runtime", () => {
  it(
    "stops a job at its maximum runtime: the tool it spawned is killed, its cleanup runs, it fails for good with a clear error",
    { timeout: 30_000 },
    async () => {
      const type = "test.runtime-tool";
      const runs: string[] = [];
      const cleanups: Array<{ error: unknown; signalAborted: boolean }> = [];
      let toolPid = 0;
      await startWorker(
        {
          [type]: {
            async run(ctx) {
              runs.push(ctx.job.id);
              // As pg_dump is spawned: with the job's signal.
              const tool = spawn("sleep", ["60"], { signal: ctx.signal, stdio: "ignore" });
              tool.on("error", () => {});
              toolPid = tool.pid!;
              await new Promise((resolve) => tool.on("close", resolve));
              throw new TransientError("sleep was stopped");
            },
            async cleanup(ctx, error) {
              cleanups.push({ error, signalAborted: ctx.signal.aborted });
            },
          },
          // Under the default runtime (60 s here): runs to its end.
          "test.runtime-default": {
            async run(ctx) {
              await sleep(1500, undefined, { signal: ctx.signal });
            },
          },
        },
        { limits: limitsWith({ [type]: 1 }, { maxRuntimeSeconds: 60 }) },
      );
      const job = await enqueue({ type });
      const other = await enqueue({ type: "test.runtime-default" });

      const failed = await waitForState(job.id, ["failed", "succeeded"], 15_000);
      expect(failed).toMatchObject({ state: "failed", attempts: 1, retry_classification: "permanent", max_runtime_seconds: 1, lease_token: null });
      expect(failed.error).toMatch(runtimeError(type, 1));
      const ranMs = failed.completed_at!.getTime() - failed.started_at!.getTime();
      expect(ranMs).toBeGreaterThanOrEqual(1000);
      expect(ranMs).toBeLessThan(5000);
      expect(failed.run_seconds).toBeGreaterThanOrEqual(1);
      expect(() => process.kill(toolPid, 0), "the spawned tool is still alive").toThrow();
      expect(cleanups).toHaveLength(1);
      expect(cleanups[0].error).toBeInstanceOf(MaxRuntimeExceeded);
      // The cleanup gets a signal of its own, not the aborted one.
      expect(cleanups[0].signalAborted).toBe(false);

      expect(await waitForState(other.id, ["failed", "succeeded"])).toMatchObject({ state: "succeeded", max_runtime_seconds: 60 });
      // A permanent failure: never run again.
      await sleep(500);
      expect(runs).toEqual([job.id]);
    },
  );

  it(
    "gives up on a handler stuck where its signal cannot reach (a lock wait in SQL): the job fails on time, its cleanup runs, its slot takes the next job",
    { timeout: 30_000 },
    async () => {
      const lockKey = 4_242_001;
      const holder = new pg.Client({ connectionString: controlUrl });
      await holder.connect();
      await holder.query("SELECT pg_advisory_lock($1)", [lockKey]);
      const log = memoryLogger();
      const cleanups: unknown[] = [];
      const ran: string[] = [];
      const stuckReturned = deferred();
      try {
        const worker = await startWorker(
          {
            "test.stuck": {
              async run() {
                // Its own connection, no query timeout: it waits as long as the lock is held, whatever the signal says.
                const c = new pg.Client({ connectionString: controlUrl });
                await c.connect();
                try {
                  await c.query("SELECT pg_advisory_lock($1)", [lockKey]);
                  await c.query("SELECT pg_advisory_unlock($1)", [lockKey]);
                } finally {
                  await c.end();
                  stuckReturned.resolve();
                }
              },
              async cleanup(_ctx, error) {
                cleanups.push(error);
              },
            },
            "test.after-stuck": {
              async run(ctx) {
                ran.push(ctx.job.id);
              },
            },
          },
          { concurrency: 1, abortGraceMs: 500, limits: limitsWith({ "test.stuck": 1 }), log },
        );
        const stuck = await enqueue({ type: "test.stuck" });
        await waitForState(stuck.id, ["running"]);
        const next = await enqueue({ type: "test.after-stuck" });

        const failed = await waitForState(stuck.id, ["failed", "succeeded"], 10_000);
        expect(failed).toMatchObject({ state: "failed", retry_classification: "permanent" });
        expect(failed.error).toMatch(runtimeError("test.stuck", 1));
        // One second of runtime, half a second of grace, and the cleanup: not "whenever the lock goes".
        expect(failed.completed_at!.getTime() - failed.started_at!.getTime()).toBeLessThan(5000);
        expect(cleanups).toHaveLength(1);
        expect(cleanups[0]).toBeInstanceOf(MaxRuntimeExceeded);

        // The worker's only slot is free again: the next job runs while the stuck call still waits.
        expect(await waitForState(next.id, ["failed", "succeeded"], 10_000)).toMatchObject({ state: "succeeded" });
        expect(ran).toEqual([next.id]);
        expect(worker.abandonedHandlers).toEqual([expect.objectContaining({ jobId: stuck.id, type: "test.stuck", phase: "run" })]);
        expect(log.lines.join("\n")).toMatch(/a job handler did not return within 500 ms of being stopped/);

        // Let the stuck call go: it returns, is forgotten, and changes nothing on its failed job.
        await holder.query("SELECT pg_advisory_unlock($1)", [lockKey]);
        await stuckReturned.promise;
        await waitFor("the abandoned handler to be forgotten", () => worker.abandonedHandlers.length === 0);
        expect(await getJob(stuck.id)).toMatchObject({ state: "failed", error: failed.error, completed_at: failed.completed_at, attempts: 1 });
        expect(log.lines.join("\n")).toMatch(/an abandoned job handler returned at last/);
      } finally {
        await holder.end().catch(() => {});
      }
    },
  );

  it("holds a job whose worker died to the runtime it had left, and only cleans up one that has none left", { timeout: 30_000 }, async () => {
    const spent = "test.rescued-spent";
    const partial = "test.rescued-partial";
    const limits = limitsWith({ [spent]: 1, [partial]: 3 });
    const a = await enqueue({ type: spent });
    const b = await enqueue({ type: partial });
    // A worker claims both with a one-second lease and dies (never renews, completes or fails).
    const claimed = await claimJobs(db, "worker-that-died", 10, 1, [spent, partial], limits);
    expect(claimed.map((j) => [j.id, j.max_runtime_seconds, j.run_seconds]).sort()).toEqual(
      [
        [a.id, 1, 0],
        [b.id, 3, 0],
      ].sort(),
    );

    const calls: string[] = [];
    let spentCleanupError: unknown = null;
    let partialRanMs = 0;
    await startWorker(
      {
        [spent]: {
          async run() {
            calls.push("spent: run");
          },
          async cleanup(_ctx, error) {
            calls.push("spent: cleanup");
            spentCleanupError = error;
          },
        },
        [partial]: {
          async run(ctx) {
            const t0 = Date.now();
            try {
              await sleep(30_000, undefined, { signal: ctx.signal });
            } finally {
              partialRanMs = Date.now() - t0;
            }
          },
          async cleanup() {
            calls.push("partial: cleanup");
          },
        },
      },
      { limits, leaseSeconds: 2 },
    );

    // The dead attempt ran its whole one-second lease: nothing is left of a one-second runtime.
    const spentDone = await waitForState(a.id, ["failed", "succeeded"], 15_000);
    expect(spentDone).toMatchObject({ state: "failed", retry_classification: "permanent" });
    expect(spentDone.error).toMatch(runtimeError(spent, 1));
    expect(spentDone.run_seconds).toBeGreaterThanOrEqual(0.9);

    // Of three seconds, what the dead attempt left (it counts until rescued, 1 to 1.7 s here): not three more.
    const partialDone = await waitForState(b.id, ["failed", "succeeded"], 15_000);
    expect(partialDone).toMatchObject({ state: "failed", retry_classification: "permanent" });
    expect(partialDone.error).toMatch(runtimeError(partial, 3));
    expect(partialRanMs).toBeGreaterThan(1000);
    expect(partialRanMs).toBeLessThan(2900);
    expect(partialDone.run_seconds).toBeGreaterThanOrEqual(2.9);
    // The spent one's run() never ran again.
    expect(calls.sort()).toEqual(["partial: cleanup", "spent: cleanup"]);
    expect(spentCleanupError).toBeInstanceOf(MaxRuntimeExceeded);
  });
});

describe("per-organization cap", () => {
  it("gives an organization only its free slots, reaches the jobs queued behind a capped organization, and leaves jobs without one uncapped", async () => {
    const type = "test.org-cap";
    const limits = limitsWith({}, { maxRunningPerOrganization: 2 });
    const orgA: JobRow[] = [];
    for (let i = 0; i < 5; i++) orgA.push(await enqueue({ type, organizationId: "org_cap_a" }));
    const orgB = [await enqueue({ type, organizationId: "org_cap_b" }), await enqueue({ type, organizationId: "org_cap_b" })];
    const platform = [await enqueue({ type }), await enqueue({ type }), await enqueue({ type })];

    const first = await claimJobs(db, "cap-test", 10, 30, [type], limits);
    expect(first.map((j) => j.id).sort()).toEqual([orgA[0], orgA[1], ...orgB, ...platform].map((j) => j.id).sort());
    expect(await claimJobs(db, "cap-test", 10, 30, [type], limits)).toEqual([]);

    // Older jobs of a capped organization do not stand in the way of newer ones of others.
    const later = [await enqueue({ type }), await enqueue({ type, organizationId: "org_cap_c" })];
    const second = await claimJobs(db, "cap-test", 2, 30, [type], limits);
    expect(second.map((j) => j.id).sort()).toEqual(later.map((j) => j.id).sort());

    // A job inserted by another writer (an older server during a deploy) is claimed, and capped, all the same.
    await db.query("INSERT INTO jobs (id, type, organization_id) VALUES ($1, $2, 'org_cap_d'), ($3, $2, 'org_cap_d'), ($4, $2, 'org_cap_d')", [
      newId("job"),
      type,
      newId("job"),
      newId("job"),
    ]);
    expect(await claimJobs(db, "cap-test", 10, 30, [type], limits)).toEqual([
      expect.objectContaining({ organization_id: "org_cap_d" }),
      expect.objectContaining({ organization_id: "org_cap_d" }),
    ]);

    // A finished job frees its organization's slot, for the oldest of its jobs.
    const done = await completeJobs(db, [
      { jobId: first.find((j) => j.id === orgA[0].id)!.id, leaseToken: first.find((j) => j.id === orgA[0].id)!.lease_token! },
    ]);
    expect([...done]).toEqual([orgA[0].id]);
    expect((await claimJobs(db, "cap-test", 10, 30, [type], limits)).map((j) => j.id)).toEqual([orgA[2].id]);
  });
});

describe("job limit settings", () => {
  it("reads the maximum runtimes and the per-organization cap, and refuses what an operator got wrong", () => {
    expect(loadConfig({})).toMatchObject({ jobMaxRuntimeSeconds: 21_600, jobMaxRuntimeByType: {}, jobMaxRunningPerOrganization: 2 });
    expect(
      loadConfig({
        CAPYDB_JOB_MAX_RUNTIME_SECONDS: "900",
        CAPYDB_JOB_MAX_RUNTIME: " import.run=3600 , backup.create=7200",
        CAPYDB_JOB_MAX_RUNNING_PER_ORG: "3",
      }),
    ).toMatchObject({
      jobMaxRuntimeSeconds: 900,
      jobMaxRuntimeByType: { "import.run": 3600, "backup.create": 7200 },
      jobMaxRunningPerOrganization: 3,
    });
    expect(() => loadConfig({ CAPYDB_JOB_MAX_RUNTIME: "import.run" })).toThrow(/CAPYDB_JOB_MAX_RUNTIME: "import.run" must be job.type=seconds/);
    expect(() => loadConfig({ CAPYDB_JOB_MAX_RUNTIME: "import.run=0" })).toThrow(/from 1 to 604800/);
    expect(() => loadConfig({ CAPYDB_JOB_MAX_RUNTIME: "import.run=1h" })).toThrow(/must be job.type=seconds/);
    expect(() => parseMaxRuntimeOverrides("import.run=60,import.run=70")).toThrow(/import.run is given twice/);
    expect(() => loadConfig({ CAPYDB_JOB_MAX_RUNTIME_SECONDS: "0" })).toThrow(/CAPYDB_JOB_MAX_RUNTIME_SECONDS must be an integer between 1 and 604800/);
    expect(() => loadConfig({ CAPYDB_JOB_MAX_RUNTIME_SECONDS: "9999999" })).toThrow(/CAPYDB_JOB_MAX_RUNTIME_SECONDS/);
    expect(() => loadConfig({ CAPYDB_JOB_MAX_RUNNING_PER_ORG: "0" })).toThrow(/CAPYDB_JOB_MAX_RUNNING_PER_ORG must be an integer between 1/);
    // A per-type runtime for a type no worker runs (a typo) stops the worker from starting.
    expect(
      () =>
        new Worker({
          db,
          databaseUrl: controlUrl,
          concurrency: 1,
          leaseSeconds: 10,
          retryBaseMs: 50,
          log: memoryLogger(),
          handlers: { "import.run": { async run() {} } },
          limits: limitsWith({ "imports.run": 60 }),
        }),
    ).toThrow(/CAPYDB_JOB_MAX_RUNTIME names job types no worker runs: imports\.run \(known: import\.run\)/);
  });
});
