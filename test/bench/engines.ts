// The two data-plane engines side by side (CAPYDB_DATA_PLANE_ENGINE = shared | instances),
// measured through the API of a real CapyDB server in one run, on one filesystem:
//   - shared: every database in the server's embedded cluster; a preview is a
//     CREATE DATABASE ... TEMPLATE clone of a per-project snapshot database (the first one
//     fills the snapshot with a logical pg_dump | pg_restore), a spare clone made in the
//     background is taken by a rename;
//   - instances: production and every preview are PostgreSQL instances of their own under
//     CAPYDB_INSTANCES_DIR; a preview is a reflink clone of a file-level snapshot.
//
//   npx tsx test/bench/engines.ts          (as root: the filesystem is a loop-mounted XFS image)
//   BENCH_SIZES=1,5,10 npx tsx test/bench/engines.ts    (the issue's table; about an hour)
//
// Knobs: BENCH_SIZES (GB, comma-separated, default 1; pgbench scale ≈ 68 per GB),
// BENCH_ENGINES (shared,instances: one alone when the disk cannot hold the shared engine's
// copies at the largest size),
// BENCH_RUNS (3), BENCH_MAX_PREVIEWS (50, the instance engine's capacity test at 1 GB),
// BENCH_SETTLE_MS (1000).
//
// For each engine, one server is started (lib.ts's startServer) with its data dir AND the
// instances dir on one XFS image with reflink=1, so both engines' disk figures come from the
// same filesystem. For each size a project is made and filled with `pgbench -i -s N` through
// its own connection URI (as the tenant), then:
//   - first preview: POST → job succeeded (polled every 20 ms) → GET connection-uri → a new
//     connection answering SELECT 1 (it takes the project's first snapshot);
//   - later creates, resets, resets with `fresh: true` (a new snapshot): BENCH_RUNS each, same
//     "ready" definition, medians; before each, the project's background jobs (the shared
//     engine's spare refills) are waited for, then `sync -f` and a pause;
//   - disk of a new preview before it writes: the statfs used bytes of the mount (after
//     `sync -f`) before a create and once it is ready, then again once the background jobs it
//     started are done (the shared engine's spare refill), as % of pg_database_size;
//   - cutover (POST execute as platform admin → promote job succeeded) and rollback, one each:
//     the execute job takes a verified pre-cutover backup (pg_dump + restore) first; the swap
//     is read as the job's completed_at − the backup's verified_at (server clock);
//   - instance engine at 1 GB only: previews created one by one up to BENCH_MAX_PREVIEWS,
//     then the resident memory of every instance's processes (ps rss, and PSS from
//     /proc/<pid>/smaps_rollup, which splits shared memory between its users) per instance,
//     and os.freemem().
// At the end the servers are stopped, every instance still running under the mount is
// stopped, and the image is unmounted. Prints figures, asserts nothing.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { CapyClient, type Job } from "@capydb/api";
import { reflinkDir, type ReflinkDir } from "../harness/reflink.js";
import {
  envInt,
  fmt,
  freePort,
  percentile,
  printHeader,
  printTable,
  randomSuffix,
  registerCleanup,
  runIfMain,
  sleep,
  startServer,
  type BenchServer,
  benchLog as log,
  firstSelect,
  pgBinDir as binDir,
  stopInstances,
  settleProject,
  waitProjectIdle,
} from "./lib.js";

const POLL_MS = 20;
const JOB_TIMEOUT_MS = 60 * 60_000;
/** pgbench -i -s N makes ≈ 15 MB per scale unit: 68 per GB. */
const SCALE_PER_GB = 68;
const SETTLE_MS = envInt("BENCH_SETTLE_MS", 1000);
const RUNS = envInt("BENCH_RUNS", 3);
const MAX_PREVIEWS = envInt("BENCH_MAX_PREVIEWS", 50);
/** The capacity test runs at this size only (GB). */
const CAPACITY_AT_GB = 1;
const MB = 1024 * 1024;

