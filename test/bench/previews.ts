// Preview databases: how long until a preview is usable, through the API, for each clone
// strategy (CAPYDB_PREVIEW_CLONE_STRATEGY = file_copy | wal_log | logical), next to floors
// measured in the same run on the same PostgreSQL cluster:
//   - bare `CREATE DATABASE x TEMPLATE <snapshot> STRATEGY FILE_COPY` (and WAL_LOG) by the superuser;
//   - the preview job's data-plane steps by the superuser through `pg` (clone + grants,
//     REASSIGN OWNED in the clone, RENAME into place), to separate PostgreSQL from the job;
//   - bare `pg_dump -Fc | pg_restore` of the project database into a new one (the logical baseline).
//
//   npx tsx test/bench/previews.ts        (BENCH_SIZES=1,7,66 pgbench scales, BENCH_RUNS=3)
//
// One CapyDB server (embedded PostgreSQL + PgBouncer) on one data dir: the projects are filled
// once with `pgbench -i`, then the server is restarted on the same data dir for each strategy.
// The strategies are measured with spares off (every create and reset clones while the user
// waits); a last phase measures the default, where a spare clone made in the background after
// each create or reset is taken by a rename (the bench waits for that background job to finish
// before the next measured operation, and reports how long it ran).
// "Ready" is POST preview → job succeeded (polled every 20 ms) → GET connection-uri → a new
// connection as the preview's role answering `SELECT 1`. Every measured operation starts after
// an unmeasured CHECKPOINT, `sync -f` and a 2 s pause (BENCH_SETTLE_MS), so each pays only for
// the dirty data it makes itself and none writes into blocks a DROP freed a moment before (see
// Phase.settle); previews and floor copies are dropped between runs (delete jobs awaited).
// Prints figures, asserts nothing.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { CapyClient, type Job } from "@capydb/api";
import { POOLER_ADMIN_USER } from "../../server/src/platform/dataplane/pooler.js";
import { createTenantDatabase } from "../../server/src/platform/dataplane/provision.js";
import { quoteIdent } from "../../server/src/platform/dataplane/sql.js";
import {
  envInt,
  fmt,
  percentile,
  printHeader,
  printTable,
  randomSuffix,
  removeKeptDataDir,
  runIfMain,
  sleep,
  startServerKeepingData,
  type BenchServer,
  benchLog as log,
  firstSelect,
  pgBinDir as binDir,
} from "./lib.js";

const POLL_MS = 20;
/** The pause after the CHECKPOINT and sync before each measured operation (BENCH_SETTLE_MS). */
const SETTLE_MS = envInt("BENCH_SETTLE_MS", 2000);
/** Statements at least this slow are logged by the cluster (to read the job's own clone time). */
const LOG_MIN_DURATION_MS = 20;
const JOB_TIMEOUT_MS = 60 * 60_000;
const DEFAULT_SIZES = [1, 7, 66];
const BIG_SCALE = 66;
const SMALL_SCALE = 1;
const GOAL_RATIO_TO_FLOOR = 1.3;
const GOAL_FASTER_THAN_LOGICAL = 5;
const GOAL_SMALL_SECONDS = 0.5;
/** Logical copies of a big database take minutes: one run from this scale up. */
const LOGICAL_SINGLE_RUN_FROM_SCALE = 30;

type Strategy = "file_copy" | "wal_log" | "logical";

function sizesFromEnv(): number[] {
  const raw = process.env.BENCH_SIZES;
  if (raw === undefined || raw === "") return DEFAULT_SIZES;
  const list = raw.split(",").map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`BENCH_SIZES must be a comma-separated list of positive pgbench scales, got "${raw}"`);
  }
  return [...new Set(list)].sort((a, b) => a - b);
}

const median = (values: readonly number[]) => percentile(values, 50);
const ms = (a: string | null, b: string | null) => (a && b ? Date.parse(b) - Date.parse(a) : NaN);

// ---------------------------------------------------------------- one size's figures

interface ApiRun {
  totalMs: number;
  /** POST sent → job created (server clock). */
  postMs: number;
  /** job created → claimed by a worker. */
  queueMs: number;
  /** job claimed → completed: the handler. */
  runMs: number;
  /** job completed → our poll saw it succeeded. */
  detectMs: number;
  /** poll saw success → GET connection-uri + connect + SELECT 1 answered. */
  connectMs: number;
  /** Checkpoints requested on the cluster while it ran (pg_stat_bgwriter.checkpoints_req). */
  checkpoints: number;
  /** The job's own CREATE DATABASE ..._b (from the server's PostgreSQL log; NaN when not logged). */
  cloneMs: number;
  /** The job's DROP DATABASE of the preview's previous copy (a reset's swap); 0 when under the log threshold. */
  dropMs: number;
}

interface StepsRun {
  totalMs: number;
  cloneMs: number;
  /** A new superuser connection to the fresh clone. */
  connectMs: number;
  reassignMs: number;
  renameMs: number;
}

