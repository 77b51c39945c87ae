// Shared helpers for the benchmarks in test/bench: a real CapyDB server started as a child
// process (`node --import tsx server/src/main.ts`, exactly what `npm start` runs) on a fresh
// data dir and free ports, percentiles, and a markdown table printer.
//
// These are benchmarks, not tests: they print figures and never assert.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";

/** The repository root (test/bench/../..). */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

// ---------------------------------------------------------------- small things

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

import { freePort } from "../harness/ports.js";

export { freePort };
export { stopInstances } from "../harness/reflink.js";

/** Where PostgreSQL's programs are (pgbench): pg_config's answer, else Debian's PostgreSQL 15. */
export function pgBinDir(): string {
  try {
    return execFileSync("pg_config", ["--bindir"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "/usr/lib/postgresql/15/bin";
  }
}

/** A new connection answering SELECT 1, retried (every 5 ms, up to 30 s) until it does: when a database is usable. */
export async function firstSelect(uri: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({ connectionString: uri, application_name: "capydb-bench" });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("SELECT 1");
      void client.end().catch(() => {});
      return;
    } catch (err) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw new Error(`SELECT 1 did not succeed within 30 s: ${(err as Error).message}`);
      await sleep(5);
    }
  }
}

/** A progress line on stderr (the figures go to stdout). */
export function benchLog(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

/** A key in the shape the server issues: capy_live_ + 43 base64url chars (32 random bytes). */
export function newApiKey(): string {
  return "capy_live_" + crypto.randomBytes(32).toString("base64url");
}

/** A lowercase random suffix for names (projects, roles, databases). */
export function randomSuffix(bytes = 4): string {
  return crypto.randomBytes(bytes).toString("hex");
}

/** An integer from the environment (for bench knobs such as BENCH_DURATION), else the fallback. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

/** True when the module at `metaUrl` is the script node was started with (not imported by run-all). */
export function isMain(metaUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return pathToFileURL(fs.realpathSync(entry)).href === pathToFileURL(fs.realpathSync(fileURLToPath(metaUrl))).href;
  } catch {
    return false;
  }
}

/** Runs a bench's main() when its file is executed directly, with a non-zero exit on failure. */
export function runIfMain(metaUrl: string, main: () => Promise<unknown>): void {
  if (!isMain(metaUrl)) return;
  main().then(
    () => process.exit(0),
    async (err) => {
      process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
      await stopAllChildren();
      process.exit(1);
    },
  );
}

// ---------------------------------------------------------------- statistics

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface Summary {
  n: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  return {
    n,
    min: n ? Math.min(...values) : NaN,
    mean: n ? values.reduce((a, b) => a + b, 0) / n : NaN,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: n ? Math.max(...values) : NaN,
  };
}

/** A number for a table: fixed decimals, thousands separators, "n/a" for NaN. */
export function fmt(value: number, decimals = 1): string {
  if (!Number.isFinite(value)) return "n/a";
  return value.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

// ---------------------------------------------------------------- CPU accounting (Linux /proc)

let clockTicks: number | null = null;
function ticksPerSecond(): number {
  if (clockTicks === null) clockTicks = Number(tryRun("getconf", ["CLK_TCK"])) || 100;
  return clockTicks;
}

/** /proc/<pid>/stat fields after the command: [state, ppid, ...]; null when unreadable (not Linux, gone). */
function procStat(pid: number): string[] | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return text
      .slice(text.lastIndexOf(")") + 2)
      .trim()
      .split(/\s+/);
  } catch {
    return null;
  }
}

/**
 * CPU seconds (user + system) a process has used; with `reapedChildren`, also those of the
 * children it has waited for (a postmaster's exited backends). NaN when /proc is not available.
 */
export function processCpuSeconds(pid: number, reapedChildren = false): number {
  const f = procStat(pid);
  if (!f) return NaN;
  // After "pid (comm) ": state=0 ppid=1 ... utime=11 stime=12 cutime=13 cstime=14.
  let ticks = Number(f[11]) + Number(f[12]);
  if (reapedChildren) ticks += Number(f[13]) + Number(f[14]);
  return ticks / ticksPerSecond();
}

