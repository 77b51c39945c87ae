// The write pause of a data cutover that carries production's writes over (issue #19), measured
// through the API of a real CapyDB server on the instance engine, with writers running:
//
//   npx tsx test/bench/cutover.ts        (as root: the data lives on a loop-mounted XFS image)
//
// Knobs: BENCH_SIZE_MB (production's size, default 1024), BENCH_WRITES_PER_SECOND (all writers
// together, default 200), BENCH_WRITERS_PER_SIDE (connections through PgBouncer and as many
// direct ones, default 4), BENCH_PHASE_SECONDS (how long writers run before each measured step,
// default 10).
//
// Production is filled with generated rows (a wide table, ~900 bytes a row) until
// pg_database_size reaches BENCH_SIZE_MB; then a ledger table receives numbered rows from the
// writers: half of them through PgBouncer (the pooled URI), half directly, each at a fixed pace,
// one insert (one transaction) at a time, every acknowledged commit recorded with its latency.
// A preview is made (its origin: production's WAL position when the snapshot was taken) and
// migrated (a column, an index, and bench_side() answering 'preview', which stamps the ledger's
// rows by default: a row that says 'production' was written to production before the swap and
// carried over, one that says 'preview' was written to the new production after it).
//
//   phase 1: writers run, stop; the cutover request is opened and its writes_since_origin must
//            equal, exactly, the inserts the writers saw acknowledged (the bench itself writes
//            nothing to production after the snapshot).
//   phase 2: writers run again; the request is acknowledged and executed (the verified
//            pre-cutover backup, the catch-up, the pause, the swap); writers go on a little
//            against the new production, stop. Every acknowledged write must be in production
//            exactly once and pooled writers must have seen no error.
//   phase 3: writers run against the new production; the cutover is rolled back (production's
//            writes since the swap carried back into the previous data under the same kind of
//            pause); writers go on a little, stop. Every acknowledged write of the three phases
//            must be in production exactly once, and pooled writers must have seen no error.
//
// The server's carry_over.pause_ms is the pause; its start and end on the clock are read from
// the server's log line "the write pause, ms from its start" (log level info), which gives the
// writes that were in flight during it. The naive baseline, in the same run: what a cutover
// without carry-over (the behaviour before #19) loses, i.e. the acknowledged writes made to
// production between the snapshot and the swap (the rows stamped 'production'), and the
// request's own count of what it carried.
//
// Prints figures; exits non-zero (after printing) when a write was lost or doubled, a pooled
// writer saw an error, or writes_since_origin differs from the writers' count.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { CapyClient, type Cutover } from "@capydb/api";
import { reflinkDir, type ReflinkDir } from "../harness/reflink.js";
import { wallClock, writer, type Ack, type Writer } from "../harness/writers.js";
import {
  benchLog as log,
  envInt,
  fmt,
  freePort,
  printHeader,
  printTable,
  randomSuffix,
  registerCleanup,
  runIfMain,
  settleProject,
  sleep,
  startServer,
  stopInstances,
  summarize,
  waitProjectIdle,
  type BenchServer,
} from "./lib.js";

const SIZE_MB = envInt("BENCH_SIZE_MB", 1024);
const WRITES_PER_SECOND = envInt("BENCH_WRITES_PER_SECOND", 200);
const WRITERS_PER_SIDE = envInt("BENCH_WRITERS_PER_SIDE", 4);
const PHASE_SECONDS = envInt("BENCH_PHASE_SECONDS", 10);
/** Writers go on this long against the new production after the cutover's job is done. */
const AFTER_SECONDS = 3;
/** The issue's goal: the write pause at 1 GB with 200 writes/s. */
const PAUSE_GOAL_MS = 1000;
const POLL_MS = 20;
const JOB_TIMEOUT_MS = 60 * 60_000;
const MB = 1024 * 1024;
/** Rows per INSERT of the fill (~60 MB): each statement short, progress visible. */
const FILL_ROWS_PER_STATEMENT = 65_536;
const PAUSE_LOG_LINE = "the write pause, ms from its start";
const SWAP_LOG_LINE = "the swap, ms from its start";
const REQUEST_TIMEOUT_MS = 10 * 60_000;

const now = wallClock;

// ---------------------------------------------------------------- writers

/**
 * One connection inserting numbered ledger rows at a fixed pace (test/harness/writers.ts), one
 * transaction each, keeping its schedule after a stall as a paused client would. Started again,
 * it goes on with the next numbers; what it saw is kept across its runs.
 */
class BenchWriter {
  readonly acks: Ack[] = [];
  readonly errors: { at: number; message: string }[] = [];
  private nextNumber = 1;
  private current: Writer | null = null;

  constructor(
    readonly name: string,
    readonly pooled: boolean,
    private readonly uri: string,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.current = writer(this.name, this.uri, {
      intervalMs: this.intervalMs,
      catchUp: true,
      firstNumber: this.nextNumber,
      applicationName: `capydb-bench-${this.name}`,
    });
  }

