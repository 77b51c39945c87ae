// The instance host: PostgreSQL instances of our own (one per project, one per
// preview) under one root directory, and copy-on-write copies of their data
// directories. Every copy of a project's data is a clone at the filesystem level
// (`cp --reflink=always` on XFS/Btrfs), so a snapshot, a preview, a reset cost the
// same at 1 GB and at 100 GB; where the filesystem cannot reflink, the same
// operations copy the files (reported as `cloneMethod: "copy"`).
//
// Layout under the root (one filesystem, so a rename is atomic):
//   template/          an initdb'd, stopped data directory every new instance is copied from
//   dirs/<id>/         data directories, each complete before it appears here
//   data/<name>        an instance: a symbolic link to its data directory (its PGDATA)
//   snapshots/<name>   a snapshot: a link to a stopped, cleanly shut down data directory
//   logs/<name>.log    each instance's server log (outside PGDATA: copies carry no logs)
//   sockets/<name>/    private socket directories (recovery listens on nothing else)
//   tmp/               copies being made; moved to dirs/ only when complete
// Replacing an instance's or a snapshot's data is one rename of a link over the old
// one: a crash leaves the old data or the new, never a mix, and never neither.
//
// Instances are started detached, in a session of their own: they keep running
// across a restart of the control plane (as PgBouncer does), and a Ctrl-C to the
// server's terminal does not reach them.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { childEnv } from "../child-env.js";
import { findPgBinDir, postgresOsUser, type OsUser } from "../pg-binaries.js";

const execFileAsync = promisify(execFile);

export const INSTANCE_SUPERUSER = "capydb_admin";
/** Slots only the platform's superuser may take in an instance (see local-cluster.ts). */
export const INSTANCE_RESERVED_CONNECTIONS = 3;
/** The file each data directory's postgresql.conf includes last: this instance's own settings. */
const INSTANCE_CONF = "capydb-instance.conf";
const NAME = /^[a-z0-9][a-z0-9_]{0,62}$/;

export type CloneMethod = "reflink" | "copy";

/**
 * Settings of data that is thrown away if anything fails: no fsync, no full-page images, the
 * least WAL, no checkpoint before the end, room in memory for a rewrite or a restore.
 */
const SCRATCH_SETTINGS = [
  "fsync = off",
  "full_page_writes = off",
  "synchronous_commit = off",
  "wal_level = minimal",
  "max_wal_senders = 0",
  "archive_mode = off",
  "max_wal_size = '8GB'",
  "checkpoint_timeout = '1h'",
  "maintenance_work_mem = '256MB'",
  "autovacuum = off",
];

export interface InstanceSettings {
  /** TCP port on 127.0.0.1. */
  port: number;
  /** Tenant connections (the platform's reserved slots come on top). */
  maxConnections: number;
  /** shared_buffers in MB (the largest part of an idle instance's memory). */
  sharedBuffersMb: number;
  /**
   * Data nobody keeps (a backup's verification): no crash safety, the least WAL, no
   * replication. Thrown away whole if anything fails.
   */
  throwaway?: boolean;
}

export interface InstanceHostOptions {
  root: string;
  binDir?: string | null;
  /** The platform superuser's password in every instance of this host. */
  superuserPassword: string;
  /** Extra postgresql.conf settings for the template (tests: { fsync: "off" }). */
  settings?: Record<string, string>;
  /** max_slot_wal_keep_size of each instance, in MB (default 1024). */
  slotWalKeepMb?: number;
  log?: (msg: string) => void;
}

export class InstanceError extends Error {}

export interface SnapshotResult {
  /** Where production's WAL stood when the copy was complete (pg_backup_stop's LSN). */
  lsn: string;
  /** Milliseconds the source instance spent in backup mode (its checkpoint included). */
  backupMs: number;
  /** When an origin was asked for: the LSN the copy was recovered to exactly (the slot's consistent point). */
  originLsn: string | null;
}