/** CPU seconds of a PostgreSQL cluster: the postmaster, its live children and those it reaped. */
export function postgresCpuSeconds(pgDataDir: string): number {
  let postmaster: number;
  try {
    postmaster = Number(fs.readFileSync(path.join(pgDataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  } catch {
    return NaN;
  }
  let total = processCpuSeconds(postmaster, true);
  if (!Number.isFinite(total)) return NaN;
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const f = procStat(Number(entry));
    if (f && Number(f[1]) === postmaster) total += (Number(f[11]) + Number(f[12])) / ticksPerSecond();
  }
  return total;
}

/** CPU seconds this process has used (user + system). */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// ---------------------------------------------------------------- output

/** Renders a markdown table with padded columns; numeric-looking columns are right-aligned. */
export function markdownTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = rows.map((r) => headers.map((_, i) => String(r[i] ?? "")));
  const widths = headers.map((h, i) => Math.max(3, h.length, ...cells.map((r) => r[i].length)));
  const numeric = headers.map((_, i) => cells.length > 0 && cells.every((r) => /^[-+]?[\d,.]+( ?[a-z%/]+)?$|^n\/a$/i.test(r[i])));
  const pad = (s: string, i: number) => (numeric[i] ? s.padStart(widths[i]) : s.padEnd(widths[i]));
  const line = (r: readonly string[]) => `| ${r.map(pad).join(" | ")} |`;
  const rule = `| ${widths.map((w, i) => (numeric[i] ? "-".repeat(w - 1) + ":" : "-".repeat(w))).join(" | ")} |`;
  return [line(headers), rule, ...cells.map(line)].join("\n");
}

export function printTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): void {
  process.stdout.write(markdownTable(headers, rows) + "\n");
}

function tryRun(cmd: string, args: string[]): string | null {
  try {
    return execFileSync(cmd, args, { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
}

/** What the figures were measured on: printed by every bench next to its results. */
export function environmentLine(): string {
  const cpus = os.cpus();
  const commit = tryRun("git", ["rev-parse", "--short", "HEAD"]);
  const dirty = tryRun("git", ["status", "--porcelain", "--untracked-files=no"]);
  const pg = tryRun("pg_config", ["--version"]) ?? tryRun("postgres", ["--version"]);
  return [
    `node ${process.version}`,
    `${os.platform()}/${os.arch()}`,
    `${cpus.length} CPU${cpus.length === 1 ? "" : "s"} (${cpus[0]?.model.trim() ?? "unknown"})`,
    `${Math.round(os.totalmem() / 2 ** 30)} GiB RAM`,
    `load average ${os.loadavg()[0].toFixed(2)} at start`,
    pg ?? "PostgreSQL version unknown",
    commit ? `commit ${commit}${dirty ? " + uncommitted changes" : ""}` : "not a git checkout",
  ].join(", ");
}

/** The header every bench prints: title, the command that reproduces it, and the machine. */
/**
 * Waits until none of a project's jobs is pending or running (background work: spare refills,
 * deletes); a job that failed is logged once (`reported` remembers which).
 */
export async function waitProjectIdle(
  client: { listProjectJobs(id: string): Promise<{ jobs: { id: string; type: string; state: string; error: string | null }[] }> },
  projectId: string,
  reported: Set<string>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { jobs } = await client.listProjectJobs(projectId);
    for (const j of jobs) {
      if (j.state !== "failed" || reported.has(j.id)) continue;
      reported.add(j.id);
      benchLog(`note: job ${j.id} (${j.type}) failed: ${j.error}`);
    }
    if (!jobs.some((j) => j.state === "pending" || j.state === "running")) return;
    if (Date.now() > deadline) throw new Error(`the project's jobs did not finish`);
    await sleep(50);
  }
}

/** Before a measured operation: the project's background work done, dirty data on disk (`sync -f` of the mount), a pause. */
export async function settleProject(wait: () => Promise<void>, mount: string, pauseMs: number): Promise<void> {
  await wait();
  execFileSync("sync", ["-f", mount], { stdio: "ignore" });
  await sleep(pauseMs);
}

export function printHeader(title: string, reproduce: string): void {
  process.stdout.write(`\n## ${title}\n\n`);
  process.stdout.write(`Reproduce: \`${reproduce}\`\n`);
  process.stdout.write(`Measured on: ${environmentLine()}\n\n`);
}

// ---------------------------------------------------------------- child processes

const liveChildren = new Set<{ stop(): Promise<void> }>();
let signalHandlersInstalled = false;

/** Stops every child still running (servers, the bare HTTP floor): used on failure and on Ctrl-C. */
export async function stopAllChildren(): Promise<void> {
  await Promise.allSettled([...liveChildren].map((c) => c.stop()));
}

function installSignalHandlers(): void {
  if (signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    // `on`, not `once`: a second signal (Ctrl-C reaches the whole process group, and the tsx
    // CLI relays it once more) must not kill us before the servers stopped and the data dirs are gone.
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`\nbench: ${signal}: stopping the servers it started\n`);
      void stopAllChildren().finally(() => process.exit(130));
    });
  }
}