  async stop(): Promise<void> {
    if (!this.current) return;
    const r = await this.current.stop();
    this.current = null;
    this.acks.push(...r.acks);
    this.errors.push(...r.failures);
    this.nextNumber = Math.max(this.nextNumber - 1, ...r.acks.map((a) => a.n), ...r.failures.map((f) => f.n)) + 1;
  }
}

function startWriters(writers: BenchWriter[]): void {
  for (const w of writers) w.start();
}

async function stopWriters(writers: BenchWriter[]): Promise<void> {
  await Promise.all(writers.map((w) => w.stop()));
}

const ackCount = (writers: BenchWriter[]) => writers.reduce((sum, w) => sum + w.acks.length, 0);

// ---------------------------------------------------------------- SQL as the tenant

async function withClient<T>(uri: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: uri, application_name: "capydb-bench" });
  client.on("error", () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

const PRODUCTION_SCHEMA = `
  CREATE FUNCTION bench_side() RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'production' $$;
  CREATE TABLE ledger (
    id bigserial PRIMARY KEY,
    writer text NOT NULL,
    n int NOT NULL,
    side text NOT NULL DEFAULT bench_side(),
    at timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  CREATE TABLE wide (id bigint PRIMARY KEY, a text NOT NULL, b text NOT NULL, c text NOT NULL, d text NOT NULL);`;

/** The preview's small migration; bench_side() now stamps rows written to the preview's data. */
const PREVIEW_MIGRATION = `
  CREATE OR REPLACE FUNCTION bench_side() RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'preview' $$;
  ALTER TABLE ledger ADD COLUMN note text;
  CREATE INDEX ledger_writer_n ON ledger (writer, n);`;

/** Fills `wide` (rows of ~900 bytes: stored inline, not compressed) until the database reaches the size; its bytes. */
async function fill(uri: string, targetBytes: number): Promise<{ bytes: number; rows: number; seconds: number }> {
  const t0 = performance.now();
  return withClient(uri, async (c) => {
    // the project's role has a 30 s statement_timeout by default: a big statement needs more on a busy machine
    await c.query("SET statement_timeout = 0");
    let rows = 0;
    let bytes = 0;
    for (;;) {
      bytes = Number((await c.query<{ n: string }>("SELECT pg_database_size(current_database())::text AS n")).rows[0].n);
      if (bytes >= targetBytes) break;
      await c.query(
        `INSERT INTO wide (id, a, b, c, d)
         SELECT g, repeat(md5(g::text), 7), repeat(md5((g + 1)::text), 7), repeat(md5((g + 2)::text), 7), repeat(md5((g + 3)::text), 7)
           FROM generate_series($1::bigint, $2::bigint) g`,
        [rows + 1, rows + FILL_ROWS_PER_STATEMENT],
      );
      rows += FILL_ROWS_PER_STATEMENT;
      log(`  filled ${fmt(bytes / MB, 0)} MB of ${fmt(targetBytes / MB, 0)} MB`);
    }
    await c.query("VACUUM (ANALYZE) wide"); // as production would be: hint bits set, visibility map built
    bytes = Number((await c.query<{ n: string }>("SELECT pg_database_size(current_database())::text AS n")).rows[0].n);
    return { bytes, rows, seconds: (performance.now() - t0) / 1000 };
  });
}

/**
 * The WAL production's replication slots hold back (what each read of the origin slot decodes
 * through), as the tenant sees pg_replication_slots; "n/a" with the reason when it cannot.
 */
async function slotWalHeld(uri: string): Promise<string> {
  try {
    const rows = await withClient(uri, (c) =>
      c.query<{ mb: string }>(
        "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) / 1048576.0)::text AS mb FROM pg_replication_slots WHERE database = current_database() ORDER BY slot_name",
      ),
    );
    return rows.rows.length ? rows.rows.map((r) => `${r.mb} MB`).join(" + ") : "no slot";
  } catch (err) {
    return `n/a (${(err as Error).message})`;
  }
}

// ---------------------------------------------------------------- the server's view of the pause

/** The pause's start and end on the wall clock, from the server's log line (null when it is not there). */
function pauseFromLog(
  server: BenchServer,
  cutoverId: string,
  which: "cutover" | "rollback" = "cutover",
): { start: number; end: number; phases: Record<string, number> } | null {
  let text = "";
  try {
    text = fs.readFileSync(path.join(server.dataDir, "server.log"), "utf8");
  } catch {
    return null;
  }
  // the line names the cutover by its id or by its carry slot's name (the id, lowercased, non-alphanumerics as "_")
  const slotForm = cutoverId.replace(/[^a-z0-9]/gi, "_").toLowerCase();
  // the swap's own steps are logged just before the pause's line
  let swap: Record<string, unknown> = {};
  for (const line of text.split("\n")) {
    if (line.includes(SWAP_LOG_LINE)) {
      try {
        swap = JSON.parse(line) as Record<string, unknown>;
      } catch {
        // not a JSON line
      }
      continue;
    }
    if (!line.includes(PAUSE_LOG_LINE)) continue;
    // a rollback's carry is named after the cutover's, with "_back"
    if (!(line.includes(cutoverId) || line.includes(slotForm)) || line.includes(`${slotForm}_back`) !== (which === "rollback")) {
      swap = {}; // that swap was another pause's
      continue;
    }
    try {
      const entry = JSON.parse(line) as { time: number; swapped: number } & Record<string, unknown>;
      const phases: Record<string, number> = {};
      // the swap's steps, as ms from the pause's start
      const swapStart = entry.replay_ended ?? entry.slot_dropped;
      for (const k of ["names_taken", "pools_dropped", "production_stopped", "preview_stopped", "stopped", "started"]) {
        if (typeof swap[k] === "number" && typeof swapStart === "number") phases[`swap_${k}`] = swapStart + (swap[k] as number);
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v === "number" && !["level", "time", "pid"].includes(k)) phases[k] = v;
      }
      // logged right after the swap, before RESUME: the end is a few ms later than this
      return { start: entry.time - entry.swapped, end: entry.time, phases };
    } catch {
      // not a JSON line
    }
  }
  return null;
}