interface PoolerRun {
  /** A new admin-console connection to PgBouncer + KILL <database> (what the job does before DROP/rename). */
  killMs: number;
  /** A new admin-console connection + RELOAD (what each pooler sync ends with; the config write is not included). */
  reloadMs: number;
}

interface SizeFigures {
  scale: number;
  project: { id: string; database: string; role: string };
  databaseBytes: number;
  snapshotBytes: number;
  loadSeconds: number;
  warmupMs: number;
  api: Record<Strategy, ApiRun[]>;
  reset: ApiRun[];
  /** With CAPYDB_PREVIEW_SPARES on (the default): the create and the reset take a spare made in the background. */
  spare: { create: ApiRun[]; reset: ApiRun[]; taken: number; attempts: number; refillMs: number[] };
  bareFileCopy: number[];
  /** DROP DATABASE of the bare FILE_COPY clone (what a reset pays for the old copy, and a delete). */
  bareDrop: number[];
  /** A reset's least work: FILE_COPY while a same-size copy exists, then DROP of that copy. */
  bareReset: Array<{ createMs: number; dropMs: number }>;
  bareWalLog: number[];
  pooler: PoolerRun[];
  steps: StepsRun[];
  bareLogical: number[];
  /** A CHECKPOINT right after another one: the fixed cost of each checkpoint FILE_COPY and DROP DATABASE request. */
  emptyCheckpoint: number[];
}

function newFigures(scale: number, project: SizeFigures["project"]): SizeFigures {
  return {
    scale,
    project,
    databaseBytes: NaN,
    snapshotBytes: NaN,
    loadSeconds: NaN,
    warmupMs: NaN,
    api: { file_copy: [], wal_log: [], logical: [] },
    reset: [],
    spare: { create: [], reset: [], taken: 0, attempts: 0, refillMs: [] },
    bareFileCopy: [],
    bareDrop: [],
    bareReset: [],
    bareWalLog: [],
    pooler: [],
    steps: [],
    bareLogical: [],
    emptyCheckpoint: [],
  };
}

// ---------------------------------------------------------------- one server phase

class Phase {
  readonly admin: CapyClient;
  readonly org: CapyClient;
  readonly su: pg.Client;
  readonly control: pg.Client;

  private constructor(
    readonly server: BenchServer,
    orgKey: string,
    su: pg.Client,
    control: pg.Client,
  ) {
    this.admin = new CapyClient({ baseUrl: server.url, apiKey: server.adminKey, retries: 0 });
    this.org = new CapyClient({ baseUrl: server.url, apiKey: orgKey, retries: 0 });
    this.su = su;
    this.control = control;
  }

  static async open(server: BenchServer, orgKey: string): Promise<Phase> {
    const su = new pg.Client({ connectionString: server.clusterAdminUrl(), application_name: "capydb-bench" });
    const control = new pg.Client({ connectionString: server.clusterAdminUrl("capydb"), application_name: "capydb-bench" });
    su.on("error", () => {});
    control.on("error", () => {});
    await su.connect();
    await control.connect();
    return new Phase(server, orgKey, su, control);
  }

  async close(): Promise<void> {
    await this.su.end().catch(() => {});
    await this.control.end().catch(() => {});
    await this.org.close();
    await this.admin.close();
  }

  async checkpoint(): Promise<void> {
    await this.su.query("CHECKPOINT");
  }

  /**
   * Before every measured operation (not measured): CHECKPOINT (flush the cluster's dirty
   * buffers), `sync -f` on the data dir's file system, then a pause. On a file system mounted
   * with online discard over a thin virtual disk, writing into blocks freed a moment ago (the
   * previous DROP DATABASE) is 2-3x faster than writing new ones, until the journal commit
   * discards them; the sync forces that commit, so every copy writes at the steady-state speed
   * a preview made long after the last drop sees.
   */
  async settle(): Promise<void> {
    await this.checkpoint();
    execFileSync("sync", ["-f", this.server.dataDir], { stdio: "ignore" });
    await sleep(SETTLE_MS);
  }

  async checkpointsRequested(): Promise<number> {
    const { rows } = await this.su.query<{ n: string }>("SELECT checkpoints_req::text AS n FROM pg_stat_bgwriter");
    return Number(rows[0].n);
  }

  /** The time of a CHECKPOINT with (almost) nothing to flush. */
  async emptyCheckpoint(): Promise<number> {
    await this.checkpoint();
    const t0 = performance.now();
    await this.checkpoint();
    return performance.now() - t0;
  }

  async snapshotDatabase(projectId: string): Promise<string> {
    const { rows } = await this.control.query<{ database_name: string }>("SELECT database_name FROM project_snapshots WHERE project_id = $1", [projectId]);
    if (!rows[0]) throw new Error(`project ${projectId} has no snapshot database`);
    return rows[0].database_name;
  }

  async databaseSize(database: string): Promise<number> {
    const { rows } = await this.su.query<{ n: string }>("SELECT pg_database_size($1)::text AS n", [database]);
    return Number(rows[0].n);
  }