type Engine = "shared" | "instances";
const ENGINES = enginesFromEnv();

/** BENCH_ENGINES: which engines to run (default both, side by side). */
function enginesFromEnv(): Engine[] {
  const raw = process.env.BENCH_ENGINES ?? "shared,instances";
  const engines = raw.split(",").map((e) => e.trim());
  if (!engines.length || engines.some((e) => e !== "shared" && e !== "instances")) {
    throw new Error(`BENCH_ENGINES must be shared, instances or both (comma-separated), got "${raw}"`);
  }
  return engines as Engine[];
}

function sizesFromEnv(): number[] {
  const raw = process.env.BENCH_SIZES;
  if (raw === undefined || raw === "") return [1];
  const list = raw.split(",").map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`BENCH_SIZES must be a comma-separated list of sizes in GB (positive integers), got "${raw}"`);
  }
  return [...new Set(list)].sort((a, b) => a - b);
}

const median = (values: readonly number[]) => percentile(values, 50);
const sec = (msValue: number) => fmt(msValue / 1000, 2);

// ---------------------------------------------------------------- figures

interface Capacity {
  /** Previews live at the end (production's instance not counted). */
  previews: number;
  /** Why the next create was refused or failed (null: BENCH_MAX_PREVIEWS reached). */
  stoppedBy: string | null;
  /** Running instances (production included) whose memory was read. */
  instances: number;
  rssKb: number;
  pssKb: number;
  freeBytesBefore: number;
  freeBytesAfter: number;
  /** The creates' times (POST → SELECT 1, ms) during the capacity test. */
  createMs: number[];
}

interface Figures {
  engine: Engine;
  gb: number;
  scale: number;
  databaseBytes: number;
  loadSeconds: number;
  firstPreviewMs: number;
  createMs: number[];
  resetMs: number[];
  freshResetMs: number[];
  /** statfs used-bytes delta from before a create to the preview ready. */
  diskAtReady: number[];
  /** ... and to the background jobs it started done (the shared engine's spare refill). */
  diskSettled: number[];
  cutoverMs: number;
  /** The promote job's claimed_at → the pre-cutover backup's verified_at (backup + verification). */
  cutoverBackupMs: number;
  /** The backup's verified_at → the promote job's completed_at: the swap itself. */
  cutoverSwapMs: number;
  rollbackMs: number;
  capacity: Capacity | null;
  /** What went wrong, when a step failed: the figures after it are missing. */
  error: string | null;
}

function newFigures(engine: Engine, gb: number): Figures {
  return {
    engine,
    gb,
    scale: gb * SCALE_PER_GB,
    databaseBytes: NaN,
    loadSeconds: NaN,
    firstPreviewMs: NaN,
    createMs: [],
    resetMs: [],
    freshResetMs: [],
    diskAtReady: [],
    diskSettled: [],
    cutoverMs: NaN,
    cutoverBackupMs: NaN,
    cutoverSwapMs: NaN,
    rollbackMs: NaN,
    capacity: null,
    error: null,
  };
}

// ---------------------------------------------------------------- small helpers