// ---------------------------------------------------------------- the bench

interface Windows {
  phase2Start: number;
  /** when the writers of the phase stopped (phase 3's writes are not the cutover's "after") */
  phase2End?: number;
  executeAt: number;
  jobDoneAt: number;
  pause: { start: number; end: number; phases: Record<string, number> } | null;
}

async function startCutoverServer(mount: string): Promise<{ server: BenchServer; instancesDir: string }> {
  const dataDir = path.join(mount, "data");
  fs.mkdirSync(dataDir, { mode: 0o755 });
  fs.chmodSync(dataDir, 0o755); // the postgres OS user walks through it
  const instancesDir = path.join(dataDir, "instances");
  const firstPort = await freePort();
  const server = await startServer({
    env: {
      CAPYDB_DATA_DIR: dataDir,
      CAPYDB_DATA_PLANE_ENGINE: "instances",
      CAPYDB_INSTANCES_DIR: instancesDir,
      CAPYDB_INSTANCE_PORTS: `${firstPort}-${firstPort + 20}`,
      // the pause's log line, with its phases; request logging stays off below debug
      CAPYDB_LOG_LEVEL: "info",
      // one snapshot, taken by the preview: no background refresh moves the origin or loads the machine
      CAPYDB_SNAPSHOT_MAX_AGE_SECONDS: "86400",
      CAPYDB_SNAPSHOT_REFRESH_AHEAD: "false",
      // the free plan's own connection default (lib.ts lowers it to 5): the writers' direct and pooled sessions fit
      CAPYDB_PLANS: JSON.stringify({ free: { projects_per_organization: 100_000, manual_backups_per_project: 100_000, default_max_connections: 20 } }),
    },
  });
  return { server, instancesDir };
}

export async function main(): Promise<void> {
  const knobs = [
    SIZE_MB !== 1024 ? `BENCH_SIZE_MB=${SIZE_MB}` : "",
    WRITES_PER_SECOND !== 200 ? `BENCH_WRITES_PER_SECOND=${WRITES_PER_SECOND}` : "",
    WRITERS_PER_SIDE !== 4 ? `BENCH_WRITERS_PER_SIDE=${WRITERS_PER_SIDE}` : "",
    PHASE_SECONDS !== 10 ? `BENCH_PHASE_SECONDS=${PHASE_SECONDS}` : "",
  ].filter(Boolean);
  printHeader(
    "Data cutover with carry-over: the write pause under load (instance engine)",
    `${knobs.length ? knobs.join(" ") + " " : ""}npx tsx test/bench/cutover.ts`,
  );

  // production, the preview's reflink clone, the pre-cutover backup and its verification restore
  const imageGb = Math.max(20, Math.ceil(SIZE_MB / 1024) * 6 + 10);
  const fsDir: ReflinkDir = reflinkDir("bench-cutover", imageGb);
  let server: BenchServer | null = null;
  let instancesDir: string | null = null;
  const cleanup = registerCleanup(async () => {
    await server?.stop();
    if (instancesDir) await stopInstances(instancesDir);
    await fsDir.cleanup();
  });
  try {
    log(`starting a CapyDB server on the instance engine, data on ${fsDir.dir}${fsDir.reflink ? " (XFS, reflink)" : " (NOT reflink: copies)"}`);
    ({ server, instancesDir } = await startCutoverServer(fsDir.dir));
    await measure(server, fsDir).catch((err: unknown) => {
      log(`failed; the server's last lines:\n${server?.output() ?? ""}`);
      throw err;
    });
  } finally {
    await cleanup();
  }
}

