// Backups: POST /v1/projects/{id}/backups until its job succeeded (the dump is in the blob store
// and verified), on a project of ~1 GB (`pgbench -i -s 66`), next to baselines measured in the
// same run on the same PostgreSQL cluster and the same file system:
//   - bare `pg_dump -Fc --compress=6` of the project's database to a file (what the server runs,
//     same compression; pg_dump fsyncs the file, the blob store fsyncs the blob);
//   - the server's dump step with bare tools: pg_dump --snapshot of a snapshot exported by a
//     REPEATABLE READ transaction that counts every table's rows meanwhile (as dumpToBlob does);
//   - bare `CREATE DATABASE` + `pg_restore --no-owner --no-privileges` of that file (one job, as
//     the verification runs it), and, shown apart, what the verification does besides: exact row
//     counts of the restored copy and DROP DATABASE of it.
//
//   npx tsx test/bench/backups.ts        (BENCH_SCALE=66 pgbench scale, BENCH_RUNS=1, BENCH_SETTLE_MS=2000)
//   BENCH_DATA=tables npx tsx test/bench/backups.ts
//       eight tables of 1,000,000 rows (BENCH_ROWS) with a primary key and two indexes each
//       (~1.4 GB), instead of pgbench's one big table: what pg_restore --jobs
//       (BENCH_RESTORE_JOBS, the server's CAPYDB_RESTORE_JOBS, default 2) can parallelise.
//
// The job is split into its backup part and its verification part by the server's own
// timestamps (one clock): the job's claimed_at, the backup row's completed_at (written when the
// dump is stored, before the verification starts; read from the control-plane database, the API
// does not show it), its verified_at (the verdict) and the job's completed_at. As a cross-check,
// GET /v1/backups/{id} is polled every 250 ms and the moment it first shows `completed` is
// reported against completed_at. Independently, pg_stat_activity is sampled every 100 ms to show
// where the time goes (pg_dump's COPYs, the row counts, the restore's COPYs and index builds,
// DROP DATABASE), for the API and the bare tools alike.
//
// Before every measured operation: CHECKPOINT, `sync -f`, a pause (as in previews.ts: each
// operation pays only for the dirty data it makes itself). With BENCH_RUNS > 1 the order of API
// and the bare dumps alternates. Prints figures, asserts nothing (but fails if a backup does not verify).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { CapyClient, type Backup, type Job } from "@capydb/api";
import { quoteIdent } from "../../server/src/platform/dataplane/sql.js";
import {
  envInt,
  fmt,
  percentile,
  postgresCpuSeconds,
  printHeader,
  printTable,
  processCpuSeconds,
  randomSuffix,
  registerCleanup,
  runIfMain,
  sleep,
  startServer,
  type BenchServer,
} from "./lib.js";

/** The job and the backup row are polled this often through the API (each poll costs the server CPU on a small machine). */
const POLL_MS = 250;
export const SAMPLE_MS = 100;
const JOB_TIMEOUT_MS = 2 * 60 * 60_000;
const DEFAULT_SCALE = 66;
const GOAL_BACKUP_RATIO = 1.2;
const GOAL_VERIFY_RATIO = 2;
/** The application_name of the bare tools (the server's run as "capydb"). */
export const BARE_APP = "capydb-bench-bare";
export const MB = 1024 * 1024;

// ---------------------------------------------------------------- shared with imports.ts

export function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

export function pgBinDir(): string {
  try {
    return execFileSync("pg_config", ["--bindir"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "/usr/lib/postgresql/15/bin";
  }
}

export const median = (values: readonly number[]) => percentile(values, 50);
export const msBetween = (a: string | null | undefined, b: string | null | undefined) => (a && b ? Date.parse(b) - Date.parse(a) : NaN);

/** libpq settings (host, port, user, password) for a tool, from a postgresql:// URL. */
export function libpqEnv(url: string): Record<string, string> {
  const u = new URL(url);
  return {
    PGHOST: u.hostname,
    PGPORT: u.port || "5432",
    PGUSER: decodeURIComponent(u.username),
    PGPASSWORD: decodeURIComponent(u.password),
    PGAPPNAME: BARE_APP,
    PGCONNECT_TIMEOUT: "10",
    LANG: "C.UTF-8",
  };
}

/** Spawns a tool; a Ctrl-C or a failure of the bench kills it. */
export function spawnTool(cmd: string, args: string[], env: Record<string, string>, stdio: ["ignore" | "pipe", "ignore" | "pipe", "pipe"]): ChildProcess {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio });
  const unregister = registerCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  });
  child.on("close", () => void unregister());
  return child;
}