/** One query as the tenant through its URI. */
async function queryOnce<T extends pg.QueryResultRow>(uri: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: uri, application_name: "capydb-bench" });
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Runs a process to completion; rejects with its stderr on a non-zero exit. */
function run(cmd: string, args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(cmd)} exited with ${code}: ${stderr.trim()}`))));
  });
}

/** `pgbench -i -s N` as the project's role through its connection URI (server-side data generation); seconds. */
async function loadPgbench(uri: string, scale: number): Promise<number> {
  const t0 = performance.now();
  await run(path.join(binDir(), "pgbench"), ["-i", "-s", String(scale), "--init-steps=dtGvp", uri], {
    // The project's role has statement_timeout = 30s by default: a load of a GB takes longer.
    PGOPTIONS: "-c statement_timeout=0 -c idle_in_transaction_session_timeout=0",
  });
  return (performance.now() - t0) / 1000;
}

/** Runs a command, ignoring its failure (best-effort housekeeping). */
function spawnSyncQuiet(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
  } catch {
    // not available: nothing lost but space
  }
}

/** Bytes in use on the filesystem of `dir`, after `sync -f` wrote its dirty data out. */
async function usedBytes(dir: string): Promise<number> {
  execFileSync("sync", ["-f", dir], { stdio: "ignore" });
  const st = await fs.promises.statfs(dir);
  return (st.blocks - st.bfree) * st.bsize;
}

/** Resident memory of a process and its children (kB): ps rss, and PSS from smaps_rollup. */
function memoryOf(postmaster: number): { rssKb: number; pssKb: number } {
  let out = "";
  try {
    out = execFileSync("ps", ["-o", "pid=,rss=", "--ppid", String(postmaster), "-p", String(postmaster)], { encoding: "utf8" });
  } catch {
    return { rssKb: 0, pssKb: 0 };
  }
  let rssKb = 0;
  let pssKb = 0;
  for (const line of out.split("\n")) {
    const [pid, rss] = line.trim().split(/\s+/).map(Number);
    if (!(pid > 0)) continue;
    rssKb += rss || 0;
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
      pssKb += m ? Number(m[1]) : 0;
    } catch {
      // gone meanwhile
    }
  }
  return { rssKb, pssKb };
}

/** The postmaster pids of the instances running under an instances dir (data/<name>/postmaster.pid). */
function runningInstances(instancesDir: string): number[] {
  const pids: number[] = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync(path.join(instancesDir, "data"));
  } catch {
    return pids;
  }
  for (const name of names) {
    try {
      const pid = Number(fs.readFileSync(path.join(instancesDir, "data", name, "postmaster.pid"), "utf8").split("\n")[0]);
      if (pid > 0) {
        process.kill(pid, 0);
        pids.push(pid);
      }
    } catch {
      // not running
    }
  }
  return pids;
}

// ---------------------------------------------------------------- one engine's server

class Session {
  readonly admin: CapyClient;
  readonly org: CapyClient;
  private readonly reported = new Set<string>();

  constructor(
    readonly server: BenchServer,
    readonly mount: string,
    orgKey: string,
  ) {
    this.admin = new CapyClient({ baseUrl: server.url, apiKey: server.adminKey, retries: 0 });
    this.org = new CapyClient({ baseUrl: server.url, apiKey: orgKey, retries: 0 });
  }

  async close(): Promise<void> {
    await this.org.close();
    await this.admin.close();
  }

  wait(jobId: string, client: CapyClient = this.org): Promise<Job> {
    return client.waitForJob(jobId, { pollMs: POLL_MS, maxPollMs: POLL_MS, timeoutMs: JOB_TIMEOUT_MS });
  }

  /** Waits until none of the project's jobs is pending or running (spare refills, deletes). */
  idle(projectId: string): Promise<void> {
    return waitProjectIdle(this.org, projectId, this.reported, JOB_TIMEOUT_MS);
  }

  /** Before each measured operation: background work done, dirty data on disk, a pause. */
  settle(projectId: string): Promise<void> {
    return settleProject(() => this.idle(projectId), this.mount, SETTLE_MS);
  }

  /** POST preview → job succeeded → connection URI → first SELECT 1; ms and the preview's id. */
  async createPreview(projectId: string): Promise<{ ms: number; previewId: string }> {
    const t0 = performance.now();
    const { job, preview } = await this.org.createPreview(projectId, {});
    await this.wait(job.id);
    await firstSelect(await this.org.getPreviewConnectionUri(preview.id));
    return { ms: performance.now() - t0, previewId: preview.id };
  }

  /** POST reset → job succeeded → connection URI → first SELECT 1; ms. */
  async resetPreview(previewId: string, fresh: boolean): Promise<number> {
    const t0 = performance.now();
    const { job } = await this.org.resetPreview(previewId, fresh ? { fresh: true } : {});
    await this.wait(job.id);
    await firstSelect(await this.org.getPreviewConnectionUri(previewId));
    return performance.now() - t0;
  }

  async deletePreview(previewId: string): Promise<void> {
    await this.wait((await this.org.deletePreview(previewId)).job.id);
  }
}

/** Starts a server of one engine with its data dir (and instances dir) on the mount. */
async function startEngine(engine: Engine, mount: string, sizes: number[]): Promise<{ server: BenchServer; dataDir: string; instancesDir: string }> {
  const dataDir = path.join(mount, `${engine}-data`);
  fs.mkdirSync(dataDir, { mode: 0o755 });
  fs.chmodSync(dataDir, 0o755); // the postgres OS user walks through it
  const instancesDir = path.join(dataDir, "instances");
  // Enough previews, instances and ports for the capacity test (production and the other
  // sizes' projects on top); the free plan's counts lifted as lib.ts does.
  const maxPreviews = MAX_PREVIEWS + 10;
  const firstPort = await freePort();
  const env: Record<string, string> = {
    // lib.ts puts its own (empty) data dir under os.tmpdir(): this one, on the XFS image, wins.
    CAPYDB_DATA_DIR: dataDir,
    CAPYDB_DATA_PLANE_ENGINE: engine,
    CAPYDB_SNAPSHOT_MAX_AGE_SECONDS: "86400",
    CAPYDB_SNAPSHOT_REFRESH_AHEAD: "false",
    CAPYDB_PREVIEW_LIMIT: String(maxPreviews),
    CAPYDB_PLANS: JSON.stringify({
      free: { projects_per_organization: 100_000, manual_backups_per_project: 100_000, default_max_connections: 5, previews_per_project: maxPreviews },
    }),
  };
  if (engine === "instances") {
    Object.assign(env, {
      CAPYDB_INSTANCES_DIR: instancesDir,
      CAPYDB_INSTANCE_PORTS: `${firstPort}-${firstPort + maxPreviews + sizes.length + 20}`,
      CAPYDB_INSTANCE_MAX: String(maxPreviews + sizes.length + 5),
    });
  }
  const server = await startServer({ env });
  return { server, dataDir, instancesDir };
}

// ---------------------------------------------------------------- one engine, one size

async function measure(s: Session, f: Figures, instancesDir: string): Promise<void> {
  const { job, project } = await s.org.createProject({ name: `bench-${f.engine}-${f.gb}gb-${randomSuffix(2)}` });
  await s.wait(job.id);
  const uri = await s.org.getConnectionUri(project.id);
  log(`${f.engine} ${f.gb} GB: pgbench -i -s ${f.scale} into ${project.database_name} (as ${project.role_name})`);
  f.loadSeconds = await loadPgbench(uri, f.scale);
  f.databaseBytes = Number((await queryOnce<{ n: string }>(uri, "SELECT pg_database_size(current_database())::text AS n"))[0].n);

  // ---- the first preview: it takes the project's first snapshot
  log(`${f.engine} ${f.gb} GB: first preview`);
  await s.settle(project.id);
  const first = await s.createPreview(project.id);
  f.firstPreviewMs = first.ms;

  // ---- later creates (with their disk), resets, fresh resets
  for (let i = 0; i < RUNS; i++) {
    log(`${f.engine} ${f.gb} GB: create, reset, fresh reset ${i + 1}/${RUNS}`);
    await s.settle(project.id);
    const before = await usedBytes(s.mount);
    const made = await s.createPreview(project.id);
    f.createMs.push(made.ms);
    f.diskAtReady.push((await usedBytes(s.mount)) - before);
    await s.idle(project.id);
    f.diskSettled.push((await usedBytes(s.mount)) - before);
    await s.settle(project.id);
    f.resetMs.push(await s.resetPreview(made.previewId, false));
    await s.settle(project.id);
    f.freshResetMs.push(await s.resetPreview(made.previewId, true));
    await s.idle(project.id);
    await s.deletePreview(made.previewId);
  }

  // ---- cutover of the first preview, then its rollback
  log(`${f.engine} ${f.gb} GB: cutover and rollback`);
  const { cutover_request: req } = await s.org.createCutoverRequest(project.id, { preview_id: first.previewId });
  await s.admin.acknowledgeCutoverRequest(req.id, {});
  await s.settle(project.id);
  let t0 = performance.now();
  const started = (await s.admin.executeCutoverRequest(req.id)).cutover_request;
  const promoted = await s.wait(started.promote_job_id!, s.admin);
  f.cutoverMs = performance.now() - t0;
  const done = (await s.admin.getCutoverRequest(req.id)).cutover_request;
  if (done.pre_cutover_backup_id && promoted.claimed_at && promoted.completed_at) {
    const { backup } = await s.admin.getBackup(done.pre_cutover_backup_id);
    if (backup.verified_at) {
      f.cutoverBackupMs = Date.parse(backup.verified_at) - Date.parse(promoted.claimed_at);
      f.cutoverSwapMs = Date.parse(promoted.completed_at) - Date.parse(backup.verified_at);
    }
  }
  await s.settle(project.id);
  t0 = performance.now();
  const rb = (await s.admin.rollbackCutoverRequest(req.id)).cutover_request;
  await s.wait(rb.rollback_job_id!, s.admin);
  f.rollbackMs = performance.now() - t0;

  // ---- how many previews fit (instance engine, 1 GB)
  if (f.engine === "instances" && f.gb === CAPACITY_AT_GB) {
    log(`${f.engine} ${f.gb} GB: previews one by one up to ${MAX_PREVIEWS}`);
    await s.idle(project.id);
    const c: Capacity = {
      previews: 0,
      stoppedBy: null,
      instances: 0,
      rssKb: 0,
      pssKb: 0,
      freeBytesBefore: os.freemem(),
      freeBytesAfter: NaN,
      createMs: [],
    };
    f.capacity = c;
    for (let i = 0; i < MAX_PREVIEWS; i++) {
      try {
        c.createMs.push((await s.createPreview(project.id)).ms);
        c.previews++;
      } catch (err) {
        // the whole message on stderr; the table keeps its first line
        log(`create ${i + 1} failed: ${(err as Error).message}`);
        c.stoppedBy = (err as Error).message.split("\n")[0];
        break;
      }
      if ((i + 1) % 10 === 0) log(`  ${i + 1} previews, free memory ${fmt(os.freemem() / 2 ** 30, 1)} GiB`);
    }
    await sleep(2000); // the instances' start-up work done (autovacuum launcher, checkpointer settled)
    const pids = runningInstances(instancesDir);
    c.instances = pids.length;
    for (const pid of pids) {
      const m = memoryOf(pid);
      c.rssKb += m.rssKb;
      c.pssKb += m.pssKb;
    }
    c.freeBytesAfter = os.freemem();
  }
}

// ---------------------------------------------------------------- the bench

export async function main(): Promise<void> {
  const sizes = sizesFromEnv();
  const knobs = [
    process.env.BENCH_SIZES ? `BENCH_SIZES=${sizes.join(",")}` : "",
    ENGINES.length !== 2 ? `BENCH_ENGINES=${ENGINES.join(",")}` : "",
    RUNS !== 3 ? `BENCH_RUNS=${RUNS}` : "",
    MAX_PREVIEWS !== 50 ? `BENCH_MAX_PREVIEWS=${MAX_PREVIEWS}` : "",
    SETTLE_MS !== 1000 ? `BENCH_SETTLE_MS=${SETTLE_MS}` : "",
  ].filter(Boolean);
  printHeader(
    "Data-plane engines side by side: shared cluster vs an instance per project and per preview",
    `${knobs.length ? knobs.join(" ") + " " : ""}npx tsx test/bench/engines.ts`,
  );

  // One image for both engines, large enough for the shared engine's full copies (project,
  // snapshot, spare, preview, a fresh snapshot, the cutover's verification restore) at the
  // largest size. Sparse: it takes only what is written.
  const largest = sizes[sizes.length - 1];
  const imageGb = Math.max(20, (ENGINES.includes("shared") ? 10 : 4) * largest + 10);
  const hostFree = fs.statfsSync(os.tmpdir());
  const hostFreeGb = (hostFree.bavail * hostFree.bsize) / 2 ** 30;
  if (ENGINES.includes("shared") && hostFreeGb < 7 * largest + 5) {
    log(`warning: ${fmt(hostFreeGb, 0)} GB free under ${os.tmpdir()}; the shared engine at ${largest} GB writes about ${7 * largest + 5} GB into the image`);
  }
  const fsDir: ReflinkDir = reflinkDir("bench-engines", imageGb);
  let server: BenchServer | null = null;
  let instancesDir: string | null = null;
  const cleanup = registerCleanup(async () => {
    await server?.stop();
    if (instancesDir) await stopInstances(instancesDir);
    await fsDir.cleanup();
  });
  const figures: Figures[] = [];
  try {
    for (const engine of ENGINES) {
      log(`starting a CapyDB server, CAPYDB_DATA_PLANE_ENGINE=${engine}, data on ${fsDir.dir}`);
      const started = await startEngine(engine, fsDir.dir, sizes);
      server = started.server;
      instancesDir = engine === "instances" ? started.instancesDir : null;
      const admin = new CapyClient({ baseUrl: server.url, apiKey: server.adminKey, retries: 0 });
      const { organization } = await admin.createOrganization({ name: `bench-engines-${engine}-${randomSuffix()}` });
      const { secret: orgKey } = await admin.createApiKey(organization.id, { name: "bench-engines" });
      await admin.close();
      const s = new Session(server, fsDir.dir, orgKey);
      try {
        for (const gb of sizes) {
          const f = newFigures(engine, gb);
          figures.push(f);
          try {
            await measure(s, f, started.instancesDir);
          } catch (err) {
            // the other engine and sizes are still measured; the table says what is missing
            f.error = (err as Error).message.split("\n")[0];
            log(`${engine} ${gb} GB failed: ${(err as Error).stack ?? String(err)}\n${server.output()}`);
          }
        }
      } finally {
        await s.close();
        await server.stop();
        server = null;
        if (instancesDir) await stopInstances(instancesDir);
        // the next engine starts on an empty filesystem; fstrim hands the freed blocks back
        // to the image's file (a loop device punches holes), so the host's disk is not held
        fs.rmSync(started.dataDir, { recursive: true, force: true });
        if (fsDir.reflink) spawnSyncQuiet("fstrim", [fsDir.dir]);
      }
    }
  } finally {
    await cleanup();
  }
  report(figures, sizes, fsDir.reflink);
}

// ---------------------------------------------------------------- output

function report(figures: Figures[], sizes: number[], reflink: boolean): void {
  const out = (text: string) => process.stdout.write(text);
  const of = (engine: Engine, gb: number) => figures.find((f) => f.engine === engine && f.gb === gb) ?? null;
  const spread = (values: number[]) => (values.length > 1 ? ` (${sec(Math.min(...values))}–${sec(Math.max(...values))})` : "");
  const timed = (values: number[]) => (values.length ? `${sec(median(values))} s${spread(values)}` : "n/a");
  const one = (value: number) => (Number.isFinite(value) ? `${sec(value)} s` : "n/a");
  const disk = (values: number[], f: Figures) =>
    values.length ? `${fmt((median(values) / f.databaseBytes) * 100, 1)}% (${fmt(median(values) / MB, 0)} MB)` : "n/a";

  out(
    `Filesystem: ${reflink ? "XFS image with reflink=1, loop-mounted" : "NOT a reflink filesystem (not root, or no mkfs.xfs): the instance engine copies files"}; ` +
      `data dir and instances dir of both engines on it. Medians of ${RUNS} runs (min–max in brackets); cutover and rollback: one run each. ` +
      `"Ready" = POST → job succeeded (polled every ${POLL_MS} ms) → GET connection-uri → a new connection answering SELECT 1.\n\n`,
  );
  const rows: string[][] = [];
  for (const gb of sizes) {
    const sh = of("shared", gb);
    const ins = of("instances", gb);
    const row = (label: string, cell: (f: Figures) => string) => rows.push([`${gb} GB`, label, sh ? cell(sh) : "not run", ins ? cell(ins) : "not run"]);
    row("pgbench -i -s N → pg_database_size", (f) => `s=${f.scale} → ${fmt(f.databaseBytes / MB, 0)} MB (loaded in ${fmt(f.loadSeconds, 0)} s)`);
    row("first preview ready (takes the first snapshot)", (f) => one(f.firstPreviewMs));
    row("later create ready", (f) => timed(f.createMs));
    row("reset ready", (f) => timed(f.resetMs));
    row("reset with fresh: true ready (new snapshot)", (f) => timed(f.freshResetMs));
    row("disk of a new preview at ready, % of database", (f) => disk(f.diskAtReady, f));
    row("… once its background jobs are done (spare refill)", (f) => disk(f.diskSettled, f));
    row("cutover: POST execute → job succeeded", (f) => one(f.cutoverMs));
    row("… of which pre-cutover backup + verification", (f) => one(f.cutoverBackupMs));
    row("… of which the swap (backup verified → job done)", (f) => one(f.cutoverSwapMs));
    row("rollback: POST → job succeeded", (f) => one(f.rollbackMs));
    if (ins?.capacity) {
      const cap = (text: (c: Capacity) => string) => (f: Figures) => (f.capacity ? text(f.capacity) : "not measured");
      row(
        `live previews reached (of BENCH_MAX_PREVIEWS=${MAX_PREVIEWS})`,
        cap((x) => `${x.previews}${x.stoppedBy ? ` (stopped: ${x.stoppedBy.replace(/^Job \S+ /, "").slice(0, 160)})` : ""}`),
      );
      row(
        "… their creates, ready",
        cap((x) => timed(x.createMs)),
      );
      row(
        "memory per instance: RSS sum / instances (PSS)",
        cap((x) => `${fmt(x.rssKb / 1024 / x.instances, 1)} MB (${fmt(x.pssKb / 1024 / x.instances, 1)} MB) over ${x.instances} instances`),
      );
      row(
        "free memory (os.freemem) before → after",
        cap((x) => `${fmt(x.freeBytesBefore / 2 ** 30, 2)} → ${fmt(x.freeBytesAfter / 2 ** 30, 2)} GiB`),
      );
    }
    for (const f of [sh, ins]) if (f?.error) row(`${f.engine}: FAILED, later figures missing`, (g) => (g === f ? f.error! : ""));
  }
  printTable(["size", "measure", "shared", "instances"], rows);
  out(
    `\nNotes: the shared engine's "later" creates and resets take a spare clone by rename; the spare refill that follows ` +
      `(a full FILE_COPY) runs in the background and is waited for before the next measured operation, its disk shows in the second disk row. ` +
      `The cutover's swap is read from server timestamps (backup verified_at → job completed_at). ` +
      `Memory: RSS counts shared memory (shared_buffers pages) once per process that touched it; PSS divides it among them; ` +
      `os.freemem() moves with whatever else runs on the machine (and the page cache), so read it next to the load average. ` +
      `The issue's table wants BENCH_SIZES=1,5,10.\n`,
  );
  out(`Load average at the end: ${os.loadavg()[0].toFixed(2)}.\n`);
}

runIfMain(import.meta.url, main);