async function measure(server: BenchServer, fsDir: ReflinkDir): Promise<void> {
  const out = (text: string) => process.stdout.write(text);
  const problems: string[] = [];
  // the cutover's requests read production's slot while they answer: the default 30 s may not do on a busy machine
  const admin = new CapyClient({ baseUrl: server.url, apiKey: server.adminKey, retries: 0, timeoutMs: REQUEST_TIMEOUT_MS });
  const { organization } = await admin.createOrganization({ name: `bench-cutover-${randomSuffix()}` });
  const { secret } = await admin.createApiKey(organization.id, { name: "bench-cutover" });
  const org = new CapyClient({ baseUrl: server.url, apiKey: secret, retries: 0, timeoutMs: REQUEST_TIMEOUT_MS });
  const answered: Record<string, number> = {};
  /** An API call, its answer time (ms) kept under `label`. */
  const timed = async <T>(label: string, call: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await call();
    } finally {
      answered[label] = performance.now() - t;
      log(`  ${label} answered in ${fmt(answered[label] / 1000, 2)} s`);
    }
  };
  const wait = (jobId: string, client: CapyClient = org) => client.waitForJob(jobId, { pollMs: POLL_MS, maxPollMs: POLL_MS, timeoutMs: JOB_TIMEOUT_MS });
  const reported = new Set<string>();
  try {
    // ---- production, filled
    const { job, project } = await org.createProject({ name: `bench-cutover-${randomSuffix(2)}` });
    await wait(job.id);
    const direct = await org.getConnectionUri(project.id);
    const pooled = await org.getConnectionUri(project.id, { pooled: true });
    await withClient(direct, (c) => c.query(PRODUCTION_SCHEMA));
    log(`filling production (${project.database_name}) to ${SIZE_MB} MB`);
    const filled = await fill(direct, SIZE_MB * MB);
    log(`production is ${fmt(filled.bytes / MB, 0)} MB (${filled.rows.toLocaleString("en-US")} rows in ${fmt(filled.seconds, 0)} s)`);

    // ---- the preview (its snapshot is production's origin) and its migration
    await settleProject(() => waitProjectIdle(org, project.id, reported, JOB_TIMEOUT_MS), fsDir.dir, 1000);
    const t0 = performance.now();
    const made = await org.createPreview(project.id, { name: "bench-pr" });
    await wait(made.job.id);
    const previewMs = performance.now() - t0;
    const previewUri = await org.getPreviewConnectionUri(made.preview.id);
    await withClient(previewUri, (c) => c.query(PREVIEW_MIGRATION));
    log(`preview ready in ${fmt(previewMs / 1000, 2)} s, migrated`);

    // ---- writers: half through PgBouncer, half direct, numbered rows
    const intervalMs = (1000 * 2 * WRITERS_PER_SIDE) / WRITES_PER_SECOND;
    const writers = [
      ...Array.from({ length: WRITERS_PER_SIDE }, (_, i) => new BenchWriter(`pooled-${i}`, true, pooled, intervalMs)),
      ...Array.from({ length: WRITERS_PER_SIDE }, (_, i) => new BenchWriter(`direct-${i}`, false, direct, intervalMs)),
    ];
    const pooledWriters = writers.filter((w) => w.pooled);
    const directWriters = writers.filter((w) => !w.pooled);

    // ---- phase 1: writes_since_origin against the writers' own count
    log(`phase 1: ${WRITES_PER_SECOND} writes/s for ${PHASE_SECONDS} s, then the request is opened`);
    startWriters(writers);
    await sleep(PHASE_SECONDS * 1000);
    await stopWriters(writers);
    const phase1Acked = ackCount(writers);
    const phase1Errors = writers.reduce((sum, w) => sum + w.errors.length, 0);
    const benchOwnWritesSinceSnapshot = 0; // the bench writes nothing to production after the preview is made
    const phase1Rows = await withClient(direct, (c) => c.query<{ n: string }>("SELECT count(*)::text AS n FROM ledger").then((r) => Number(r.rows[0].n)));
    const opened = (await timed("POST cutover request", () => org.createCutoverRequest(project.id, { preview_id: made.preview.id, mode: "data" })))
      .cutover_request;
    const counted = opened.writes_since_origin;
    const ledgerCounted = counted?.tables.find((t) => t.table === "public.ledger");
    const otherTables = (counted?.tables ?? []).filter((t) => t.table !== "public.ledger");
    const countedInserts = (counted?.tables ?? []).reduce((sum, t) => sum + t.inserts, 0);
    const countedOther = (counted?.tables ?? []).reduce((sum, t) => sum + t.updates + t.deletes, 0);
    const expected = phase1Acked + benchOwnWritesSinceSnapshot;
    const phase1Match = counted?.known === true && countedInserts === expected && countedOther === 0 && (ledgerCounted?.inserts ?? 0) === expected;
    if (!counted?.known) problems.push(`writes_since_origin is not known: ${counted?.reason ?? "the request has none"}`);
    else if (!phase1Match) {
      problems.push(
        `writes_since_origin (${countedInserts} inserts, ${countedOther} updates and deletes) differs from the writers' ${phase1Acked} acknowledged inserts (+ ${benchOwnWritesSinceSnapshot} of the bench's own)`,
      );
    }
    log(`phase 1: ${phase1Acked} acknowledged, writes_since_origin ${countedInserts} inserts (${phase1Match ? "exact" : "MISMATCH"})`);
    const slotWal: string[] = [await slotWalHeld(direct)];
    if (opened.carry_over?.possible !== true) problems.push(`carry-over is not possible: ${opened.carry_over?.reason ?? "no carry_over on the request"}`);

    // ---- phase 2: the cutover under load
    log(`phase 2: writers again; the cutover is executed after ${PHASE_SECONDS} s`);
    const phase2Start = now();
    startWriters(writers);
    await sleep(PHASE_SECONDS * 1000);
    await settleProject(() => waitProjectIdle(org, project.id, reported, JOB_TIMEOUT_MS), fsDir.dir, 0);
    await timed("POST acknowledge", () => admin.acknowledgeCutoverRequest(opened.id, {}));
    const executeAt = now();
    slotWal.push(await slotWalHeld(direct));
    const started = (await timed("POST execute", () => admin.executeCutoverRequest(opened.id))).cutover_request;
    slotWal.push(await slotWalHeld(direct));
    let jobError: string | null = null;
    await wait(started.promote_job_id!, admin).catch((err: unknown) => (jobError = (err as Error).message));
    const jobDoneAt = now();
    await sleep(AFTER_SECONDS * 1000);
    await stopWriters(writers);
    const phase2End = now();
    const done: Cutover = (await org.getCutoverRequest(opened.id)).cutover_request;
    const promoteJob = (await admin.getJob(started.promote_job_id!)).job;
    const pause = pauseFromLog(server, opened.id);
    const windows: Windows = { phase2Start, phase2End, executeAt, jobDoneAt, pause };
    if (jobError) problems.push(`the cutover's job failed: ${jobError}`);
    if (done.status !== "completed") problems.push(`the request is ${done.status}${done.failure_reason ? `: ${done.failure_reason}` : ""}`);
    if (done.carry_over?.state !== "done") {
      problems.push(
        `carry_over.state is ${done.carry_over?.state ?? "missing"} (possible: ${done.carry_over?.possible}, reason: ${done.carry_over?.reason ?? "none"}; ` +
          `writes_since_origin known: ${done.writes_since_origin?.known}, reason: ${done.writes_since_origin?.reason ?? "none"})`,
      );
    }

    // ---- every acknowledged write in production exactly once
    const inProduction = await withClient(direct, async (c) => {
      const hasNote = (await c.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'ledger' AND column_name = 'note'")).rowCount === 1;
      const rows = (await c.query<{ writer: string; n: number; side: string }>("SELECT writer, n, side FROM ledger")).rows;
      return { hasNote, rows };
    });
    if (!inProduction.hasNote) problems.push("production does not have the preview's migration (ledger.note)");
    const seen = new Map<string, { count: number; side: string }>();
    for (const r of inProduction.rows) {
      const key = `${r.writer}#${r.n}`;
      const s = seen.get(key);
      if (s) s.count += 1;
      else seen.set(key, { count: 1, side: r.side });
    }
    let missing = 0;
    let lostWithoutCarryOver = 0;
    let ackedAfterSwap = 0;
    const ackedKeys = new Set<string>();
    for (const w of writers) {
      for (const a of w.acks) {
        const key = `${w.name}#${a.n}`;
        ackedKeys.add(key);
        const s = seen.get(key);
        if (!s) missing += 1;
        else if (s.side === "production") lostWithoutCarryOver += 1;
        else ackedAfterSwap += 1;
      }
    }
    const doubled = [...seen.values()].filter((s) => s.count > 1).length;
    const committedUnacknowledged = [...seen.keys()].filter((k) => !ackedKeys.has(k)).length;
    const rowsFromOldProduction = inProduction.rows.filter((r) => r.side === "production").length;
    if (missing > 0) problems.push(`${missing} acknowledged writes are missing from production`);
    if (doubled > 0) problems.push(`${doubled} writes are in production more than once`);
    const pooledErrors = pooledWriters.flatMap((w) => w.errors);
    const directErrors = directWriters.flatMap((w) => w.errors);
    if (pooledErrors.length > 0)
      problems.push(`pooled writers saw ${pooledErrors.length} errors: ${[...new Set(pooledErrors.map((e) => e.message))].join(" | ")}`);

    // ---- output
    const carry = done.carry_over;
    const swapMs =
      pause && pause.phases.swapped !== undefined && pause.phases.replay_ended !== undefined ? pause.phases.swapped - pause.phases.replay_ended : null;
    const ledgerCarried = carry?.tables.find((t) => t.table === "public.ledger");
    out(
      `Production: ${fmt(filled.bytes / MB, 0)} MB (pg_database_size; \`wide\` ${filled.rows.toLocaleString("en-US")} rows, filled in ${fmt(filled.seconds, 0)} s), ` +
        `filesystem ${fsDir.reflink ? "XFS image with reflink=1, loop-mounted" : "NOT reflink (not root or no mkfs.xfs): the instance engine copies files"}. ` +
        `Writers: ${WRITES_PER_SECOND} writes/s in all, ${WRITERS_PER_SIDE} connections through PgBouncer and ${WRITERS_PER_SIDE} direct, ` +
        `each at ${fmt(1000 / intervalMs, 1)} inserts/s, one transaction each. Preview ready in ${fmt(previewMs / 1000, 2)} s (it took the snapshot: the origin).\n\n`,
    );
    out(`### Phase 1: writes_since_origin against the writers' own count\n\n`);
    printTable(
      ["measure", "value"],
      [
        ["writers' acknowledged inserts", phase1Acked],
        ["… their failed writes (outcome unknown)", phase1Errors],
        ["the bench's own writes to production since the snapshot", benchOwnWritesSinceSnapshot],
        ["ledger rows in production (counted by SELECT)", phase1Rows],
        [
          "writes_since_origin: public.ledger inserts / updates / deletes",
          ledgerCounted ? `${ledgerCounted.inserts} / ${ledgerCounted.updates} / ${ledgerCounted.deletes}` : "none",
        ],
        [
          "writes_since_origin: other tables",
          otherTables.length ? otherTables.map((t) => `${t.table} ${t.inserts}/${t.updates}/${t.deletes}`).join(", ") : "none",
        ],
        ["exact match", phase1Match ? "yes" : "NO"],
      ],
    );
    out(`\n### Phase 2: the data cutover with writers running\n\n`);
    const promoteSeconds =
      promoteJob.claimed_at && promoteJob.completed_at ? (Date.parse(promoteJob.completed_at) - Date.parse(promoteJob.claimed_at)) / 1000 : NaN;
    printTable(
      ["measure", "value"],
      [
        ["carry_over: state / possible / reason", `${carry?.state ?? "n/a"} / ${carry?.possible ?? "n/a"} / ${carry?.reason ?? "none"}`],
        ["carry_over.pause_ms (server)", carry?.pause_ms ?? "n/a"],
        [`goal: pause ≤ ${PAUSE_GOAL_MS} ms at 1 GB, 200 writes/s`, goalLine(carry?.pause_ms ?? null, filled.bytes)],
        [
          "… the pause's steps, ms from its start (server log)",
          pause
            ? Object.entries(pause.phases)
                .sort((a, b) => a[1] - b[1])
                .map(([k, v]) => `${k} ${v}`)
                .join(", ")
            : "log line not found",
        ],
        ["transactions carried (catch-up + drain)", carry?.transactions ?? "n/a"],
        ["… public.ledger inserts carried", ledgerCarried?.inserts ?? "n/a"],
        ["… rows in production written to the old production (stamped 'production')", rowsFromOldProduction],
        ["sequences set", carry?.sequences ?? "n/a"],
        ["writes_since_origin frozen at execute: inserts", (done.writes_since_origin?.tables ?? []).reduce((s, t) => s + t.inserts, 0)],
        [
          "API answer times (s): open / acknowledge / execute (each reads production's slot)",
          ["POST cutover request", "POST acknowledge", "POST execute"].map((k) => fmt((answered[k] ?? NaN) / 1000, 2)).join(" / "),
        ],
        ["WAL held by production's slots: after phase 1 / before execute / when execute answered", slotWal.join(" / ")],
        ["execute → job succeeded (s, client)", fmt((jobDoneAt - executeAt) / 1000, 2)],
        ["… the job's attempts", promoteJob.attempts],
        ["… the job, claimed → completed (s, server)", fmt(promoteSeconds, 2)],
        ["pooled writers' errors (must be 0)", pooledErrors.length],
        ["direct writers' failed writes", `${directErrors.length}${directErrors.length ? `: ${summarizeErrors(directErrors.map((e) => e.message))}` : ""}`],
        ["acknowledged writes in all (both phases)", ackedKeys.size],
        ["… missing from production", missing],
        ["… in production more than once (any write)", doubled],
        ["committed without an acknowledgement (in production, not counted)", committedUnacknowledged],
        ["acknowledged after the swap (stamped 'preview')", ackedAfterSwap],
      ],
    );
    out(`\n### Writers' latency (ms, send → acknowledged; the last column from when the write was due at its pace)\n\n`);
    printTable(["window", "side", "writes", "p50", "p99", "max", "max from due"], latencyRows(writers, windows));
    out(
      `\n### Naive baseline (same run): the same cutover without carry-over (the behaviour before #19)\n\n` +
        `without carry-over: ${lostWithoutCarryOver} acknowledged writes lost ` +
        `(written to production between the preview's snapshot and the swap; the request carried ${ledgerCarried?.inserts ?? "n/a"} ledger inserts, ` +
        `${rowsFromOldProduction - lostWithoutCarryOver} of them committed without an acknowledgement); ` +
        `its swap still stops production's instance: ${swapMs === null ? "n/a" : `${swapMs} ms`} of this run's pause were the swap itself (replay ended → swapped).\n`,
    );

    // ---- phase 3: the rollback with writers running (production's writes since the swap carried back)
    log(`phase 3: writers against the new production; the rollback after ${PHASE_SECONDS} s`);
    const phase3Start = now();
    startWriters(writers);
    await sleep(PHASE_SECONDS * 1000);
    await settleProject(() => waitProjectIdle(org, project.id, reported, JOB_TIMEOUT_MS), fsDir.dir, 0);
    const shown = (await timed("GET request before the rollback", () => org.getCutoverRequest(opened.id))).cutover_request;
    const rollbackAt = now();
    const rolled = (await timed("POST rollback", () => admin.rollbackCutoverRequest(opened.id))).cutover_request;
    let rollbackError: string | null = null;
    await wait(rolled.rollback_job_id!, admin).catch((err: unknown) => (rollbackError = (err as Error).message));
    const rollbackDoneAt = now();
    await sleep(AFTER_SECONDS * 1000);
    await stopWriters(writers);
    const back = (await org.getCutoverRequest(opened.id)).cutover_request;
    const rollbackJob = (await admin.getJob(rolled.rollback_job_id!)).job;
    const backPause = pauseFromLog(server, opened.id, "rollback");
    const backCarry = back.rollback_carry_over;
    const rollbackProblems: string[] = [];
    if (rollbackError) rollbackProblems.push(`the rollback's job failed: ${rollbackError}`);
    if (back.status !== "rolled_back") rollbackProblems.push(`after the rollback the request is ${back.status}`);
    if (backCarry?.state !== "done")
      rollbackProblems.push(`rollback_carry_over.state is ${backCarry?.state ?? "missing"} (${backCarry?.reason ?? "no reason"})`);
    const afterRollback = await withClient(direct, async (c) => {
      const hasNote = (await c.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'ledger' AND column_name = 'note'")).rowCount === 1;
      const rows = (await c.query<{ writer: string; n: number; side: string }>("SELECT writer, n, side FROM ledger")).rows;
      return { hasNote, rows };
    });
    if (afterRollback.hasNote) rollbackProblems.push("production still has the preview's migration (ledger.note) after the rollback");
    const seenBack = new Map<string, number>();
    for (const r of afterRollback.rows) seenBack.set(`${r.writer}#${r.n}`, (seenBack.get(`${r.writer}#${r.n}`) ?? 0) + 1);
    let missingBack = 0;
    let ackedInPhase3 = 0;
    for (const w of writers) {
      for (const a of w.acks) {
        if (a.sent >= phase3Start) ackedInPhase3 += 1;
        if (!seenBack.has(`${w.name}#${a.n}`)) missingBack += 1;
      }
    }
    const doubledBack = [...seenBack.values()].filter((n) => n > 1).length;
    const carriedBackFromNew = afterRollback.rows.filter((r) => r.side === "preview").length;
    const pooledErrorsBack = pooledWriters.flatMap((w) => w.errors.filter((e) => e.at >= phase3Start));
    const directErrorsBack = directWriters.flatMap((w) => w.errors.filter((e) => e.at >= phase3Start));
    if (missingBack > 0) rollbackProblems.push(`${missingBack} acknowledged writes are missing from production after the rollback`);
    if (doubledBack > 0) rollbackProblems.push(`${doubledBack} writes are in production more than once after the rollback`);
    if (pooledErrorsBack.length > 0)
      rollbackProblems.push(
        `pooled writers saw ${pooledErrorsBack.length} errors during the rollback: ${summarizeErrors(pooledErrorsBack.map((e) => e.message))}`,
      );
    problems.push(...rollbackProblems);
    const rollbackSeconds =
      rollbackJob.claimed_at && rollbackJob.completed_at ? (Date.parse(rollbackJob.completed_at) - Date.parse(rollbackJob.claimed_at)) / 1000 : NaN;
    out(`\n### Phase 3: the rollback with writers running\n\n`);
    printTable(
      ["measure", "value"],
      [
        [
          "rollback_carry_over before: possible / tables not carried",
          `${shown.rollback_carry_over?.possible ?? "n/a"} / ${(shown.rollback_carry_over?.tables_not_carried ?? []).map((t) => t.table).join(", ") || "none"}`,
        ],
        ["rollback_carry_over: state", backCarry?.state ?? "n/a"],
        ["rollback_carry_over.pause_ms (server)", backCarry?.pause_ms ?? "n/a"],
        [
          "… the pause's steps, ms from its start (server log)",
          backPause
            ? Object.entries(backPause.phases)
                .sort((a, b) => a[1] - b[1])
                .map(([k, v]) => `${k} ${v}`)
                .join(", ")
            : "log line not found",
        ],
        ["transactions carried back", backCarry?.transactions ?? "n/a"],
        ["… rows in production written to the new production and carried back (stamped 'preview')", carriedBackFromNew],
        [
          "API answer times (s): GET request / POST rollback",
          ["GET request before the rollback", "POST rollback"].map((k) => fmt((answered[k] ?? NaN) / 1000, 2)).join(" / "),
        ],
        ["rollback → job succeeded (s, client)", fmt((rollbackDoneAt - rollbackAt) / 1000, 2)],
        ["… the job, claimed → completed (s, server)", fmt(rollbackSeconds, 2)],
        ["pooled writers' errors in phase 3 (must be 0)", pooledErrorsBack.length],
        [
          "direct writers' failed writes in phase 3",
          `${directErrorsBack.length}${directErrorsBack.length ? `: ${summarizeErrors(directErrorsBack.map((e) => e.message))}` : ""}`,
        ],
        ["writes acknowledged in phase 3", ackedInPhase3],
        ["acknowledged writes in all (three phases) missing from production", missingBack],
        ["… in production more than once (any write)", doubledBack],
      ],
    );
    out(`\n### Writers' latency around the rollback (ms)\n\n`);
    printTable(
      ["window", "side", "writes", "p50", "p99", "max", "max from due"],
      latencyRows(writers, { phase2Start: phase3Start, executeAt: rollbackAt, jobDoneAt: rollbackDoneAt, pause: backPause }, "rollback"),
    );
    out(`Load average at the end: ${os.loadavg()[0].toFixed(2)}.\n`);
    if (problems.length > 0) throw new Error(`the cutover bench found:\n  - ${problems.join("\n  - ")}`);
  } finally {
    await org.close();
    await admin.close();
  }
}

function goalLine(pauseMs: number | null, bytes: number): string {
  if (pauseMs === null) return "not measured";
  const verdict = pauseMs <= PAUSE_GOAL_MS ? "met" : "NOT met";
  const atGoalLoad = bytes >= 1000 * MB && WRITES_PER_SECOND >= 200;
  return `${verdict} (${pauseMs} ms${atGoalLoad ? "" : `; at ${fmt(bytes / MB, 0)} MB and ${WRITES_PER_SECOND} writes/s, not the goal's load`})`;
}

function summarizeErrors(messages: string[]): string {
  const counts = new Map<string, number>();
  for (const m of messages) counts.set(m, (counts.get(m) ?? 0) + 1);
  return [...counts.entries()].map(([m, n]) => `${n}× "${m}"`).join(", ");
}

/** Latency by window (before the execute, the cutover's job, writes in flight during the pause, after) and side. */
function latencyRows(writers: BenchWriter[], w: Windows, what: "cutover" | "rollback" = "cutover"): string[][] {
  const windows: { label: string; takes: (a: Ack) => boolean }[] = [
    {
      label: what === "cutover" ? "before (phase 2, before execute)" : "before (phase 3, before the rollback)",
      takes: (a) => a.sent >= w.phase2Start && a.sent < w.executeAt,
    },
    {
      label: what === "cutover" ? "cutover job (execute → job succeeded)" : "rollback job (rollback → job succeeded)",
      takes: (a) => a.sent >= w.executeAt && a.sent <= w.jobDoneAt,
    },
  ];
  if (w.pause) {
    const p = w.pause;
    windows.push({ label: "in flight during the pause (server log)", takes: (a) => a.sent <= p.end && a.acked >= p.start });
  }
  const end = w.phase2End ?? Infinity;
  windows.push({ label: what === "cutover" ? "after (new production)" : "after (production's data back)", takes: (a) => a.sent > w.jobDoneAt && a.sent < end });
  const rows: string[][] = [];
  for (const win of windows) {
    for (const side of ["pooled", "direct"] as const) {
      const acks = writers.filter((x) => x.pooled === (side === "pooled")).flatMap((x) => x.acks.filter(win.takes));
      const latency = summarize(acks.map((a) => a.acked - a.sent));
      const fromDue = summarize(acks.map((a) => a.acked - a.due));
      rows.push([win.label, side, String(latency.n), fmt(latency.p50, 1), fmt(latency.p99, 1), fmt(latency.max, 1), fmt(fromDue.max, 1)]);
    }
  }
  return rows;
}

runIfMain(import.meta.url, main);