/** Waits for a tool; rejects with the end of its stderr on a non-zero exit. */
export function toolExit(child: ChildProcess, name: string): Promise<void> {
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => (code === 0 ? resolve() : reject(new Error(`${name} exited with ${code ?? signal}: ${stderr.trim()}`))));
  });
}

export function runTool(cmd: string, args: string[], env: Record<string, string>): Promise<void> {
  return toolExit(spawnTool(cmd, args, env, ["ignore", "ignore", "pipe"]), path.basename(cmd));
}

/** `pgbench -i -s N` (server-side data generation, vacuum, primary keys); answers seconds. */
export async function loadPgbench(url: string, scale: number): Promise<number> {
  const t0 = performance.now();
  await runTool(path.join(pgBinDir(), "pgbench"), ["-i", "-s", String(scale), "--init-steps=dtGvp", "--quiet", url], {
    // A project's role has statement_timeout = 30s by default: a load at scale 66 takes longer.
    PGOPTIONS: "-c statement_timeout=0 -c idle_in_transaction_session_timeout=0",
  });
  return (performance.now() - t0) / 1000;
}

/** Eight tables of `rows` rows, a primary key and two secondary indexes each; answers seconds. */
export async function loadTables(url: string, rows: number): Promise<number> {
  const t0 = performance.now();
  const client = new pg.Client({ connectionString: url, options: "-c statement_timeout=0 -c idle_in_transaction_session_timeout=0" });
  await client.connect();
  try {
    for (let i = 0; i < 8; i++) {
      await client.query(`CREATE TABLE t${i} (id bigserial PRIMARY KEY, a int, b text, c timestamptz DEFAULT now())`);
      await client.query(`INSERT INTO t${i} (a, b) SELECT g, md5(g::text) FROM generate_series(1, ${rows}) g`);
      await client.query(`CREATE INDEX ON t${i} (a)`);
      await client.query(`CREATE INDEX ON t${i} (b)`);
      await client.query(`VACUUM ANALYZE t${i}`);
    }
  } finally {
    await client.end();
  }
  return (performance.now() - t0) / 1000;
}

export async function databaseSize(client: pg.Client, database: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>("SELECT pg_database_size($1)::text AS n", [database]);
  return Number(rows[0].n);
}