  async wait(job: Job): Promise<Job> {
    return this.org.waitForJob(job.id, { pollMs: POLL_MS, maxPollMs: POLL_MS, timeoutMs: JOB_TIMEOUT_MS });
  }

  /** POST preview → job succeeded → connection URI → first SELECT 1. Answers the run and the preview id. */
  async createPreview(projectId: string): Promise<{ run: ApiRun; previewId: string; database: string }> {
    const checkpoints = await this.checkpointsRequested();
    const logFrom = this.logSize();
    const started = Date.now();
    const t0 = performance.now();
    const { job, preview } = await this.org.createPreview(projectId, {});
    const done = await this.wait(job);
    const seen = performance.now();
    const seenWall = Date.now();
    await firstSelect(await this.org.getPreviewConnectionUri(preview.id));
    const end = performance.now();
    const run = breakdown(started, t0, done, seen, seenWall, end, (await this.checkpointsRequested()) - checkpoints);
    Object.assign(run, this.jobStatements(logFrom, preview.database_name));
    return { run, previewId: preview.id, database: preview.database_name };
  }

  /** POST reset → job succeeded → connection URI → first SELECT 1. */
  async resetPreview(previewId: string, database: string): Promise<ApiRun> {
    const checkpoints = await this.checkpointsRequested();
    const logFrom = this.logSize();
    const started = Date.now();
    const t0 = performance.now();
    const { job } = await this.org.resetPreview(previewId, {});
    const done = await this.wait(job);
    const seen = performance.now();
    const seenWall = Date.now();
    await firstSelect(await this.org.getPreviewConnectionUri(previewId));
    const end = performance.now();
    const run = breakdown(started, t0, done, seen, seenWall, end, (await this.checkpointsRequested()) - checkpoints);
    return Object.assign(run, this.jobStatements(logFrom, database));
  }

  private get logPath(): string {
    return path.join(this.server.dataDir, "pg", "postgres.log");
  }

  private logSize(): number {
    try {
      return fs.statSync(this.logPath).size;
    } catch {
      return 0;
    }
  }