/** The last `n` lines of a (small) log file; "" when it is gone. */
function lastLines(file: string, n: number): string {
  try {
    const text = fs.readFileSync(file, "utf8");
    return text.trimEnd().split("\n").slice(-n).join("\n");
  } catch {
    return "";
  }
}

/** Keeps the last lines a child wrote, to show when it fails. */
class Tail {
  private lines: string[] = [];
  private partial = "";
  constructor(private readonly max = 60) {}
  push(chunk: Buffer | string): void {
    const text = this.partial + chunk.toString();
    const parts = text.split("\n");
    this.partial = parts.pop() ?? "";
    for (const line of parts) {
      this.lines.push(line);
      if (this.lines.length > this.max) this.lines.shift();
    }
  }
  toString(): string {
    return [...this.lines, this.partial].filter(Boolean).join("\n");
  }
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * A sidecar that outlives us: when this bench process dies without cleaning up (SIGKILL, or the
 * tsx CLI force-killing it after a Ctrl-C), its stdin closes and it sends SIGINT to the child,
 * waits for it to exit (a CapyDB server stops its PostgreSQL and PgBouncer), then removes `dir`.
 * It ignores SIGINT itself. After a normal stop, closing its stdin just lets it exit.
 */
function spawnReaper(pid: number, dir: string | null): { release(): void; cancel(): void } {
  const script = `
    const fs = require("node:fs");
    const pid = Number(process.env.REAPER_PID);
    const dir = process.env.REAPER_DIR || "";
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(s, () => {});
    const alive = () => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === "EPERM"; } };
    let reaping = false;
    async function reap() {
      if (reaping) return;
      reaping = true;
      if (alive()) {
        try { process.kill(pid, "SIGINT"); } catch {}
        const deadline = Date.now() + 90000;
        while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
        if (alive()) { try { process.kill(pid, "SIGKILL"); } catch {} process.exit(1); }
      }
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }
    process.stdin.on("end", reap);
    process.stdin.on("error", reap);
    process.stdin.resume();
  `;
  const reaper = spawn(process.execPath, ["-e", script], {
    stdio: ["pipe", "ignore", "ignore"],
    env: { ...process.env, NODE_OPTIONS: "", REAPER_PID: String(pid), REAPER_DIR: dir ?? "" },
  });
  reaper.on("error", () => {});
  reaper.stdin!.on("error", () => {});
  reaper.unref();
  (reaper.stdin as unknown as { unref?: () => void }).unref?.();
  return {
    release: () => reaper.stdin!.end(),
    cancel: () => {
      reaper.kill("SIGKILL");
    },
  };
}

// ---------------------------------------------------------------- a CapyDB server

export interface BenchServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The platform-admin key (CAPYDB_BOOTSTRAP_API_KEY). */
  adminKey: string;
  dataDir: string;
  pgPort: number;
  pgbouncerPort: number;
  env: Record<string, string>;
  pid: number;
  /** The cluster's superuser URL (capydb_admin, database postgres), read from the data dir. */
  clusterAdminUrl(database?: string): string;
  /** The last lines the server wrote (stdout and stderr, kept in <data dir>/server.log). */
  output(): string;
  /** SIGINT, wait for the exit (it stops its PostgreSQL and PgBouncer), remove the data dir (kept when started by startServerKeepingData). */
  stop(): Promise<void>;
}