/** count(*) of every user table of the database `client` is connected to (what a verification does after the restore). */
export async function countAllRows(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ t: string }>(
    "SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
  );
  let total = 0;
  for (const r of rows) total += Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${r.t}`)).rows[0].n);
  return total;
}

export async function connect(url: string, database?: string, applicationName = "capydb-bench"): Promise<pg.Client> {
  const u = new URL(url);
  if (database) u.pathname = "/" + encodeURIComponent(database);
  const client = new pg.Client({ connectionString: u.toString(), application_name: applicationName });
  client.on("error", () => {});
  await client.connect();
  return client;
}

/**
 * Before a measured operation, not measured: CHECKPOINT on every cluster, `sync -f` on the file
 * system of each dir, then a pause (see Phase.settle in previews.ts for why).
 */
export async function settle(clusters: pg.Client[], dirs: string[], pauseMs: number): Promise<void> {
  for (const c of clusters) await c.query("CHECKPOINT");
  for (const d of dirs) execFileSync("sync", ["-f", d], { stdio: "ignore" });
  await sleep(pauseMs);
}

/** Free bytes for unprivileged files on the file system of `dir`. */
export function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

export function checkFreeSpace(dir: string, neededBytes: number): void {
  const free = freeBytes(dir);
  log(`${fmt(free / 2 ** 30, 1)} GiB free on the file system of ${dir}, ~${fmt(neededBytes / 2 ** 30, 1)} GiB needed`);
  if (free < neededBytes)
    throw new Error(
      `not enough space in ${dir}: ${fmt(free / 2 ** 30, 1)} GiB free, ~${fmt(neededBytes / 2 ** 30, 1)} GiB needed (lower BENCH_SCALE or set TMPDIR)`,
    );
}

export interface ActivityRow {
  application_name: string;
  datname: string | null;
  query: string;
}

/**
 * Samples pg_stat_activity (active client backends) every SAMPLE_MS on its own connection and adds
 * the time between samples to each category (classify) seen active: an estimate of how long each
 * kind of work ran, to ±1 sample per stretch. Categories running at once each get the time.
 */
export class ActivitySampler {
  readonly seconds = new Map<string, number>();
  private running = true;
  private readonly loop: Promise<void>;

  private constructor(
    private readonly client: pg.Client,
    private readonly classify: (r: ActivityRow) => string | null,
    private readonly prefix: string,
  ) {
    this.loop = this.run();
  }

  static async start(url: string, classify: (r: ActivityRow) => string | null, prefix = ""): Promise<ActivitySampler> {
    return new ActivitySampler(await connect(url), classify, prefix);
  }

  private async run(): Promise<void> {
    let last = performance.now();
    while (this.running) {
      const t = performance.now();
      let rows: ActivityRow[] = [];
      try {
        rows = (
          await this.client.query<ActivityRow>(
            `SELECT coalesce(application_name, '') AS application_name, datname, coalesce(query, '') AS query FROM pg_stat_activity
             WHERE backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid()`,
          )
        ).rows;
      } catch {
        // the cluster is stopping: the bench is ending anyway
      }
      const now = performance.now();
      const dt = (now - last) / 1000;
      last = now;
      for (const key of new Set(rows.map(this.classify).filter((k): k is string => k !== null))) {
        this.seconds.set(this.prefix + key, (this.seconds.get(this.prefix + key) ?? 0) + dt);
      }
      await sleep(Math.max(1, SAMPLE_MS - (performance.now() - t)));
    }
  }

  async stop(): Promise<Map<string, number>> {
    this.running = false;
    await this.loop;
    await this.client.end().catch(() => {});
    return this.seconds;
  }
}

/** What a pg_restore (or a verification around it) is doing in `database`. */
export function classifyRestore(r: ActivityRow): string {
  const q = r.query.trimStart();
  if (/^COPY /i.test(q)) return "restore: COPY (table data)";
  if (/CREATE (UNIQUE )?INDEX|ADD CONSTRAINT/i.test(q)) return "restore: indexes and constraints";
  if (/count\(\*\)/i.test(q)) return "row counts of the restored copy";
  return "restore: other statements";
}

export function classifyDatabaseDdl(r: ActivityRow): string | null {
  const q = r.query.trimStart();
  if (/^CHECKPOINT/i.test(q)) return "CHECKPOINT";
  if (/^DROP DATABASE/i.test(q)) return "DROP DATABASE";
  if (/^CREATE DATABASE/i.test(q)) return "CREATE DATABASE";
  if (/^ALTER DATABASE/i.test(q)) return "ALTER DATABASE (rename, allow_connections)";
  return null;
}

/** Checkpoints requested so far (pg_stat_bgwriter.checkpoints_req): WAL past max_wal_size requests one, DROP DATABASE requests one and waits for it. */
export async function checkpointsRequested(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ n: string }>("SELECT checkpoints_req::text AS n FROM pg_stat_bgwriter");
  return Number(rows[0].n);
}

/** Sums the maps of several samplers. */
export function mergeSeconds(...maps: Map<string, number>[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of maps) for (const [k, v] of m) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

/** CPU seconds of the processes this process has waited for (the tools it ran). */
export function reapedChildrenCpuSeconds(): number {
  return processCpuSeconds(process.pid, true) - processCpuSeconds(process.pid);
}

// ---------------------------------------------------------------- the measurements

interface ApiRun {
  /** POST → the job's succeeded state seen (client clock). */
  totalMs: number;
  /** job created → claimed (server clock). */
  queueMs: number;
  /** job created → completed (server clock). */
  jobMs: number;
  /** job claimed → backup row completed_at (server clock). */
  backupMs: number;
  /** backup row completed_at → verified_at (server clock). */
  verifyMs: number;
  /** completed_at → GET /v1/backups/{id} first showed `completed` (polled every 250 ms). */
  seenLagMs: number;
  /** verified_at → job completed (server clock). */
  tailMs: number;
  attempts: number;
  archiveBytes: number;
  /** Activity seconds during the job, by category. */
  activity: Map<string, number>;
  /** CPU seconds: the server's node process; the tools it ran (pg_dump, pg_restore); PostgreSQL. */
  nodeCpu: number;
  toolsCpu: number;
  pgCpu: number;
  /** Checkpoints requested on the cluster while the job ran. */
  checkpoints: number;
}

/** One bare measurement: its time, what it made, and what it cost. */
interface BareStep {
  ms: number;
  /** The archive's size (dumps). */
  bytes: number;
  /** Extra timings inside the step: counts and DROP after a restore. */
  countMs: number;
  dropMs: number;
  toolsCpu: number;
  pgCpu: number;
  checkpoints: number;
  activity: Map<string, number>;
}

interface BareRun {
  dump: BareStep;
  dumpWithCounts: BareStep;
  restore: BareStep;
  /** pg_restore --jobs=N of the same file, N = the server's CAPYDB_RESTORE_JOBS in this run. */
  restoreParallel: BareStep;
}

/** The application_name of the bench's own count(*) in an exported snapshot (as the server's "capydb-backup"). */
const BARE_COUNTS_APP = "capydb-bench-counts";

class Bench {
  private readonly seenBackups = new Set<string>();

  constructor(
    readonly server: BenchServer,
    readonly org: CapyClient,
    readonly su: pg.Client,
    readonly control: pg.Client,
    readonly projectId: string,
    readonly database: string,
    readonly settleMs: number,
  ) {}

  get pgDataDir(): string {
    return path.join(this.server.dataDir, "pg");
  }

  settle(): Promise<void> {
    return settle([this.su], [this.server.dataDir], this.settleMs);
  }

  classifier(): (r: ActivityRow) => string | null {
    const db = this.database;
    return (r) => {
      const ddl = classifyDatabaseDdl(r);
      if (ddl) return ddl;
      if (r.datname === db) {
        if (r.application_name === "capydb-backup" || r.application_name === BARE_COUNTS_APP) return "row counts in the dump's snapshot";
        if (r.application_name === "capydb" || r.application_name === BARE_APP)
          return /^COPY /i.test(r.query.trimStart()) ? "pg_dump: COPY (table data)" : "pg_dump: catalog queries";
        return null;
      }
      if (r.datname && (r.datname.startsWith(`${db}_vf_`) || r.datname.startsWith("bench_restore_"))) return classifyRestore(r);
      return null;
    };
  }

  async apiBackup(label: string): Promise<ApiRun> {
    await this.settle();
    const sampler = await ActivitySampler.start(this.server.clusterAdminUrl(), this.classifier());
    const node0 = processCpuSeconds(this.server.pid);
    const all0 = processCpuSeconds(this.server.pid, true);
    const pg0 = postgresCpuSeconds(this.pgDataDir);
    const cp0 = await checkpointsRequested(this.su);
    const t0 = performance.now();
    const { job } = await this.org.createBackup(this.projectId, { label });
    const { backups } = await this.org.listBackups(this.projectId);
    const mine = backups.filter((b) => !this.seenBackups.has(b.id));
    if (mine.length !== 1) throw new Error(`expected one new backup after POST, found ${mine.length}`);
    const backupId = mine[0].id;
    this.seenBackups.add(backupId);

    let completedSeenWall = NaN;
    let backup: Backup = mine[0];
    const deadline = Date.now() + JOB_TIMEOUT_MS;
    for (;;) {
      backup = (await this.org.getBackup(backupId)).backup;
      if (backup.state === "completed" && Number.isNaN(completedSeenWall)) completedSeenWall = Date.now();
      if (backup.state === "failed") throw new Error(`backup ${backupId} failed: ${(await this.org.getJob(job.id)).job.error}`);
      if (backup.verification_state !== "pending") break;
      if (Date.now() > deadline) throw new Error(`backup ${backupId} not verified within ${JOB_TIMEOUT_MS / 60_000} min`);
      await sleep(POLL_MS);
    }
    if (backup.verification_state !== "verified") throw new Error(`backup ${backupId} failed verification: ${backup.verification_error}`);
    const done: Job = await this.org.waitForJob(job.id, { pollMs: POLL_MS, maxPollMs: POLL_MS, timeoutMs: JOB_TIMEOUT_MS });
    const totalMs = performance.now() - t0;
    const { rows } = await this.control.query<{ completed_at: Date; verified_at: Date }>("SELECT completed_at, verified_at FROM backups WHERE id = $1", [
      backupId,
    ]);
    const completedAt = rows[0].completed_at.getTime();
    const verifiedAt = rows[0].verified_at.getTime();
    const nodeCpu = processCpuSeconds(this.server.pid) - node0;
    const toolsCpu = processCpuSeconds(this.server.pid, true) - all0 - nodeCpu;
    const pgCpu = postgresCpuSeconds(this.pgDataDir) - pg0;
    const checkpoints = (await checkpointsRequested(this.su)) - cp0;
    const activity = await sampler.stop();
    return {
      totalMs,
      queueMs: msBetween(done.created_at, done.claimed_at),
      jobMs: msBetween(done.created_at, done.completed_at),
      backupMs: completedAt - Date.parse(done.claimed_at!),
      verifyMs: verifiedAt - completedAt,
      seenLagMs: completedSeenWall - completedAt,
      tailMs: Date.parse(done.completed_at!) - verifiedAt,
      attempts: done.attempts,
      archiveBytes: backup.size_bytes ?? NaN,
      activity,
      nodeCpu,
      toolsCpu,
      pgCpu,
      checkpoints,
    };
  }

  /** Settles, then runs `body` with the sampler, CPU and checkpoint accounting around it. */
  private async measure(body: () => Promise<Partial<BareStep>>): Promise<BareStep> {
    await this.settle();
    const sampler = await ActivitySampler.start(this.server.clusterAdminUrl(), this.classifier());
    const tools0 = reapedChildrenCpuSeconds();
    const pg0 = postgresCpuSeconds(this.pgDataDir);
    const cp0 = await checkpointsRequested(this.su);
    const t0 = performance.now();
    const extra = await body();
    const ms = performance.now() - t0;
    // Not measured: the tools' backends exit after the tools do; give the postmaster a moment to reap them (CPU accounting).
    await sleep(300);
    return {
      ms,
      bytes: NaN,
      countMs: NaN,
      dropMs: NaN,
      ...extra,
      toolsCpu: reapedChildrenCpuSeconds() - tools0,
      pgCpu: postgresCpuSeconds(this.pgDataDir) - pg0,
      checkpoints: (await checkpointsRequested(this.su)) - cp0,
      activity: await sampler.stop(),
    };
  }

  private dumpArgs(file: string, snapshot?: string): string[] {
    return ["--format=custom", "--compress=6", ...(snapshot ? [`--snapshot=${snapshot}`] : []), `--file=${file}`, "--dbname", this.database];
  }

  /** Bare pg_dump -Fc --compress=6 to `file` (pg_dump fsyncs it). */
  bareDump(file: string): Promise<BareStep> {
    fs.rmSync(file, { force: true });
    return this.measure(async () => {
      await runTool(path.join(pgBinDir(), "pg_dump"), this.dumpArgs(file), libpqEnv(this.server.clusterAdminUrl()));
      return { bytes: fs.statSync(file).size };
    });
  }

  /**
   * The server's dump step with bare tools: a REPEATABLE READ transaction exports its snapshot,
   * pg_dump --snapshot dumps it to `file` while count(*) of every table runs in that transaction
   * (without parallel workers or JIT, as the server counts).
   */
  bareDumpWithCounts(file: string): Promise<BareStep> {
    fs.rmSync(file, { force: true });
    return this.measure(async () => {
      const holder = await connect(this.server.clusterAdminUrl(), this.database, BARE_COUNTS_APP);
      try {
        await holder.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        const { rows } = await holder.query<{ id: string }>("SELECT pg_export_snapshot() AS id");
        await holder.query("SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off");
        await Promise.all([
          runTool(path.join(pgBinDir(), "pg_dump"), this.dumpArgs(file, rows[0].id), libpqEnv(this.server.clusterAdminUrl())),
          countAllRows(holder),
        ]);
        await holder.query("COMMIT");
      } finally {
        await holder.end().catch(() => {});
      }
      return { bytes: fs.statSync(file).size };
    });
  }

  /** CREATE DATABASE + pg_restore of `file` with `jobs` workers (timed), then count(*) of every table and DROP DATABASE (timed apart). */
  bareRestore(file: string, jobs = 1): Promise<BareStep> {
    const target = `bench_restore_${randomSuffix(4)}`;
    let restoreMs = 0;
    return this.measure(async () => {
      const t0 = performance.now();
      await this.su.query(`CREATE DATABASE ${quoteIdent(target)}`);
      const parallel = jobs > 1 ? [`--jobs=${jobs}`] : [];
      await runTool(
        path.join(pgBinDir(), "pg_restore"),
        ["--no-owner", "--no-privileges", ...parallel, "--dbname", target, file],
        libpqEnv(this.server.clusterAdminUrl()),
      );
      restoreMs = performance.now() - t0;
      const t1 = performance.now();
      const inside = await connect(this.server.clusterAdminUrl(), target);
      try {
        await countAllRows(inside);
      } finally {
        await inside.end().catch(() => {});
      }
      const countMs = performance.now() - t1;
      const t2 = performance.now();
      await this.su.query(`DROP DATABASE ${quoteIdent(target)}`);
      return { countMs, dropMs: performance.now() - t2 };
    }).then((step) => ({ ...step, ms: restoreMs }));
  }
}

// ---------------------------------------------------------------- the bench

export async function main(): Promise<void> {
  const scale = envInt("BENCH_SCALE", DEFAULT_SCALE);
  const runs = envInt("BENCH_RUNS", 1);
  const settleMs = envInt("BENCH_SETTLE_MS", 2000);
  const restoreJobs = envInt("BENCH_RESTORE_JOBS", 2);
  const tables = process.env.BENCH_DATA === "tables";
  const rows = envInt("BENCH_ROWS", 1_000_000);
  const knobs = [
    tables ? "BENCH_DATA=tables" : "",
    tables && rows !== 1_000_000 ? `BENCH_ROWS=${rows}` : "",
    restoreJobs !== 2 ? `BENCH_RESTORE_JOBS=${restoreJobs}` : "",
    scale !== DEFAULT_SCALE ? `BENCH_SCALE=${scale}` : "",
    runs !== 1 ? `BENCH_RUNS=${runs}` : "",
    settleMs !== 2000 ? `BENCH_SETTLE_MS=${settleMs}` : "",
  ].filter(Boolean);
  printHeader(
    "Backups: API backup + verification vs bare pg_dump -Fc --compress=6 and bare pg_restore",
    `${knobs.length ? knobs.join(" ") + " " : ""}npx tsx test/bench/backups.ts`,
  );
  // pgbench: ~15.5 MB per scale unit; the project, the verification's scratch copy, the bare
  // restore, WAL and the archives: ~4x the database at the peak.
  checkFreeSpace(os.tmpdir(), 4 * scale * 16 * MB + 2 * 2 ** 30);

  let server: BenchServer | null = null;
  let admin: CapyClient | null = null;
  let org: CapyClient | null = null;
  let su: pg.Client | null = null;
  let control: pg.Client | null = null;
  try {
    log("starting a CapyDB server (embedded PostgreSQL, fresh data dir)");
    log(`the server restores with CAPYDB_RESTORE_JOBS=${restoreJobs} (BENCH_RESTORE_JOBS)`);
    server = await startServer({ env: { CAPYDB_RESTORE_JOBS: String(restoreJobs) } });
    admin = new CapyClient({ baseUrl: server.url, apiKey: server.adminKey, retries: 0 });
    const { organization } = await admin.createOrganization({ name: `bench-backups-${randomSuffix()}` });
    const { secret } = await admin.createApiKey(organization.id, { name: "bench-backups" });
    org = new CapyClient({ baseUrl: server.url, apiKey: secret, retries: 0 });
    const { job, project } = await org.createProject({ name: `bench-bk-s${scale}-${randomSuffix(2)}` });
    await org.waitForJob(job.id, { pollMs: POLL_MS, maxPollMs: 500, timeoutMs: 120_000 });
    su = await connect(server.clusterAdminUrl());
    control = await connect(server.clusterAdminUrl("capydb"));

    const data = tables ? `8 tables of ${rows.toLocaleString("en-US")} rows with a primary key and 2 indexes each` : `pgbench -i -s ${scale}`;
    log(`${data} into ${project.database_name} (as ${project.role_name}, through the project's connection URI)`);
    const uri = await org.getConnectionUri(project.id);
    const loadSeconds = tables ? await loadTables(uri, rows) : await loadPgbench(uri, scale);
    const dbBytes = await databaseSize(su, project.database_name);
    log(`loaded in ${fmt(loadSeconds, 1)} s: pg_database_size ${fmt(dbBytes / MB, 1)} MB`);
    const bench = new Bench(server, org, su, control, project.id, project.database_name, settleMs);
    // Unmeasured: read every table once (page cache, hint bits), so the first measured reader pays no more than the others.
    const warm = await connect(server.clusterAdminUrl(), project.database_name);
    await countAllRows(warm).finally(() => warm.end().catch(() => {}));

    const dumpFile = path.join(server.dataDir, "bench-bare.dump");
    const api: ApiRun[] = [];
    const bare: BareRun[] = [];
    for (let i = 0; i < runs; i++) {
      const step = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
        log(`run ${i + 1}/${runs}: ${what}`);
        return f();
      };
      let a: ApiRun | null = null;
      if (i % 2 === 1) a = await step("API backup + verification", () => bench.apiBackup(`bench run ${i + 1}`));
      const dumpWithCounts = await step("bare pg_dump --snapshot + count(*) in the snapshot", () => bench.bareDumpWithCounts(dumpFile));
      const dump = await step("bare pg_dump", () => bench.bareDump(dumpFile));
      if (i % 2 === 0) a = await step("API backup + verification", () => bench.apiBackup(`bench run ${i + 1}`));
      const restore = await step("bare pg_restore (+ counts, DROP)", () => bench.bareRestore(dumpFile));
      const restoreParallel = await step(`bare pg_restore --jobs=${restoreJobs} (+ counts, DROP)`, () => bench.bareRestore(dumpFile, restoreJobs));
      api.push(a!);
      bare.push({ dump, dumpWithCounts, restore, restoreParallel });
      log(
        `run ${i + 1}: API ${fmt(a!.totalMs / 1000, 1)} s (backup ${fmt(a!.backupMs / 1000, 1)} s, verification ${fmt(a!.verifyMs / 1000, 1)} s); ` +
          `bare pg_dump ${fmt(dump.ms / 1000, 1)} s (with counts ${fmt(dumpWithCounts.ms / 1000, 1)} s), bare pg_restore ${fmt(restore.ms / 1000, 1)} s ` +
          `(--jobs=${restoreJobs}: ${fmt(restoreParallel.ms / 1000, 1)} s)`,
      );
    }
    report(data, loadSeconds, dbBytes, api, bare, restoreJobs);
  } finally {
    await su?.end().catch(() => {});
    await control?.end().catch(() => {});
    await org?.close();
    await admin?.close();
    await server?.stop();
  }
}