  /**
   * The durations PostgreSQL logged (log_min_duration_statement, set by the bench) since
   * `from` for the job's clone of `database` and its DROP of the previous copy.
   */
  private jobStatements(from: number, database: string): { cloneMs: number; dropMs: number } {
    let text = "";
    try {
      const fd = fs.openSync(this.logPath, "r");
      try {
        const size = fs.fstatSync(fd).size;
        const buf = Buffer.alloc(Math.max(0, size - from));
        fs.readSync(fd, buf, 0, buf.length, from);
        text = buf.toString("utf8");
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return { cloneMs: NaN, dropMs: NaN };
    }
    let cloneMs = NaN;
    let dropMs = 0;
    for (const m of text.matchAll(/duration: ([\d.]+) ms\s+statement: (.*)/g)) {
      if (m[2].startsWith(`CREATE DATABASE ${quoteIdent(`${database}_b`)} TEMPLATE`)) cloneMs = Number(m[1]);
      if (m[2].startsWith(`DROP DATABASE IF EXISTS ${quoteIdent(database)} `)) dropMs += Number(m[1]);
    }
    return { cloneMs, dropMs };
  }

  /** Waits until no spare job of the project is pending or running; answers the last one's run time (ms). */
  async waitForSpare(projectId: string): Promise<number> {
    const deadline = Date.now() + JOB_TIMEOUT_MS;
    for (;;) {
      const { rows } = await this.control.query<{ state: string; claimed_at: Date | null; completed_at: Date | null; error: string | null }>(
        "SELECT state, claimed_at, completed_at, error FROM jobs WHERE type = 'preview.spare' AND project_id = $1 ORDER BY created_at DESC LIMIT 1",
        [projectId],
      );
      const last = rows[0];
      if (last && last.state === "failed") throw new Error(`the spare job failed: ${last.error}`);
      if (!last || last.state === "succeeded") return last?.claimed_at && last.completed_at ? last.completed_at.getTime() - last.claimed_at.getTime() : NaN;
      if (Date.now() > deadline) throw new Error("the spare job did not finish");
      await sleep(50);
    }
  }

  /** The oid of the project's spare database, or null when it has none. */
  async spareOid(database: string): Promise<number | null> {
    const { rows } = await this.su.query<{ oid: number }>("SELECT oid::int AS oid FROM pg_database WHERE starts_with(datname, $1)", [`${database}_spare`]);
    return rows[0]?.oid ?? null;
  }

  async databaseOid(database: string): Promise<number | null> {
    const { rows } = await this.su.query<{ oid: number }>("SELECT oid::int AS oid FROM pg_database WHERE datname = $1", [database]);
    return rows[0]?.oid ?? null;
  }

  async deletePreview(previewId: string): Promise<void> {
    const { job } = await this.org.deletePreview(previewId);
    await this.wait(job);
  }

  /** Bare CREATE DATABASE ... TEMPLATE snapshot STRATEGY s by the superuser: the floor. */
  async bareClone(template: string, strategy: "FILE_COPY" | "WAL_LOG"): Promise<{ createMs: number; dropMs: number }> {
    const name = `bench_floor_${randomSuffix(4)}`;
    await this.settle();
    const t0 = performance.now();
    await this.su.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)} STRATEGY ${strategy}`);
    const t1 = performance.now();
    await this.su.query(`DROP DATABASE ${quoteIdent(name)}`);
    return { createMs: t1 - t0, dropMs: performance.now() - t1 };
  }

  /**
   * What a reset does at least, issued directly: the new copy is made while the old one still
   * exists (so it cannot reuse the blocks a drop just freed), then the old copy is dropped.
   */
  async bareResetLike(template: string): Promise<{ createMs: number; dropMs: number }> {
    const old = `bench_old_${randomSuffix(4)}`;
    const name = `bench_new_${randomSuffix(4)}`;
    await this.su.query(`CREATE DATABASE ${quoteIdent(old)} TEMPLATE ${quoteIdent(template)} STRATEGY FILE_COPY`);
    await this.settle();
    const t0 = performance.now();
    await this.su.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)} STRATEGY FILE_COPY`);
    const t1 = performance.now();
    await this.su.query(`DROP DATABASE ${quoteIdent(old)}`);
    const t2 = performance.now();
    await this.su.query(`DROP DATABASE ${quoteIdent(name)}`);
    return { createMs: t1 - t0, dropMs: t2 - t1 };
  }

  /** PgBouncer's admin console as the server uses it: a new connection per KILL and per RELOAD. */
  async poolerOps(): Promise<PoolerRun> {
    const password = fs.readFileSync(path.join(this.server.dataDir, "pgbouncer-admin-password"), "utf8").trim();
    const once = async (sql: string) => {
      const t0 = performance.now();
      const c = new pg.Client({ host: "127.0.0.1", port: this.server.pgbouncerPort, user: POOLER_ADMIN_USER, password, database: "pgbouncer" });
      c.on("error", () => {});
      await c.connect();
      try {
        await c.query(sql);
      } catch (err) {
        if (!/no such database/i.test((err as Error).message)) throw err;
      } finally {
        await c.end().catch(() => {});
      }
      return performance.now() - t0;
    };
    return { killMs: await once("KILL bench_no_such_database"), reloadMs: await once("RELOAD") };
  }

  /**
   * What the preview job does on the data plane for a template clone, issued directly:
   * CREATE DATABASE ..._b TEMPLATE snapshot STRATEGY FILE_COPY + REVOKE/GRANT, REASSIGN OWNED
   * in the clone (a new connection), ALTER DATABASE ... RENAME into place.
   */
  async jobSteps(template: string, fromRole: string, toRole: string): Promise<StepsRun> {
    const name = `bench_steps_${randomSuffix(4)}`;
    await this.settle();
    const t0 = performance.now();
    await createTenantDatabase(this.su, `${name}_b`, toRole, { template, strategy: "FILE_COPY" });
    const t1 = performance.now();
    const inside = new pg.Client({ connectionString: this.server.clusterAdminUrl(`${name}_b`), application_name: "capydb-bench" });
    inside.on("error", () => {});
    await inside.connect();
    const t1b = performance.now();
    await inside.query(`REASSIGN OWNED BY ${quoteIdent(fromRole)} TO ${quoteIdent(toRole)}`);
    const t2 = performance.now();
    await inside.end();
    const t2b = performance.now();
    await this.su.query(`ALTER DATABASE ${quoteIdent(`${name}_b`)} RENAME TO ${quoteIdent(name)}`);
    const t3 = performance.now();
    await this.su.query(`DROP DATABASE ${quoteIdent(name)}`);
    return { totalMs: t3 - t0, cloneMs: t1 - t0, connectMs: t1b - t1, reassignMs: t2 - t1b, renameMs: t3 - t2b };
  }

  /** CREATE DATABASE + pg_dump -Fc --compress=0 | pg_restore --no-owner --no-privileges, as the superuser. */
  async bareLogical(source: string): Promise<number> {
    const name = `bench_logical_${randomSuffix(4)}`;
    await this.settle();
    const t0 = performance.now();
    await this.su.query(`CREATE DATABASE ${quoteIdent(name)}`);
    await dumpRestore(this.server, source, name);
    const elapsed = performance.now() - t0;
    await this.su.query(`DROP DATABASE ${quoteIdent(name)}`);
    return elapsed;
  }
}