export interface StartServerOptions {
  /** Extra CAPYDB_* settings. */
  env?: Record<string, string>;
  /** Default 180 s (initdb on a slow disk). */
  startTimeoutMs?: number;
}

/**
 * Starts `node --import tsx server/src/main.ts` with a fresh data dir (mode 0755, so the
 * postgres OS user can traverse it when we are root), free ports, CAPYDB_LOG_LEVEL=warn and a
 * known bootstrap admin key; answers once GET /healthz answers 200.
 */
export async function startServer(options: StartServerOptions = {}): Promise<BenchServer> {
  installSignalHandlers();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-bench-"));
  fs.chmodSync(dataDir, 0o755);
  const [port, pgPort, pgbouncerPort] = await Promise.all([freePort(), freePort(), freePort()]);
  return launchServer({ dataDir, port, pgPort, pgbouncerPort, adminKey: newApiKey(), keepDataDir: false }, options);
}

/** Data dirs of servers started with startServerKeepingData, removed on Ctrl-C / failure (stopAllChildren). */
const keptDataDirs = new Map<string, { current: BenchServer | null }>();

/**
 * Like startServer, but stop() leaves the data dir in place so that a later
 * `startServerKeepingData({ reuse: previous })` restarts on the same data (same data dir, ports,
 * admin key; `env` may change settings such as CAPYDB_PREVIEW_CLONE_STRATEGY). Remove the data
 * dir with removeKeptDataDir once done; Ctrl-C and stopAllChildren stop the server and remove it.
 */
export async function startServerKeepingData(options: StartServerOptions & { reuse?: BenchServer } = {}): Promise<BenchServer> {
  installSignalHandlers();
  const prev = options.reuse;
  let dataDir: string;
  let ports: { port: number; pgPort: number; pgbouncerPort: number };
  let adminKey: string;
  if (prev) {
    if (!keptDataDirs.has(prev.dataDir)) throw new Error(`${prev.dataDir} is not a kept data dir (started with startServerKeepingData and not removed)`);
    await prev.stop();
    dataDir = prev.dataDir;
    ports = { port: Number(new URL(prev.url).port), pgPort: prev.pgPort, pgbouncerPort: prev.pgbouncerPort };
    adminKey = prev.adminKey;
  } else {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-bench-"));
    fs.chmodSync(dataDir, 0o755);
    const [port, pgPort, pgbouncerPort] = await Promise.all([freePort(), freePort(), freePort()]);
    ports = { port, pgPort, pgbouncerPort };
    adminKey = newApiKey();
    const entry = { current: null as BenchServer | null };
    keptDataDirs.set(dataDir, entry);
    // On Ctrl-C or a failure: stop whatever server runs on it, then remove it.
    const remover = {
      stop: async () => {
        await entry.current?.stop();
        removeKeptDataDir(dataDir);
        liveChildren.delete(remover);
      },
    };
    liveChildren.add(remover);
  }
  const env = { ...(prev ? stripGenerated(prev.env) : {}), ...options.env };
  const server = await launchServer({ dataDir, ...ports, adminKey, keepDataDir: true }, { ...options, env });
  keptDataDirs.get(dataDir)!.current = server;
  return server;
}