function report(data: string, loadSeconds: number, dbBytes: number, api: ApiRun[], bare: BareRun[], restoreJobs: number): void {
  const out = (text: string) => process.stdout.write(text);
  const n = api.length;
  const med = (values: number[]) => median(values);
  const sec = (values: number[]) => med(values) / 1000;
  const all = (values: number[]) => values.map((v) => fmt(v / 1000, 1)).join(", ");
  const dump = bare.map((b) => b.dump);
  const dumpC = bare.map((b) => b.dumpWithCounts);
  const restore = bare.map((b) => b.restore);
  const restoreP = bare.map((b) => b.restoreParallel);
  out(
    `Database: ${data} through the project's connection URI (loaded in ${fmt(loadSeconds, 1)} s), ` +
      `pg_database_size ${fmt(dbBytes / MB, 1)} MB; archive ${fmt(med(api.map((a) => a.archiveBytes)) / MB, 1)} MB (API), ` +
      `${fmt(med(dump.map((d) => d.bytes)) / MB, 1)} MB (bare pg_dump). ` +
      `${n} run${n === 1 ? "" : "s"}${n > 1 ? " (medians; the API goes after the bare dumps in odd runs, before them in even ones)" : " (bare dumps, then API, then bare restore)"}; ` +
      `MB/s = pg_database_size / time (MB = 2^20 bytes).\n\n`,
  );
  const headers = ["series", "seconds", "MB/s", ...(n > 1 ? ["all runs (s)"] : [])];
  const row = (name: string, values: number[], rate = true) =>
    [name, fmt(sec(values), 2), rate ? fmt(dbBytes / MB / sec(values), 1) : "", all(values)].slice(0, headers.length);
  printTable(headers, [
    row(
      `API: POST backup → job succeeded (backup + verification; client clock, polled every ${POLL_MS} ms)`,
      api.map((a) => a.totalMs),
    ),
    row(
      "  the job on the server clock (created → completed)",
      api.map((a) => a.jobMs),
    ),
    row(
      "  queue wait (job created → claimed)",
      api.map((a) => a.queueMs),
      false,
    ),
    row(
      "  backup part (job claimed → backup row completed_at)",
      api.map((a) => a.backupMs),
    ),
    row(
      "  verification part (backup row completed_at → verified_at)",
      api.map((a) => a.verifyMs),
    ),
    row(
      "  after the verdict (verified_at → job completed)",
      api.map((a) => a.tailMs),
      false,
    ),
    row(
      "bare pg_dump -Fc --compress=6 to a file",
      dump.map((d) => d.ms),
    ),
    row(
      "bare pg_dump --snapshot + count(*) of every table in that snapshot, at once (the server's dump step, bare)",
      dumpC.map((d) => d.ms),
    ),
    row(
      "bare CREATE DATABASE + pg_restore --no-owner --no-privileges (1 job)",
      restore.map((r) => r.ms),
    ),
    row(
      `bare CREATE DATABASE + pg_restore --no-owner --no-privileges --jobs=${restoreJobs} (what the server runs)`,
      restoreP.map((r) => r.ms),
    ),
    row(
      "  then: count(*) of every table of the restored copy",
      restore.map((r) => r.countMs),
      false,
    ),
    row(
      "  then: DROP DATABASE of the restored copy",
      restore.map((r) => r.dropMs),
      false,
    ),
    row(
      "bare pg_dump + pg_restore + counts + DROP (the job's steps, bare, without the snapshot counts)",
      bare.map((b) => b.dump.ms + b.restore.ms + b.restore.countMs + b.restore.dropMs),
    ),
  ]);

  const backupRatio = med(api.map((a) => a.backupMs)) / med(dump.map((d) => d.ms));
  const countsRatio = med(dumpC.map((d) => d.ms)) / med(dump.map((d) => d.ms));
  const overCounts = med(api.map((a) => a.backupMs)) / med(dumpC.map((d) => d.ms));
  const verifyRatio = med(api.map((a) => a.verifyMs)) / med(restore.map((r) => r.ms));
  const verifyRatioP = med(api.map((a) => a.verifyMs)) / med(restoreP.map((r) => r.ms));
  const jobRatio = med(api.map((a) => a.totalMs)) / med(bare.map((b) => b.dump.ms + b.restore.ms));
  out(
    `\nRatios (of medians): backup part / bare pg_dump = ${fmt(backupRatio, 2)}× ` +
      `(bare pg_dump with the snapshot counts / bare pg_dump = ${fmt(countsRatio, 2)}×; backup part / that = ${fmt(overCounts, 2)}×); ` +
      `verification part / bare pg_restore = ${fmt(verifyRatio, 2)}× (/ bare pg_restore --jobs=${restoreJobs} = ${fmt(verifyRatioP, 2)}×); whole job / (bare pg_dump + bare pg_restore) = ${fmt(jobRatio, 2)}×.\n`,
  );
  out(`Goal: backup ≤ ${GOAL_BACKUP_RATIO}× bare pg_dump: ${backupRatio <= GOAL_BACKUP_RATIO ? "MET" : "NOT MET"} (${fmt(backupRatio, 2)}×).\n`);
  out(`Goal: verification ≤ ${GOAL_VERIFY_RATIO}× bare pg_restore: ${verifyRatio <= GOAL_VERIFY_RATIO ? "MET" : "NOT MET"} (${fmt(verifyRatio, 2)}×).\n`);
  out(
    `Cross-check: GET /v1/backups/{id} (polled every ${POLL_MS} ms) first showed \`completed\` ${api.map((a) => fmt(a.seenLagMs, 0)).join(", ")} ms after completed_at.\n`,
  );
  if (api.some((a) => a.attempts > 1))
    out(`Note: a job needed more than one attempt (attempts: ${api.map((a) => a.attempts).join(", ")}): the split includes the retry.\n`);

  out(
    `\nWhere the time goes: seconds a kind of work was seen active in pg_stat_activity (sampled every ${SAMPLE_MS} ms; median over runs; work running at once is counted for each).\n\n`,
  );
  const series: Array<[string, Array<{ activity: Map<string, number> }>]> = [
    ["API job", api],
    ["bare pg_dump", dump],
    ["bare pg_dump + snapshot counts", dumpC],
    ["bare restore + counts + DROP", restore],
  ];
  const keys = [...new Set(series.flatMap(([, runs]) => runs.flatMap((r) => [...r.activity.keys()])))].sort();
  printTable(
    ["activity", ...series.map(([name]) => name)],
    keys.map((k) => [k, ...series.map(([, runs]) => fmt(med(runs.map((r) => r.activity.get(k) ?? 0)), 1))]),
  );
  out(`\nCPU seconds (median):\n\n`);
  const blank = "-";
  printTable(
    ["process", ...series.map(([name]) => name)],
    [
      ["the server's node process (HTTP, job, piping + sha256 of the archive)", fmt(med(api.map((a) => a.nodeCpu)), 1), blank, blank, blank],
      ["pg_dump / pg_restore processes", fmt(med(api.map((a) => a.toolsCpu)), 1), ...[dump, dumpC, restore].map((r) => fmt(med(r.map((x) => x.toolsCpu)), 1))],
      [
        "PostgreSQL (postmaster, backends, background processes)",
        fmt(med(api.map((a) => a.pgCpu)), 1),
        ...[dump, dumpC, restore].map((r) => fmt(med(r.map((x) => x.pgCpu)), 1)),
      ],
      [
        "checkpoints requested (WAL past max_wal_size; DROP DATABASE requests one and waits)",
        fmt(med(api.map((a) => a.checkpoints)), 0),
        ...[dump, dumpC, restore].map((r) => fmt(med(r.map((x) => x.checkpoints)), 0)),
      ],
    ],
  );
  out(
    `\nLoad average at the end: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(", ")} (1, 5, 15 min).\n`,
  );
}

runIfMain(import.meta.url, main);