function breakdown(startedWall: number, t0: number, done: Job, seen: number, seenWall: number, end: number, checkpoints: number): ApiRun {
  return {
    totalMs: end - t0,
    postMs: Date.parse(done.created_at) - startedWall,
    queueMs: ms(done.created_at, done.claimed_at),
    runMs: ms(done.claimed_at, done.completed_at),
    detectMs: done.completed_at ? seenWall - Date.parse(done.completed_at) : NaN,
    connectMs: end - seen,
    checkpoints,
    cloneMs: NaN,
    dropMs: 0,
  };
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

function dumpRestore(server: BenchServer, source: string, target: string): Promise<void> {
  const url = new URL(server.clusterAdminUrl());
  const env = { PGPASSWORD: decodeURIComponent(url.password), PGHOST: url.hostname, PGPORT: url.port, PGUSER: decodeURIComponent(url.username) };
  const bin = binDir();
  return new Promise((resolve, reject) => {
    const dump = spawn(path.join(bin, "pg_dump"), ["--format=custom", "--compress=0", "--dbname", source], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const restore = spawn(path.join(bin, "pg_restore"), ["--no-owner", "--no-privileges", "--dbname", target], {
      env: { ...process.env, ...env },
      stdio: ["pipe", "ignore", "pipe"],
    });
    dump.stdout!.pipe(restore.stdin!);
    restore.stdin!.on("error", () => {});
    let err = "";
    dump.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    restore.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    const exit = (p: ReturnType<typeof spawn>) => new Promise<number | null>((res, rej) => (p.on("error", rej), p.on("close", res)));
    Promise.all([exit(dump), exit(restore)]).then(
      ([a, b]) => (a === 0 && b === 0 ? resolve() : reject(new Error(`pg_dump | pg_restore exited ${a}/${b}: ${err.trim().slice(-2000)}`))),
      reject,
    );
  });
}

/** `pgbench -i -s N` as the project's role through its connection URI (server-side data generation). */
async function loadPgbench(uri: string, scale: number): Promise<number> {
  const t0 = performance.now();
  await run(path.join(binDir(), "pgbench"), ["-i", "-s", String(scale), "--init-steps=dtGvp", uri], {
    // The project's role has statement_timeout = 30s by default: a load at scale 66 takes longer.
    PGOPTIONS: "-c statement_timeout=0 -c idle_in_transaction_session_timeout=0",
  });
  return (performance.now() - t0) / 1000;
}

// ---------------------------------------------------------------- the bench

export async function main(): Promise<void> {
  const sizes = sizesFromEnv();
  const runs = envInt("BENCH_RUNS", 3);
  const knobs = [
    process.env.BENCH_SIZES ? `BENCH_SIZES=${sizes.join(",")}` : "",
    runs !== 3 ? `BENCH_RUNS=${runs}` : "",
    SETTLE_MS !== 2000 ? `BENCH_SETTLE_MS=${SETTLE_MS}` : "",
  ].filter(Boolean);
  printHeader(
    "Preview databases: POST preview → ready → SELECT 1, per clone strategy, vs bare CREATE DATABASE ... TEMPLATE",
    `${knobs.length ? knobs.join(" ") + " " : ""}npx tsx test/bench/previews.ts`,
  );

  // Cold clones first (spares off: each create and reset copies while the user waits), then
  // the default (a spare made in the background is taken by a rename).
  const env = {
    CAPYDB_SNAPSHOT_MAX_AGE_SECONDS: "86400",
    CAPYDB_PREVIEW_CLONE_STRATEGY: "file_copy",
    CAPYDB_PREVIEW_SPARES: "false",
    CAPYDB_SNAPSHOT_REFRESH_AHEAD: "false",
  };
  let server: BenchServer | null = null;
  let phase: Phase | null = null;
  const figures: SizeFigures[] = [];
  const restartSeconds: Partial<Record<Strategy, number>> = {};
  try {
    log("starting a CapyDB server (embedded PostgreSQL, fresh data dir), clone strategy file_copy");
    server = await startServerKeepingData({ env });
    const admin = new CapyClient({ baseUrl: server.url, apiKey: server.adminKey, retries: 0 });
    const { organization } = await admin.createOrganization({ name: `bench-previews-${randomSuffix()}` });
    const { secret: orgKey } = await admin.createApiKey(organization.id, { name: "bench-previews" });
    await admin.close();
    phase = await Phase.open(server, orgKey);

    // ---- data, loaded once
    for (const scale of sizes) {
      const { job, project } = await phase.org.createProject({ name: `bench-pv-s${scale}-${randomSuffix(2)}` });
      await phase.wait(job);
      const f = newFigures(scale, { id: project.id, database: project.database_name, role: project.role_name });
      log(`pgbench -i -s ${scale} into ${project.database_name} (as ${project.role_name})`);
      f.loadSeconds = await loadPgbench(await phase.org.getConnectionUri(project.id), scale);
      f.databaseBytes = await phase.databaseSize(project.database_name);
      figures.push(f);
    }
    // The job's own CREATE DATABASE / DROP DATABASE durations, read back from the server's PostgreSQL log.
    await phase.su.query(`ALTER SYSTEM SET log_min_duration_statement = '${LOG_MIN_DURATION_MS}ms'`);
    await phase.su.query("SELECT pg_reload_conf()");
    // A role to hand objects to in the job-steps floor (a preview's role is made the same way).
    const stepsRole = `bench_pv_role_${randomSuffix(3)}`;
    await phase.su.query(`CREATE ROLE ${quoteIdent(stepsRole)} NOLOGIN`);

    // ---- file_copy: warm-up (makes the snapshot), then API create + reset, interleaved with the floors
    for (const f of figures) {
      log(`s=${f.scale}: warm-up preview (takes the snapshot), file_copy`);
      await phase.settle();
      const warm = await phase.createPreview(f.project.id);
      f.warmupMs = warm.run.totalMs;
      await phase.deletePreview(warm.previewId);
      const snap = await phase.snapshotDatabase(f.project.id);
      f.snapshotBytes = await phase.databaseSize(snap);
      // Unmeasured warm-ups of the floors too (first touch of the snapshot's files).
      await phase.bareClone(snap, "FILE_COPY");
      await phase.bareClone(snap, "WAL_LOG");
      const pooled = fs.existsSync(path.join(server.dataDir, "pgbouncer-admin-password"));
      for (let i = 0; i < runs; i++) {
        log(`s=${f.scale}: file_copy run ${i + 1}/${runs}`);
        await phase.settle();
        const { run, previewId, database } = await phase.createPreview(f.project.id);
        f.api.file_copy.push(run);
        await phase.settle();
        f.reset.push(await phase.resetPreview(previewId, database));
        await phase.deletePreview(previewId);
        f.bareWalLog.push((await phase.bareClone(snap, "WAL_LOG")).createMs);
        const fc = await phase.bareClone(snap, "FILE_COPY");
        f.bareFileCopy.push(fc.createMs);
        f.bareDrop.push(fc.dropMs);
        f.bareReset.push(await phase.bareResetLike(snap));
        f.steps.push(await phase.jobSteps(snap, f.project.role, stepsRole));
        if (pooled) f.pooler.push(await phase.poolerOps());
        f.emptyCheckpoint.push(await phase.emptyCheckpoint());
      }
    }

    // ---- wal_log, then logical: the same data dir, the server restarted with the other strategy
    for (const strategy of ["wal_log", "logical"] as const) {
      await phase.close();
      phase = null;
      log(`restarting the server on the same data dir with CAPYDB_PREVIEW_CLONE_STRATEGY=${strategy}`);
      const t0 = performance.now();
      server = await startServerKeepingData({ reuse: server, env: { ...env, CAPYDB_PREVIEW_CLONE_STRATEGY: strategy } });
      restartSeconds[strategy] = (performance.now() - t0) / 1000;
      phase = await Phase.open(server, orgKey);
      for (const f of figures) {
        const big = f.scale >= LOGICAL_SINGLE_RUN_FROM_SCALE && strategy === "logical";
        const n = big ? 1 : runs;
        if (!big) {
          log(`s=${f.scale}: ${strategy} warm-up preview`);
          const warm = await phase.createPreview(f.project.id);
          await phase.deletePreview(warm.previewId);
        }
        for (let i = 0; i < n; i++) {
          log(`s=${f.scale}: ${strategy} run ${i + 1}/${n}`);
          await phase.settle();
          const { run, previewId } = await phase.createPreview(f.project.id);
          f.api[strategy].push(run);
          await phase.deletePreview(previewId);
          if (strategy === "logical") f.bareLogical.push(await phase.bareLogical(f.project.database));
        }
      }
    }

    // ---- the default: file_copy with spares
    await phase.close();
    phase = null;
    log("restarting the server on the same data dir with spares on (CAPYDB_PREVIEW_SPARES=true, the default)");
    server = await startServerKeepingData({ reuse: server, env: { ...env, CAPYDB_PREVIEW_SPARES: "true" } });
    phase = await Phase.open(server, orgKey);
    for (const f of figures) {
      log(`s=${f.scale}: spares warm-up preview (asks for the first spare)`);
      const warm = await phase.createPreview(f.project.id);
      await phase.waitForSpare(f.project.id);
      await phase.deletePreview(warm.previewId);
      for (let i = 0; i < runs; i++) {
        log(`s=${f.scale}: spares run ${i + 1}/${runs}`);
        await phase.settle();
        let spare = await phase.spareOid(f.project.database);
        const { run, previewId, database } = await phase.createPreview(f.project.id);
        f.spare.create.push(run);
        f.spare.attempts++;
        if (spare !== null && spare === (await phase.databaseOid(database))) f.spare.taken++;
        f.spare.refillMs.push(await phase.waitForSpare(f.project.id));
        await phase.settle();
        spare = await phase.spareOid(f.project.database);
        f.spare.reset.push(await phase.resetPreview(previewId, database));
        f.spare.attempts++;
        if (spare !== null && spare === (await phase.databaseOid(database))) f.spare.taken++;
        f.spare.refillMs.push(await phase.waitForSpare(f.project.id));
        await phase.deletePreview(previewId);
      }
    }
  } finally {
    await phase?.close();
    if (server) {
      await server.stop();
      removeKeptDataDir(server.dataDir);
    }
  }

  report(figures, runs, restartSeconds);
}

// ---------------------------------------------------------------- output

const MB = 1024 * 1024;
const sec = (msValue: number) => fmt(msValue / 1000, 3);

function report(figures: SizeFigures[], runs: number, restartSeconds: Partial<Record<Strategy, number>>): void {
  const out = (s: string) => process.stdout.write(s);
  out(
    `Sizes: ${figures.map((f) => `pgbench -s ${f.scale} → pg_database_size ${fmt(f.databaseBytes / MB, 1)} MB (snapshot ${fmt(f.snapshotBytes / MB, 1)} MB, loaded in ${fmt(f.loadSeconds, 1)} s)`).join("; ")}.\n`,
  );
  out(
    `Medians of ${runs} runs (logical at s ≥ ${LOGICAL_SINGLE_RUN_FROM_SCALE}: 1 run), after one unmeasured warm-up; each measured operation after an unmeasured CHECKPOINT + sync -f + ${fmt(SETTLE_MS / 1000, 1)} s pause; ` +
      `jobs polled every ${POLL_MS} ms; snapshot max age 86400 s (the snapshot stays fresh across restarts). ` +
      `Server restarts on the same data dir took ${Object.entries(restartSeconds)
        .map(([k, v]) => `${fmt(v!, 1)} s (${k})`)
        .join(", ")}.\n`,
  );

  for (const f of figures) {
    const floor = median(f.bareFileCopy);
    const row = (name: string, values: number[]) => [
      name,
      values.length,
      sec(median(values)),
      sec(Math.min(...values)),
      sec(Math.max(...values)),
      fmt(median(values) / floor, 2) + "×",
    ];
    const apiFc = f.api.file_copy.map((r) => r.totalMs);
    out(`\n### s=${f.scale}: ${fmt(f.databaseBytes / MB, 1)} MB\n\n`);
    printTable(
      ["method", "runs", "seconds (median)", "min", "max", "× bare FILE_COPY"],
      [
        row(
          "API preview ready, default: a spare taken by rename (POST → succeeded → SELECT 1)",
          f.spare.create.map((r) => r.totalMs),
        ),
        row(
          "API reset ready, default: a spare taken by rename",
          f.spare.reset.map((r) => r.totalMs),
        ),
        row("API preview ready, file_copy cloned while waiting (spares off)", apiFc),
        row(
          "API reset ready, file_copy cloned while waiting (spares off)",
          f.reset.map((r) => r.totalMs),
        ),
        row(
          "API preview ready, wal_log",
          f.api.wal_log.map((r) => r.totalMs),
        ),
        row(
          "API preview ready, logical (pg_dump | pg_restore as the preview role)",
          f.api.logical.map((r) => r.totalMs),
        ),
        row("floor: bare CREATE DATABASE TEMPLATE snapshot STRATEGY FILE_COPY", f.bareFileCopy),
        row(
          "bare FILE_COPY while a same-size copy exists + DROP of it (a reset's least work)",
          f.bareReset.map((r) => r.createMs + r.dropMs),
        ),
        row("bare CREATE DATABASE TEMPLATE snapshot STRATEGY WAL_LOG", f.bareWalLog),
        row(
          "job's data-plane steps via pg (FILE_COPY clone + grants, REASSIGN OWNED, RENAME)",
          f.steps.map((s) => s.totalMs),
        ),
        row("bare pg_dump -Fc | pg_restore into a new database (logical baseline)", f.bareLogical),
      ],
    );
    const part = (runsOf: ApiRun[], key: keyof ApiRun) => fmt(median(runsOf.map((r) => r[key])), 0);
    const parts = (label: string, runsOf: ApiRun[]) =>
      `${label}: POST ${part(runsOf, "postMs")} ms, queue ${part(runsOf, "queueMs")} ms, job run ${part(runsOf, "runMs")} ms, ` +
      `poll detection ${part(runsOf, "detectMs")} ms, connection URI + connect + SELECT 1 ${part(runsOf, "connectMs")} ms; ` +
      `${part(runsOf, "checkpoints")} checkpoints requested` +
      (runsOf.some((r) => Number.isFinite(r.cloneMs))
        ? `; inside the job (PostgreSQL log): its CREATE DATABASE ${part(runsOf, "cloneMs")} ms` +
          (median(runsOf.map((r) => r.dropMs)) > 0 ? `, DROP of the old copy ${part(runsOf, "dropMs")} ms` : "") +
          `, so everything else on the path (HTTP, queue, role, grants, REASSIGN OWNED, rename, PgBouncer sync, polling, connect) ` +
          `${fmt(median(runsOf.map((r) => r.totalMs - r.cloneMs - r.dropMs)), 0)} ms`
        : "");
    out(`\nWhere the time goes (medians, server clock for the job's stages):\n`);
    out(
      `- ${parts("API preview, spare", f.spare.create)}\n- ${parts("API reset, spare", f.spare.reset)}\n` +
        `- the spare was taken in ${f.spare.taken} of ${f.spare.attempts} creates and resets; the background job that makes the next one ran ${sec(median(f.spare.refillMs))} s (median), after the preview was ready\n`,
    );
    out(`- ${parts("API preview, file_copy", f.api.file_copy)}\n`);
    out(`- ${parts("API reset, file_copy", f.reset)}\n`);
    out(`- ${parts("API preview, wal_log", f.api.wal_log)}\n`);
    out(
      `- job steps via pg: clone + grants ${fmt(median(f.steps.map((s) => s.cloneMs)), 0)} ms, new connection to the clone ${fmt(median(f.steps.map((s) => s.connectMs)), 0)} ms, REASSIGN OWNED ${fmt(median(f.steps.map((s) => s.reassignMs)), 0)} ms, ` +
        `RENAME ${fmt(median(f.steps.map((s) => s.renameMs)), 0)} ms; the preview job's run is ${fmt(median(f.api.file_copy.map((r) => r.runMs)) - median(f.steps.map((s) => s.totalMs)), 0)} ms over them ` +
        `(role creation, control-plane updates, PgBouncer kill + config sync/reload)\n`,
    );
    out(
      `- DROP DATABASE of a bare FILE_COPY clone ${fmt(median(f.bareDrop), 0)} ms (a reset drops the old copy before the rename); ` +
        (f.pooler.length
          ? `PgBouncer admin console, new connection + KILL ${fmt(median(f.pooler.map((p) => p.killMs)), 0)} ms, new connection + RELOAD ${fmt(median(f.pooler.map((p) => p.reloadMs)), 0)} ms\n`
          : `PgBouncer not running (no pgbouncer-admin-password): no pooler figures\n`),
    );
    out(
      `- an empty CHECKPOINT (right after another): ${fmt(median(f.emptyCheckpoint), 0)} ms; CREATE DATABASE STRATEGY FILE_COPY requests 2 checkpoints, DROP DATABASE 1\n`,
    );
    out(
      `- snapshot creation (the warm-up preview, which took the first snapshot, minus the median preview): ${sec(f.warmupMs - median(apiFc))} s ` +
        `(warm-up ${sec(f.warmupMs)} s)\n`,
    );
  }

  // ---- goals
  out(`\nLoad average at the end: ${os.loadavg()[0].toFixed(2)} (other work on the machine shows up as noise in the floors too).\n`);
  out(`\n### Goals\n\n`);
  const bySize = new Map(figures.map((f) => [f.scale, f]));
  const verdict = (ok: boolean) => (ok ? "MET" : "NOT MET");
  const big = bySize.get(BIG_SCALE);
  const small = bySize.get(SMALL_SCALE);
  for (const [label, pick] of [
    ["preview ready (default, spare)", (f: SizeFigures) => f.spare.create.map((r) => r.totalMs)],
    ["reset ready (default, spare)", (f: SizeFigures) => f.spare.reset.map((r) => r.totalMs)],
    ["preview ready (spares off)", (f: SizeFigures) => f.api.file_copy.map((r) => r.totalMs)],
    ["reset ready (spares off)", (f: SizeFigures) => f.reset.map((r) => r.totalMs)],
  ] as const) {
    if (big) {
      const v = median(pick(big));
      const floor = median(big.bareFileCopy);
      const logical = median(big.api.logical.map((r) => r.totalMs));
      out(
        `- ${label} through the API at ~1 GB (s=${BIG_SCALE}) <= ${GOAL_RATIO_TO_FLOOR}× bare FILE_COPY: ${verdict(v <= GOAL_RATIO_TO_FLOOR * floor)} (${sec(v)} s = ${fmt(v / floor, 2)}× of ${sec(floor)} s)\n`,
      );
      out(
        `- ${label} through the API at ~1 GB >= ${GOAL_FASTER_THAN_LOGICAL}× faster than the logical copy: ${verdict(logical / v >= GOAL_FASTER_THAN_LOGICAL)} (${fmt(logical / v, 1)}× faster: ${sec(v)} s vs logical ${sec(logical)} s)\n`,
      );
    } else {
      const largest = figures[figures.length - 1];
      const v = median(pick(largest));
      const note = largest
        ? ` (at the largest size measured, s=${largest.scale}: ${fmt(v / median(largest.bareFileCopy), 2)}× the floor, ${fmt(median(largest.api.logical.map((r) => r.totalMs)) / v, 1)}× faster than logical)`
        : "";
      out(`- ${label} at ~1 GB: not measured, BENCH_SIZES has no ${BIG_SCALE}${note}\n`);
    }
    if (small) {
      const v = median(pick(small));
      out(`- ${label} through the API at ~10 MB (s=${SMALL_SCALE}) <= ${GOAL_SMALL_SECONDS} s: ${verdict(v <= GOAL_SMALL_SECONDS * 1000)} (${sec(v)} s)\n`);
    } else {
      out(`- ${label} at ~10 MB: not measured, BENCH_SIZES has no ${SMALL_SCALE}\n`);
    }
  }
}

runIfMain(import.meta.url, main);