/** Removes a data dir kept by startServerKeepingData (stop its server first). */
export function removeKeptDataDir(dataDir: string): void {
  if (!keptDataDirs.delete(dataDir)) return;
  fs.rmSync(dataDir, { recursive: true, force: true });
}

/** A server's env without the settings launchServer derives (data dir, ports, key). */
function stripGenerated(env: Record<string, string>): Record<string, string> {
  const generated = new Set(["CAPYDB_DATA_DIR", "CAPYDB_HOST", "CAPYDB_PORT", "CAPYDB_PG_PORT", "CAPYDB_PGBOUNCER_PORT", "CAPYDB_BOOTSTRAP_API_KEY"]);
  return Object.fromEntries(Object.entries(env).filter(([k]) => !generated.has(k)));
}

interface LaunchPlan {
  dataDir: string;
  port: number;
  pgPort: number;
  pgbouncerPort: number;
  adminKey: string;
  /** stop() leaves the data dir (startServerKeepingData). */
  keepDataDir: boolean;
}

async function launchServer(plan: LaunchPlan, options: StartServerOptions): Promise<BenchServer> {
  const { dataDir, port, pgPort, pgbouncerPort, adminKey } = plan;
  const env: Record<string, string> = {
    CAPYDB_DATA_DIR: dataDir,
    CAPYDB_HOST: "127.0.0.1",
    CAPYDB_PORT: String(port),
    CAPYDB_PG_PORT: String(pgPort),
    CAPYDB_PGBOUNCER_PORT: String(pgbouncerPort),
    CAPYDB_BOOTSTRAP_API_KEY: adminKey,
    CAPYDB_LOG_LEVEL: "warn",
    // Benchmarks make many projects and backups in one organization: the free plan's counts are
    // lifted, and projects default to 5 connections so dozens of them fit the cluster's admitted
    // slots. Ceilings are checks, not work: what is measured is unchanged.
    CAPYDB_PLANS: JSON.stringify({ free: { projects_per_organization: 100_000, manual_backups_per_project: 100_000, default_max_connections: 5 } }),
    // The benchmarks written for the shared engine measure it (and its floors on the shared
    // cluster); engines.ts sets the engine itself.
    CAPYDB_DATA_PLANE_ENGINE: "shared",
    ...options.env,
  };
  // Only our CAPYDB_* settings: one exported in the shell (CAPYDB_DATABASE_URL, ...) would change what is measured.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CAPYDB_") && k !== "NODE_OPTIONS"));
  const childEnv: NodeJS.ProcessEnv = { ...inherited, ...env };

  // The server writes to a log file, not to a pipe of ours: if this process dies, a write to a
  // broken pipe (EPIPE) would crash the server before it stops its PostgreSQL.
  const logFile = path.join(dataDir, "server.log");
  const logFd = fs.openSync(logFile, "a");
  const child = spawn(process.execPath, ["--import", "tsx", path.join("server", "src", "main.ts")], {
    cwd: REPO_ROOT,
    env: childEnv,
    stdio: ["ignore", logFd, logFd],
  });
  fs.closeSync(logFd);
  const reaper = spawnReaper(child.pid!, dataDir);
  const tail = { toString: () => lastLines(logFile, 60) };
  const url = `http://127.0.0.1:${port}`;

  let stopping: Promise<void> | null = null;
  const stopServerChild = async () => {
    let exited = child.exitCode !== null || child.signalCode !== null;
    if (!exited) {
      child.kill("SIGINT");
      exited = await waitForExit(child, 90_000);
    }
    if (!exited) {
      child.kill("SIGKILL");
      await waitForExit(child, 5_000);
      reaper.cancel(); // its PostgreSQL may still run on the data dir: leave both to the operator
      process.stderr.write(
        `bench: the server (pid ${child.pid}) did not stop within 90 s and was killed; ` +
          `its PostgreSQL may still run on port ${pgPort}: pg_ctl -D ${path.join(dataDir, "pg")} stop (as postgres), ` +
          `then remove ${dataDir}\n`,
      );
      return;
    }
    if (plan.keepDataDir) {
      // The reaper removes the dir when it reaps: a restart will use it again.
      reaper.cancel();
      return;
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
    reaper.release();
  };
  const server: BenchServer = {
    url,
    adminKey,
    dataDir,
    pgPort,
    pgbouncerPort,
    env,
    pid: child.pid!,
    clusterAdminUrl(database = "postgres") {
      const password = fs.readFileSync(path.join(dataDir, "pg-superuser-password"), "utf8").trim();
      return `postgresql://capydb_admin:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/${encodeURIComponent(database)}`;
    },
    output: () => tail.toString(),
    stop() {
      // One stop, however many callers (main's finally, the signal handler, a failure path).
      stopping ??= stopServerChild().finally(() => liveChildren.delete(server));
      return stopping;
    },
  };
  liveChildren.add(server);

  const deadline = Date.now() + (options.startTimeoutMs ?? 180_000);
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the server exited (${child.exitCode ?? child.signalCode}) before answering /healthz:\n${tail}`);
      }
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        if (res.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`the server did not answer /healthz within ${options.startTimeoutMs ?? 180_000} ms:\n${tail}`);
      await sleep(100);
    }
  } catch (err) {
    await server.stop();
    throw err;
  }
  child.once("exit", (code, signal) => {
    if (!stopping) process.stderr.write(`bench: the server exited unexpectedly (${code ?? signal}):\n${tail}\n`);
  });
  return server;
}

// ---------------------------------------------------------------- a bare HTTP server (the floor)

export interface BareServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * A bare `node:http` server answering `{}` to everything, in its own process: the floor of
 * what one Node process can answer on this machine.
 */
export async function startBareHttpServer(): Promise<BareServer> {
  installSignalHandlers();
  const script = `
    const http = require("node:http");
    const body = "{}";
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
    server.keepAliveTimeout = 72000;
    server.listen(0, "127.0.0.1", () => process.stdout.write("PORT " + server.address().port + "\\n"));
    process.on("SIGINT", () => {
      server.close(() => process.exit(0));
      server.closeAllConnections();
    });
  `;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NODE_OPTIONS: "" } });
  const reaper = spawnReaper(child.pid!, null);
  const tail = new Tail();
  child.stderr!.on("data", (c: Buffer) => tail.push(c));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the bare HTTP server did not start:\n${tail}`)), 10_000);
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the bare HTTP server exited (${code}):\n${tail}`));
    });
  });
  let stopping: Promise<void> | null = null;
  const bare: BareServer = {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    stop() {
      stopping ??= (async () => {
        child.kill("SIGINT");
        if (!(await waitForExit(child, 5_000))) child.kill("SIGKILL");
        reaper.release();
      })().finally(() => liveChildren.delete(bare));
      return stopping;
    },
  };
  liveChildren.add(bare);
  return bare;
}

// ---------------------------------------------------------------- other things a bench starts

/**
 * Registers the cleanup of something a bench started itself (a second PostgreSQL cluster, a
 * scratch directory): stopAllChildren (a failure, Ctrl-C) runs it. With `reap`, a sidecar also
 * sends SIGINT to `reap.pid` (for a postmaster: a fast shutdown), waits for it to exit and
 * removes `reap.dir`, should this process die without cleaning up (SIGKILL). Answers the cleanup
 * itself: call it when done (it runs once, however many callers).
 */
export function registerCleanup(stop: () => Promise<void>, reap?: { pid: number; dir: string | null }): () => Promise<void> {
  installSignalHandlers();
  const reaper = reap ? spawnReaper(reap.pid, reap.dir) : null;
  let stopping: Promise<void> | null = null;
  const entry = {
    stop(): Promise<void> {
      // The reaper is released either way: after a failed stop it stops the process and removes the dir itself.
      stopping ??= stop().finally(() => {
        reaper?.release();
        liveChildren.delete(entry);
      });
      return stopping;
    },
  };
  liveChildren.add(entry);
  return () => entry.stop();
}