function assertName(name: string): void {
  if (!NAME.test(name)) throw new InstanceError(`invalid instance name ${JSON.stringify(name)}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** postmaster.pid: line 1 the pid, line 8 the status ("starting", "ready", "stopping", "standby"). */
function readPidFile(dir: string): { pid: number; status: string } | null {
  try {
    const lines = fs.readFileSync(path.join(dir, "postmaster.pid"), "utf8").split("\n");
    return { pid: Number(lines[0]), status: (lines[7] ?? "").trim() };
  } catch {
    return null;
  }
}

export class InstanceHost {
  readonly root: string;
  readonly binDir: string;
  readonly osUser: OsUser | null;
  cloneMethod: CloneMethod = "copy";
  private readonly log: (msg: string) => void;

  private constructor(private readonly options: InstanceHostOptions) {
    this.root = path.resolve(options.root);
    this.binDir = findPgBinDir(options.binDir ?? null);
    this.osUser = postgresOsUser();
    this.log = options.log ?? (() => {});
  }

  /** Opens (and on first use prepares) the host: its directories, its clone method, its template. */
  static async open(options: InstanceHostOptions): Promise<InstanceHost> {
    const host = new InstanceHost(options);
    await host.prepare();
    return host;
  }

  dataDir(name: string): string {
    assertName(name);
    return path.join(this.root, "data", name);
  }

  snapshotDir(name: string): string {
    assertName(name);
    return path.join(this.root, "snapshots", name);
  }

  private logFile(name: string): string {
    return path.join(this.root, "logs", `${name}.log`);
  }

  /** The platform superuser's URL for the maintenance database of the instance on `port` (never a tenant's database). */
  adminUrl(port: number): string {
    return `postgresql://${INSTANCE_SUPERUSER}:${encodeURIComponent(this.options.superuserPassword)}@127.0.0.1:${port}/postgres`;
  }

  private async prepare(): Promise<void> {
    for (const sub of ["", "dirs", "data", "snapshots", "logs", "sockets", "tmp"]) {
      const dir = path.join(this.root, sub);
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      this.chown(dir);
    }
    // copies interrupted by a crash: never renamed into place, so nothing refers to them
    for (const left of fs.readdirSync(path.join(this.root, "tmp"))) {
      // a snapshot being recovered or masked privately when the previous process died: its
      // postgres still runs on the copy (no listener anyone else reaches), so it is stopped first
      await this.stopOrphan(path.join(this.root, "tmp", left));
      fs.rmSync(path.join(this.root, "tmp", left), { recursive: true, force: true });
    }
    this.finishSwaps();
    this.removeUnlinkedDirs();
    this.cloneMethod = await this.probeReflink();
    this.log(
      this.cloneMethod === "reflink"
        ? `instances in ${this.root}: copy-on-write clones (reflink)`
        : `instances in ${this.root}: this filesystem cannot reflink, so every snapshot and preview is a full copy of the files (use XFS with reflink=1 or Btrfs for copy-on-write)`,
    );
    await this.ensureTemplate();
  }

  /** Stops a postgres running on `dir` (its pid file's process, when its working directory is `dir`: a reused pid is left alone). */
  private async stopOrphan(dir: string): Promise<void> {
    const info = readPidFile(dir);
    if (!info || !(info.pid > 0) || !pidAlive(info.pid)) return;
    let cwd: string | null = null;
    try {
      cwd = fs.readlinkSync(`/proc/${info.pid}/cwd`);
    } catch {
      return;
    }
    if (path.resolve(cwd) !== path.resolve(dir)) return;
    this.log(`stopping postgres (pid ${info.pid}) left running on ${dir} by a process that died`);
    await this.stopDir(dir, "immediate", 30_000);
  }

  private async probeReflink(): Promise<CloneMethod> {
    const a = path.join(this.root, "tmp", `probe-${process.pid}-a`);
    const b = path.join(this.root, "tmp", `probe-${process.pid}-b`);
    fs.writeFileSync(a, crypto.randomBytes(65536));
    try {
      await execFileAsync("cp", ["--reflink=always", a, b], { env: childEnv() });
      return "reflink";
    } catch {
      return "copy";
    } finally {
      fs.rmSync(a, { force: true });
      fs.rmSync(b, { force: true });
    }
  }

  private chown(p: string): void {
    if (this.osUser) fs.chownSync(p, this.osUser.uid, this.osUser.gid);
  }

  /** Writes a file inside a data directory, owned by the instances' OS user. */
  private writeOwned(file: string, text: string, mode = 0o600): void {
    fs.writeFileSync(file, text, { mode });
    this.chown(file);
  }

  private async run(tool: string, args: string[]): Promise<string> {
    try {
      const { stdout } = await execFileAsync(path.join(this.binDir, tool), args, {
        uid: this.osUser?.uid,
        gid: this.osUser?.gid,
        cwd: "/",
        env: childEnv({ LC_ALL: "C.UTF-8", LANG: "C.UTF-8" }),
        maxBuffer: 16 * 1024 * 1024,
      });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new InstanceError(`${tool} failed: ${(e.stderr || e.message).trim()}`);
    }
  }

  /** initdb once per host; every instance starts as a copy of this stopped directory. */
  private async ensureTemplate(): Promise<void> {
    const dir = path.join(this.root, "template");
    if (fs.existsSync(path.join(dir, "PG_VERSION"))) return;
    const building = path.join(this.root, "tmp", `template-${process.pid}-${crypto.randomBytes(4).toString("hex")}`);
    fs.mkdirSync(building, { mode: 0o700 });
    this.chown(building);
    const pwfile = path.join(this.root, "tmp", `pwfile-${process.pid}`);
    this.writeOwned(pwfile, this.options.superuserPassword + "\n");
    try {
      this.log(`initialising the instance template in ${dir}`);
      await this.run("initdb", [
        "-D",
        building,
        "-U",
        INSTANCE_SUPERUSER,
        `--pwfile=${pwfile}`,
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
        "--no-instructions",
      ]);
    } finally {
      fs.rmSync(pwfile, { force: true });
    }
    const settings: Record<string, string> = {
      listen_addresses: "'127.0.0.1'",
      unix_socket_directories: "''",
      password_encryption: "'scram-sha-256'",
      log_line_prefix: "'%m [%p] %q%u@%d '",
      // small instances: many of them share one host
      max_wal_size: "'256MB'",
      min_wal_size: "'64MB'",
      dynamic_shared_memory_type: "'posix'",
      max_worker_processes: "4",
      max_parallel_workers: "2",
      autovacuum_max_workers: "2",
      ...this.options.settings,
    };
    const conf = Object.entries(settings)
      .map(([k, v]) => `${k} = ${v}`)
      .join("\n");
    fs.appendFileSync(path.join(building, "postgresql.conf"), `\n# written by CapyDB\n${conf}\ninclude_if_exists = '${INSTANCE_CONF}'\n`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(building, dir);
  }

  private writeInstanceConf(dir: string, settings: InstanceSettings, listen: "tcp" | { socketDir: string }, extra: string[] = []): void {
    const lines = [
      ...extra,
      `port = ${settings.port}`,
      `max_connections = ${settings.maxConnections + INSTANCE_RESERVED_CONNECTIONS}`,
      `superuser_reserved_connections = ${INSTANCE_RESERVED_CONNECTIONS}`,
      `shared_buffers = '${settings.sharedBuffersMb}MB'`,
      // a preview's origin is a logical replication slot on production (writes since the origin);
      // what a slot may hold back is bounded
      ...(listen === "tcp" && !settings.throwaway ? ["wal_level = logical", `max_slot_wal_keep_size = '${this.options.slotWalKeepMb ?? 1024}MB'`] : []),
      ...(listen === "tcp" && settings.throwaway ? SCRATCH_SETTINGS : []),
      listen === "tcp" ? "listen_addresses = '127.0.0.1'" : "listen_addresses = ''",
      listen === "tcp" ? "unix_socket_directories = ''" : `unix_socket_directories = '${listen.socketDir.replace(/'/g, "''")}'`,
    ];
    this.writeOwned(path.join(dir, INSTANCE_CONF), `# this instance's own settings, written by CapyDB\n${lines.join("\n")}\n`);
  }

  /**
   * Copies a directory tree inside the root: a reflink clone of every file where the
   * filesystem can, else a plain copy. Ownership and modes are kept.
   */
  private async copyTree(from: string, to: string): Promise<void> {
    try {
      await execFileAsync("cp", ["-a", `--reflink=${this.cloneMethod === "reflink" ? "always" : "auto"}`, from, to], {
        env: childEnv(),
        maxBuffer: 1024 * 1024,
      });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new InstanceError(`copying ${path.basename(from)} failed: ${(e.stderr || e.message).trim()}`);
    }
  }

  private tmpPath(label: string): string {
    return path.join(this.root, "tmp", `${label}-${crypto.randomBytes(6).toString("hex")}`);
  }

  /** A new instance from the template, not started. Refuses a name in use. */
  async create(name: string, settings: InstanceSettings): Promise<void> {
    await this.cloneDirInto(path.join(this.root, "template"), name, settings);
  }

  /** A new instance from a snapshot (a copy-on-write clone where the filesystem can), not started. */
  async clone(snapshot: string, name: string, settings: InstanceSettings): Promise<void> {
    await this.cloneDirInto(this.snapshotSource(snapshot), name, settings);
  }

  /** A snapshot's data directory (what its link points to). */
  private snapshotSource(snapshot: string): string {
    const from = this.target(this.snapshotDir(snapshot));
    if (!from || !fs.existsSync(path.join(from, "PG_VERSION"))) throw new InstanceError(`snapshot ${snapshot} does not exist`);
    return from;
  }

  private async cloneDirInto(from: string, name: string, settings: InstanceSettings): Promise<void> {
    if (fs.existsSync(this.dataDir(name))) throw new InstanceError(`instance ${name} already exists`);
    const dir = await this.buildDir(from, settings);
    this.link(dir, this.dataDir(name));
  }

  /** A complete copy of `from` in dirs/, with this instance's settings; its path. */
  private async buildDir(from: string, settings: InstanceSettings): Promise<string> {
    const id = crypto.randomBytes(8).toString("hex");
    const building = path.join(this.root, "tmp", id);
    try {
      await this.copyTree(from, building);
      this.writeInstanceConf(building, settings, "tcp");
      const done = path.join(this.root, "dirs", id);
      fs.renameSync(building, done);
      return done;
    } catch (err) {
      fs.rmSync(building, { recursive: true, force: true });
      throw err;
    }
  }

  /** Points `at` to `dir` with one rename (over whatever `at` was). */
  private link(dir: string, at: string): void {
    const tmp = path.join(this.root, "tmp", `link-${crypto.randomBytes(6).toString("hex")}`);
    fs.symlinkSync(path.relative(path.dirname(at), dir), tmp);
    fs.renameSync(tmp, at);
  }

  /** The data directory an instance's link points to now (null: no such instance). */
  dataTarget(name: string): string | null {
    return this.target(this.dataDir(name));
  }

  /** The data directory a link points to (null when there is no link). */
  private target(at: string): string | null {
    try {
      return path.resolve(path.dirname(at), fs.readlinkSync(at));
    } catch {
      return null;
    }
  }

  /**
   * Replaces an instance's data with a fresh clone of a snapshot (stopping it), keeping its
   * settings (port, ceilings): the copy is made first, the link moves in one rename,
   * and only then is the old data removed.
   */
  async replaceFromSnapshot(name: string, snapshot: string, settings: InstanceSettings): Promise<void> {
    // the copy is made while the instance still serves; then it stops at once (its data is
    // being thrown away: no shutdown checkpoint to wait for) and the link moves
    const dir = await this.buildDir(this.snapshotSource(snapshot), settings);
    await this.stopDir(this.dataDir(name), "immediate", 30_000);
    const old = this.target(this.dataDir(name));
    this.link(dir, this.dataDir(name));
    if (old && old !== dir) this.removeLater(old);
  }

  /**
   * Removes a data directory off the caller's path: moved into tmp/ at once (a rename), then
   * unlinked in the background (freeing a big directory's extents takes a while); tmp/ is
   * emptied when the host next opens, should this process die first.
   */
  private removeLater(dir: string): void {
    const doomed = this.tmpPath("gone");
    fs.renameSync(dir, doomed);
    void fs.promises.rm(doomed, { recursive: true, force: true }).catch(() => {});
  }

  /** Data directories no link points to: left by a crash between a copy and its link, or after a relink. */
  private removeUnlinkedDirs(): void {
    const linked = new Set<string>();
    for (const sub of ["data", "snapshots"]) {
      for (const n of fs.readdirSync(path.join(this.root, sub))) {
        const t = this.target(path.join(this.root, sub, n));
        if (t) linked.add(t);
      }
    }
    for (const id of fs.readdirSync(path.join(this.root, "dirs"))) {
      const dir = path.join(this.root, "dirs", id);
      if (!linked.has(dir)) {
        this.log(`removing ${dir}: no instance or snapshot uses it`);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }

  /** Rewrites an instance's own settings (applied at its next start). */
  configure(name: string, settings: InstanceSettings): void {
    this.writeInstanceConf(this.dataDir(name), settings, "tcp");
  }

  exists(name: string): boolean {
    return fs.existsSync(path.join(this.dataDir(name), "PG_VERSION"));
  }

  snapshotExists(name: string): boolean {
    return fs.existsSync(path.join(this.snapshotDir(name), "PG_VERSION"));
  }

  list(): { instances: string[]; snapshots: string[] } {
    const names = (sub: string) => fs.readdirSync(path.join(this.root, sub)).filter((n) => NAME.test(n));
    return { instances: names("data"), snapshots: names("snapshots") };
  }

  /** The postmaster's pid when the instance is running (a stale pid file counts as stopped). */
  pid(name: string): number | null {
    const info = readPidFile(this.dataDir(name));
    return info && info.pid > 0 && pidAlive(info.pid) ? info.pid : null;
  }

  running(name: string): boolean {
    return this.pid(name) !== null;
  }

  /** Starts the instance (a no-op when it runs) and waits until it accepts connections. */
  async start(name: string, opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.running(name)) return;
    await this.startDir(this.dataDir(name), this.logFile(name), opts.timeoutMs ?? 60_000);
  }

  /**
   * Starts postgres on a data directory, detached in a session of its own, and
   * polls postmaster.pid for "ready" (what pg_ctl -w does, at a finer interval:
   * a preview's start is most of its creation time).
   */
  private async startDir(dir: string, logFile: string, timeoutMs: number): Promise<void> {
    const started = this.spawnPostgres(dir, logFile, false);
    await this.waitReady(dir, logFile, timeoutMs, started.exited);
  }

  /**
   * Forks the process that runs postgres on `dir`, detached in a session of its own. `held`:
   * the process is a shell that waits for a line on its stdin before it execs postgres (what
   * `dir` points to then), so the fork (tens of ms for a server process this size) is paid
   * ahead; at EOF instead it exits without starting anything.
   */
  private spawnPostgres(dir: string, logFile: string, held: boolean): { exited: () => number | null; child: ChildProcess } {
    const logFd = fs.openSync(logFile, "a", 0o600);
    this.chown(logFile);
    let exited: number | null = null;
    try {
      const postgres = path.join(this.binDir, "postgres");
      const child = spawn(held ? "/bin/sh" : postgres, held ? ["-c", 'read -r go || exit 0; exec "$0" -D "$1" </dev/null', postgres, dir] : ["-D", dir], {
        detached: true,
        stdio: [held ? "pipe" : "ignore", logFd, logFd],
        uid: this.osUser?.uid,
        gid: this.osUser?.gid,
        cwd: "/",
        env: childEnv({ LC_ALL: "C.UTF-8", LANG: "C.UTF-8" }),
      });
      child.on("exit", (code) => (exited = code ?? -1));
      child.stdin?.on("error", () => {});
      child.unref();
      return { exited: () => exited, child };
    } finally {
      fs.closeSync(logFd);
    }
  }

  /** Polls postmaster.pid until postgres on `dir` is ready (or its process exited, or time ran out). */
  private async waitReady(dir: string, logFile: string, timeoutMs: number, exited: () => number | null): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // every 5 ms for the first two seconds (a clone starts in ~0.1 s: its start is most of a preview's creation), then every 50 ms
    for (const began = Date.now(); ;) {
      const wait = Date.now() - began < 2000 ? 5 : 50;
      const info = readPidFile(dir);
      if (info?.status === "ready" && pidAlive(info.pid)) return;
      const code = exited();
      if (code !== null) throw new InstanceError(`postgres exited with code ${code} while starting: ${this.logTail(logFile)}`);
      if (Date.now() > deadline) throw new InstanceError(`postgres did not become ready within ${timeoutMs} ms: ${this.logTail(logFile)}`);
      await sleep(wait);
    }
  }

  /**
   * An instance's start readied ahead (the process forked now, while it may still be running or
   * about to get other data): `go` starts postgres on whatever the instance's data is then and
   * waits until it is ready; `cancel` lets the waiting process go without starting anything.
   */
  prepareStart(name: string): { go: (timeoutMs?: number) => Promise<void>; cancel: () => void } {
    const dir = this.dataDir(name);
    const logFile = this.logFile(name);
    const held = this.spawnPostgres(dir, logFile, true);
    let used = false;
    return {
      go: async (timeoutMs = 60_000) => {
        if (used) throw new InstanceError(`the prepared start of ${name} was already used`);
        used = true;
        if (this.running(name)) {
          held.child.stdin?.end();
          return;
        }
        held.child.stdin?.end("go\n");
        await this.waitReady(dir, logFile, timeoutMs, () => {
          const code = held.exited();
          // the shell became postgres (exec keeps the process): an exit is postgres's
          return code;
        });
      },
      cancel: () => {
        if (used) return;
        used = true;
        held.child.stdin?.end();
      },
    };
  }

  private logTail(logFile: string): string {
    try {
      const lines = fs.readFileSync(logFile, "utf8").trim().split("\n");
      return lines
        .filter((l) => /FATAL|PANIC|ERROR|LOG: +database system/.test(l))
        .slice(-3)
        .join(" | ");
    } catch {
      return "(no log)";
    }
  }

  /**
   * Stops the instance: "fast" rolls back sessions and writes a shutdown checkpoint,
   * "immediate" kills it (a copy of its files is then crash-consistent only).
   */
  async stop(name: string, mode: "fast" | "immediate" = "fast", timeoutMs = 60_000): Promise<void> {
    await this.stopDir(this.dataDir(name), mode, timeoutMs);
  }

  private async stopDir(dir: string, mode: "fast" | "immediate", timeoutMs: number): Promise<void> {
    const info = readPidFile(dir);
    if (!info || !(info.pid > 0) || !pidAlive(info.pid)) return;
    process.kill(info.pid, mode === "fast" ? "SIGINT" : "SIGQUIT");
    const deadline = Date.now() + timeoutMs;
    for (const began = Date.now(); pidAlive(info.pid);) {
      const wait = Date.now() - began < 2000 ? 5 : 50;
      if (Date.now() > deadline) {
        if (mode === "fast") return this.stopDir(dir, "immediate", timeoutMs);
        throw new InstanceError(`postgres (pid ${info.pid}) did not stop`);
      }
      await sleep(wait);
    }
  }

  /** Stops (immediately) and removes an instance. Idempotent. */
  async destroy(name: string): Promise<void> {
    const at = this.dataDir(name);
    await this.stopDir(at, "immediate", 30_000);
    const dir = this.target(at);
    // the link goes first: a half-removed directory is never taken for an instance
    fs.rmSync(at, { force: true });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(this.logFile(name), { force: true });
  }

  async dropSnapshot(name: string): Promise<void> {
    const at = this.snapshotDir(name);
    const dir = this.target(at);
    fs.rmSync(at, { force: true });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }

  /**
   * Exchanges two stopped instances' data: after it, `a` holds what was `b`'s data and
   * the reverse. Each keeps its own settings (port, ceilings), so connections keep
   * their address. The two relinks are journalled first: a crash between them is
   * finished when the host next opens.
   */
  swapData(a: string, b: string): void {
    if (this.running(a) || this.running(b)) throw new InstanceError(`instances ${a} and ${b} must be stopped to swap their data`);
    const ta = this.target(this.dataDir(a));
    const tb = this.target(this.dataDir(b));
    if (!ta || !tb) throw new InstanceError(`instances ${a} and ${b} must both exist to swap their data`);
    const confA = fs.readFileSync(path.join(ta, INSTANCE_CONF), "utf8");
    const confB = fs.readFileSync(path.join(tb, INSTANCE_CONF), "utf8");
    const journal = path.join(this.root, "swaps.json");
    fs.writeFileSync(journal, JSON.stringify({ [a]: tb, [b]: ta }), { mode: 0o600 });
    this.finishSwaps();
    this.writeOwned(path.join(tb, INSTANCE_CONF), confA);
    this.writeOwned(path.join(ta, INSTANCE_CONF), confB);
  }

  /** Completes a journalled swap (each link set as recorded; idempotent). */
  private finishSwaps(): void {
    const journal = path.join(this.root, "swaps.json");
    if (!fs.existsSync(journal)) return;
    const links = JSON.parse(fs.readFileSync(journal, "utf8")) as Record<string, string>;
    for (const [name, dir] of Object.entries(links)) if (this.target(this.dataDir(name)) !== dir) this.link(dir, this.dataDir(name));
    fs.rmSync(journal);
  }

  /**
   * A snapshot of a running instance without stopping it and without a logical
   * copy: between pg_backup_start and pg_backup_stop its files are cloned (they may
   * be torn; full-page writes in the WAL repair them), then the WAL written
   * meanwhile is cloned too (a temporary replication slot keeps it), and the copy
   * is recovered privately (no TCP listener, a socket directory only we reach),
   * shut down cleanly and renamed into place. Replaces a snapshot of that name.
   */
  async snapshot(
    source: string,
    port: number,
    snapshot: string,
    hooks: { copied?: () => void; origin?: () => Promise<string | null> } = {},
  ): Promise<SnapshotResult> {
    const from = this.target(this.dataDir(source));
    if (!from) throw new InstanceError(`instance ${source} does not exist`);
    const building = this.tmpPath(`snap-${snapshot}`);
    const client = new pg.Client({
      connectionString: this.adminUrl(port),
      application_name: "capydb-snapshot",
      connectionTimeoutMillis: 15_000,
      // Bounded like every platform session. Its statements take no lock a tenant can hold
      // (a slot, backup mode, a WAL switch); the slowest is pg_backup_start's immediate
      // checkpoint, which writes every dirty buffer (at most shared_buffers) at full speed:
      // seconds. A cancelled one fails the snapshot, which is retried; the checkpoint itself
      // goes on. The session idles while the files are copied, outside any transaction, so no
      // idle timeout applies (ending the session would end backup mode).
      options: "-c lock_timeout=10s -c statement_timeout=120s",
    });
    client.on("error", () => {});
    await client.connect();
    let lsn: string;
    let originLsn: string | null = null;
    const began = Date.now();
    let backupMs = 0;
    try {
      const slot = `capydb_snap_${crypto.randomBytes(6).toString("hex")}`;
      // temporary: dropped when this session ends, however it ends
      await client.query("SELECT pg_catalog.pg_create_physical_replication_slot($1, true, true)", [slot]);
      await client.query("SELECT pg_catalog.pg_backup_start($1, true)", [`capydb snapshot ${snapshot}`]);
      let stopped: { lsn: string; labelfile: string; spcmapfile: string };
      try {
        await this.copyTree(from, building);
        hooks.copied?.(); // still in backup mode (a crash drill stops here)
      } finally {
        // backup mode ends whether or not the copy worked
        stopped = (
          await client.query<{ lsn: string; labelfile: string; spcmapfile: string }>(
            "SELECT lsn::text, labelfile, spcmapfile FROM pg_catalog.pg_backup_stop(false)",
          )
        ).rows[0];
        backupMs = Date.now() - began;
      }
      lsn = stopped.lsn;
      const label = stopped.labelfile;
      if (stopped.spcmapfile) throw new InstanceError("instances with tablespaces cannot be snapshotted");
      // The origin: a logical slot made now (its consistent point is past the backup's end);
      // the copy is recovered to exactly that point, so what the slot decodes is exactly what
      // the copy lacks. The WAL switch writes (and flushes) a record past the point, which
      // recovery must reach to stop there.
      originLsn = (await hooks.origin?.()) ?? null;
      if (originLsn) await client.query("SELECT pg_catalog.pg_switch_wal()");
      // the WAL up to the backup's end (the slot has kept every segment since its start)
      fs.rmSync(path.join(building, "pg_wal"), { recursive: true, force: true });
      await this.copyTree(path.join(from, "pg_wal"), path.join(building, "pg_wal"));
      this.writeOwned(path.join(building, "backup_label"), label);
    } catch (err) {
      fs.rmSync(building, { recursive: true, force: true });
      throw err;
    } finally {
      await client.end().catch(() => {});
    }
    try {
      // what a running server's directory holds that a copy must not
      for (const f of ["postmaster.pid", "postmaster.opts"]) fs.rmSync(path.join(building, f), { force: true });
      for (const d of ["pg_replslot", "pg_stat_tmp", "pg_dynshmem", "pg_notify", "pg_snapshots", "pg_serial"]) {
        const p = path.join(building, d);
        if (fs.existsSync(p)) for (const entry of fs.readdirSync(p)) fs.rmSync(path.join(p, entry), { recursive: true, force: true });
      }
      // recovery replays the WAL to the backup's end and beyond (what was cloned), or to the
      // origin exactly, then the server is ready: stopping it now writes a shutdown checkpoint,
      // so every clone starts without recovery
      if (originLsn) {
        // targeted recovery reads pg_wal (restore_command finds nothing: there is no archive)
        this.writeOwned(path.join(building, "recovery.signal"), "");
        await this.withPrivateStart(building, async () => {}, {
          extra: [
            "restore_command = 'false'",
            `recovery_target_lsn = '${originLsn}'`,
            "recovery_target_inclusive = off",
            "recovery_target_action = 'promote'",
            // no reads during this recovery: a hot standby would need production's own max_connections
            "hot_standby = off",
          ],
        });
      } else await this.withPrivateStart(building, async () => {});
      const done = path.join(this.root, "dirs", path.basename(building));
      fs.renameSync(building, done);
      const old = this.target(this.snapshotDir(snapshot));
      this.link(done, this.snapshotDir(snapshot));
      if (old) fs.rmSync(old, { recursive: true, force: true });
    } catch (err) {
      await this.stopDir(building, "immediate", 30_000).catch(() => {});
      fs.rmSync(building, { recursive: true, force: true });
      throw err;
    }
    return { lsn: lsn!, backupMs, originLsn };
  }

  /**
   * Starts a data directory privately (no TCP listener: a socket directory only the platform
   * reaches, port as configured), runs `work` with the socket's address, and shuts it down
   * cleanly (a shutdown checkpoint: what is copied from it next starts without recovery).
   * The directory's own settings are put back.
   */
  private async withPrivateStart(
    dir: string,
    work: (at: { host: string; port: number }) => Promise<void>,
    opts: { scratch?: boolean; extra?: string[] } = {},
  ): Promise<void> {
    const socketDir = path.join(this.root, "sockets", `p-${crypto.randomBytes(4).toString("hex")}`);
    fs.mkdirSync(socketDir, { mode: 0o700 });
    this.chown(socketDir);
    const conf = fs.readFileSync(path.join(dir, INSTANCE_CONF), "utf8");
    const port = Number(/^port = (\d+)/m.exec(conf)?.[1] ?? 5432);
    // A scratch copy (thrown away if anything fails, synced to disk by the caller once it is
    // stopped) needs no crash safety while it is rewritten.
    const scratch = opts.scratch ? SCRATCH_SETTINGS : [];
    this.writeInstanceConf(dir, { port, maxConnections: 5, sharedBuffersMb: opts.scratch ? 256 : 16 }, { socketDir }, [...scratch, ...(opts.extra ?? [])]);
    const logFile = `${dir}.log`;
    try {
      await this.startDir(dir, logFile, 600_000);
      try {
        await work({ host: socketDir, port });
      } catch (err) {
        await this.stopDir(dir, "immediate", 30_000).catch(() => {});
        throw err;
      }
      await this.stopDir(dir, "fast", 600_000);
    } finally {
      fs.rmSync(socketDir, { recursive: true, force: true });
      fs.rmSync(logFile, { force: true });
    }
    fs.writeFileSync(path.join(dir, INSTANCE_CONF), conf);
  }

  /**
   * A snapshot derived from another (a masked copy of a project's snapshot): a clone of
   * snapshot `from`, started privately and handed to `work` (which connects through the
   * socket), shut down cleanly, its WAL reset (pg_resetwal after a clean shutdown: the
   * segments copied from `from` and those `work` wrote, which hold the data as it was, leave
   * the directory), and linked as snapshot `name` in place of one of that name. A failure
   * leaves nothing behind and `name` as it was.
   */
  async deriveSnapshot(from: string, name: string, work: (at: { host: string; port: number }) => Promise<void>): Promise<void> {
    const source = this.snapshotSource(from);
    this.snapshotDir(name); // a valid name
    const building = this.tmpPath(`derive-${name}`);
    try {
      await this.copyTree(source, building);
      await this.withPrivateStart(building, work, { scratch: true });
      await this.run("pg_resetwal", ["-D", building]);
      // it ran without fsync: its files reach the disk before anything clones them
      await execFileAsync("sync", ["-f", path.join(building, "PG_VERSION")], { env: childEnv() });
      const done = path.join(this.root, "dirs", path.basename(building));
      fs.renameSync(building, done);
      const old = this.target(this.snapshotDir(name));
      this.link(done, this.snapshotDir(name));
      if (old && old !== done) this.removeLater(old);
    } catch (err) {
      fs.rmSync(building, { recursive: true, force: true });
      throw err;
    }
  }

  /** Bytes the filesystem under the root has in use (what a copy-on-write clone should hardly move). */
  async usedBytes(): Promise<number> {
    const st = await fs.promises.statfs(this.root);
    return (st.blocks - st.bfree) * st.bsize;
  }

  /** Approximate resident memory (kB) of an instance's processes: the postmaster and its children. */
  async memoryKb(name: string): Promise<number> {
    const pid = this.pid(name);
    if (!pid) return 0;
    const { stdout } = await execFileAsync("ps", ["-o", "rss=", "--ppid", String(pid), "-p", String(pid)], { env: childEnv() });
    return stdout
      .split("\n")
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0)
      .reduce((a, b) => a + b, 0);
  }
}
