// pg_dump and pg_restore for jobs: streams between the tools, the blob store and
// each other (never buffered whole in memory), passwords passed in the
// environment only, output captured, scrubbed and recorded on the job, failures
// classified. Each runs in a process group of its own (see jobs/tools.ts), so a
// terminal's Ctrl-C or a signal to the server's group does not reach it.
import { execFile, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import type { Readable, Writable } from "node:stream";
import { pgTool } from "./pg-binaries.js";
import { childEnv, NO_PASSFILE } from "./child-env.js";
import { recordToolOutput } from "../jobs/sql/record-tool-output.js";
import { PermanentError, TransientError } from "../jobs/errors.js";
import { interruptedMessage, interruption, spawnInOwnGroup, ToolInterrupted } from "../jobs/tools.js";
import { scrubSecrets, truncateTail } from "../jobs/scrub.js";
import type { JobContext } from "../jobs/worker.js";

const execFileAsync = promisify(execFile);

export interface PgEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** Connect to this address (already checked) while host is kept for TLS verification. */
  hostaddr?: string;
  sslmode?: string;
}

export function endpointFromUrl(url: string): PgEndpoint {
  const u = new URL(url);
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)),
  };
}

/**
 * A libpq keyword/value connection string with every value single-quoted and its
 * backslashes and quotes escaped, so no value (a tenant's database name, say) can
 * add or change a keyword.
 */
export function conninfo(params: Record<string, string | number | undefined>): string {
  return Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== "")
    .map(([k, v]) => `${k}='${String(v).replace(/[\\']/g, (c) => "\\" + c)}'`)
    .join(" ");
}

/**
 * How a tool finds its server. A bare `--dbname NAME` is read by libpq as a whole
 * connection string when NAME contains "=" (a database really named
 * "hostaddr=10.0.0.5 port=5432 dbname=internal" sends the tool elsewhere). So the
 * tools get one quoted keyword/value string: libpq expands only that first dbname
 * and never the dbname inside it, which stays a literal name. Not PG* variables
 * (which libpq never expands either): pg_restore connects only when given
 * --dbname, so a connection string reaches it on the command line anyway, and one
 * form for both tools is one thing to get right. The password is not in it (argv
 * is public): it goes in PGPASSWORD, and PGPASSFILE points nowhere so a source
 * given without a password is never offered one from our ~/.pgpass.
 */
function connArgs(e: PgEndpoint): string[] {
  const target = conninfo({
    host: e.host,
    hostaddr: e.hostaddr,
    port: e.port,
    user: e.user,
    dbname: e.database,
    sslmode: e.sslmode,
    connect_timeout: 10,
    application_name: "capydb",
    // A server that vanishes (a dropped network path) ends the run instead of hanging it.
    keepalives: 1,
    keepalives_idle: 30,
    keepalives_interval: 10,
    keepalives_count: 3,
  });
  return [`--dbname=${target}`, "--no-password"];
}

/**
 * How long pg_dump waits for each table's ACCESS SHARE lock before giving up, when
 * the caller passes no lockWaitSeconds (config.toolLockWaitSeconds,
 * CAPYDB_TOOL_LOCK_WAIT_SECONDS). Without it a tenant (or an import source) holding
 * ACCESS EXCLUSIVE in an open transaction keeps a worker forever. Session timeouts
 * given through PGOPTIONS (statement_timeout, lock_timeout,
 * idle_in_transaction_session_timeout) would not hold: pg_dump and pg_restore set
 * all three to 0 as they start, so none is passed; a run as a whole is bounded by
 * its job's maximum runtime.
 */
export const DEFAULT_LOCK_WAIT_SECONDS = 60;

const OUTPUT_LIMIT = 16 * 1024;

// Only the owner of an extension may comment on it; an allowlisted untrusted
// extension is created by the superuser, so its COMMENT fails harmlessly.
// The platform's extension schema exists in every target before a restore (made by
// the privileged module with the extensions in it): the archive's CREATE SCHEMA of it
// fails harmlessly.
export const TOLERATED_RESTORE_ERRORS = [/must be owner of extension/, /schema "capydb_extensions" already exists/];

/** A running pg_dump or pg_restore. */
export class PgToolRun {
  private stderrTail = "";
  /** The signal that ended it, when one did. */
  private endSignal: NodeJS.Signals | null = null;
  /** Resolves with the exit code; rejects when it did not start, or when its job's signal stopped it. */
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: "pg_dump" | "pg_restore",
    readonly child: ChildProcess,
    readonly secret: string,
    /** pg_dump's --lock-wait-timeout, to explain a timeout. */
    readonly lockWaitSeconds: number | null = null,
    jobSignal?: AbortSignal,
  ) {
    child.stderr!.on("data", (d) => (this.stderrTail = truncateTail(this.stderrTail + d, OUTPUT_LIMIT * 2)));
    this.exited = new Promise((resolve, reject) => {
      child.on("error", (err) => {
        const e = err as NodeJS.ErrnoException;
        if (e.code === "ENOENT") reject(new PermanentError(`${name} is not installed`));
        else reject(err);
      });
      child.on("close", (code, signal) => {
        this.endSignal = signal;
        if (jobSignal?.aborted) reject(new TransientError(`${name} was stopped: the job was interrupted`));
        else resolve(code);
      });
    });
  }

  /** How a signal from outside its job stopped it, or null (see jobs/tools.ts interruption). */
  interruption(code: number | null): string | null {
    return interruption(code, this.endSignal, this.stderrTail);
  }

  get stderr(): string {
    return this.stderrTail;
  }

  get stdout(): Readable {
    return this.child.stdout!;
  }

  get stdin(): Writable {
    return this.child.stdin!;
  }
}

function spawnTool(
  ctx: JobContext,
  name: "pg_dump" | "pg_restore",
  binDir: string | null,
  args: string[],
  e: PgEndpoint,
  stdin: boolean,
  opts: { stdoutFd?: number; inputFile?: string; lockWaitSeconds?: number } = {},
): PgToolRun {
  ctx.addSecret(e.password);
  const child = spawnInOwnGroup(
    pgTool(binDir, name),
    [...args, ...connArgs(e), ...(opts.inputFile ? ["--", opts.inputFile] : [])],
    {
      // English messages whatever our locale: finishTools reads them.
      env: childEnv({ PGPASSWORD: e.password || undefined, PGPASSFILE: NO_PASSFILE, LC_ALL: "C.UTF-8", LANG: "C.UTF-8" }),
      stdio: [stdin ? "pipe" : "ignore", opts.stdoutFd ?? "pipe", "pipe"],
    },
    ctx.signal,
  );
  if (stdin) child.stdin!.on("error", () => {}); // an early exit closes stdin: the exit code tells
  return new PgToolRun(name, child, e.password, opts.lockWaitSeconds ?? null, ctx.signal);
}

/**
 * pg_dump in custom format (uncompressed unless `compress` is given) to stdout: a
 * pipe to read, or the file descriptor `stdoutFd` written by pg_dump itself.
 */
export function startDump(
  ctx: JobContext,
  source: PgEndpoint,
  opts: { snapshot?: string; schemaOnly?: boolean; compress?: number; binDir: string | null; stdoutFd?: number; lockWaitSeconds?: number },
): PgToolRun {
  const lockWaitSeconds = opts.lockWaitSeconds ?? DEFAULT_LOCK_WAIT_SECONDS;
  const args = ["--format=custom", `--compress=${opts.compress ?? 0}`, `--lock-wait-timeout=${lockWaitSeconds}s`];
  if (opts.snapshot) args.push(`--snapshot=${opts.snapshot}`);
  if (opts.schemaOnly) args.push("--schema-only");
  return spawnTool(ctx, "pg_dump", opts.binDir, args, source, false, { stdoutFd: opts.stdoutFd, lockWaitSeconds });
}

/** The longest schema, as SQL, dumpSchemaText keeps (a schema bigger than this is not a schema to diff by eye). */
export const SCHEMA_TEXT_LIMIT_BYTES = 32 * 1024 * 1024;

/**
 * pg_dump --schema-only as plain SQL, returned as text: what a database's schema is, to
 * compare with what it was. The lines pg_dump makes different on every run (\\restrict's
 * random key) are left out, so the same schema gives the same text. Not a job's tool run
 * (an API request asks for it too): its error is scrubbed and thrown, nothing is recorded.
 */
export async function dumpSchemaText(
  source: PgEndpoint,
  opts: { binDir: string | null; lockWaitSeconds?: number; timeoutMs?: number; signal?: AbortSignal },
): Promise<string> {
  const lockWaitSeconds = opts.lockWaitSeconds ?? DEFAULT_LOCK_WAIT_SECONDS;
  const args = ["--schema-only", "--format=plain", `--lock-wait-timeout=${lockWaitSeconds}s`, ...connArgs(source)];
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(pgTool(opts.binDir, "pg_dump"), args, {
      env: childEnv({ PGPASSWORD: source.password || undefined, PGPASSFILE: NO_PASSFILE, LC_ALL: "C.UTF-8", LANG: "C.UTF-8" }),
      maxBuffer: SCHEMA_TEXT_LIMIT_BYTES,
      timeout: opts.timeoutMs ?? 300_000,
      signal: opts.signal,
      encoding: "utf8",
    }));
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === "ENOENT") throw new PermanentError("pg_dump is not installed");
    if (e.code === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER") throw new PermanentError(`the schema is over ${SCHEMA_TEXT_LIMIT_BYTES} bytes as SQL`);
    const locked = /Query was: LOCK TABLE (.+) IN ACCESS SHARE MODE/.exec(e.stderr ?? "");
    if (locked) throw new PermanentError(`pg_dump waited more than ${lockWaitSeconds} s for a lock on ${scrubSecrets(locked[1])}, held by another session`);
    throw classify(`pg_dump --schema-only failed: ${scrubSecrets(lastLine(e.stderr || e.message), [source.password])}`, e.stderr ?? "");
  }
  return stdout
    .split("\n")
    .filter((l) => !/^\\(un)?restrict /.test(l))
    .join("\n");
}

/**
 * pg_restore of an archive on stdin, or of the custom-format archive `file` read by
 * pg_restore itself with `jobs` parallel workers, as the target's user with
 * --no-owner --no-privileges: every object belongs to that user, and a tenant's
 * archive is never restored with more rights than the tenant's own role.
 */
export function startRestore(ctx: JobContext, target: PgEndpoint, binDir: string | null, opts: { file?: string; jobs?: number } = {}): PgToolRun {
  const args = ["--no-owner", "--no-privileges"];
  if (opts.file && opts.jobs && opts.jobs > 1) args.push(`--jobs=${opts.jobs}`);
  const restore = spawnTool(ctx, "pg_restore", binDir, args, target, !opts.file, { inputFile: opts.file });
  restore.child.stdout!.resume();
  return restore;
}

/**
 * Waits for the tools, records their exit code and scrubbed stderr on the job, and
 * throws a classified error when one failed. pg_restore goes on past errors and
 * exits 1 at the end: that fails unless every error line is tolerated.
 */
export async function finishTools(ctx: JobContext, runs: PgToolRun[], tolerate: RegExp[] = TOLERATED_RESTORE_ERRORS): Promise<void> {
  const codes = await Promise.all(runs.map((r) => r.exited));
  const secrets = runs.map((r) => r.secret);
  const stderr = truncateTail(scrubSecrets(runs.map((r) => r.stderr).join(""), secrets), OUTPUT_LIMIT);
  const failed = runs.findIndex((_r, i) => codes[i] !== 0);
  await recordToolOutput(ctx.db, ctx.job.id, ctx.job.lease_token!, { exitCode: failed >= 0 ? codes[failed] : 0, stdout: "", stderr });
  // A tool stopped by a signal from outside explains its partner's failure too (a broken pipe, an archive cut short).
  for (let i = 0; i < runs.length; i++) {
    const how = codes[i] === 0 ? null : runs[i].interruption(codes[i]);
    if (how) throw new ToolInterrupted(interruptedMessage(runs[i].name, how));
  }
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i];
    if (codes[i] === 0) continue;
    if (run.name === "pg_restore" && codes[i] === 1) {
      const errors = run.stderr.split("\n").filter((l) => /^pg_restore: error:/.test(l));
      const fatal = errors.filter((l) => !tolerate.some((re) => re.test(l)));
      if (errors.length > 0 && fatal.length === 0) continue;
      const line = scrubSecrets((fatal[0] ?? lastLine(run.stderr)).replace(/^pg_restore: error: /, ""), secrets);
      throw classify(`pg_restore exited with code 1: ${line}`, run.stderr);
    }
    const locked = lockTimeout(run);
    if (locked) throw new PermanentError(scrubSecrets(locked, secrets));
    throw classify(`${run.name} exited with code ${codes[i] ?? "null (killed)"}: ${scrubSecrets(lastLine(run.stderr), secrets)}`, run.stderr);
  }
}

/**
 * pg_dump enforces --lock-wait-timeout as a statement timeout on its LOCK TABLE
 * statements, and reports "canceling statement due to statement timeout" with
 * "Query was: LOCK TABLE <tables> IN ACCESS SHARE MODE" (several tables when a
 * newer pg_dump locks them in batches). Retrying at once would wait again for the
 * same holder, so this is permanent, and says which table and why.
 */
function lockTimeout(run: PgToolRun): string | null {
  if (run.name !== "pg_dump" || run.lockWaitSeconds === null) return null;
  if (!/canceling statement due to statement timeout/.test(run.stderr)) return null;
  const query = /Query was: LOCK TABLE (.+) IN ACCESS SHARE MODE/.exec(run.stderr);
  if (!query) return null;
  const tables = splitTableList(query[1]);
  const what =
    tables.length === 1
      ? `table ${tables[0]}`
      : `one of the tables ${tables.slice(0, 5).join(", ")}${tables.length > 5 ? ` (and ${tables.length - 5} more)` : ""}`;
  return (
    `pg_dump could not lock ${what} within ${run.lockWaitSeconds} s: another session holds a conflicting lock ` +
    "(an ACCESS EXCLUSIVE lock from ALTER TABLE, TRUNCATE, VACUUM FULL or LOCK TABLE in an open transaction); try again once it has ended"
  );
}

/** `a.b, "x, y"."z"` into its table names (a quoted name may hold a comma). */
function splitTableList(list: string): string[] {
  const names: string[] = [];
  let current = "";
  let quoted = false;
  for (const c of list) {
    if (c === '"') quoted = !quoted;
    if (c === "," && !quoted) {
      names.push(current.trim());
      current = "";
    } else {
      current += c;
    }
  }
  names.push(current.trim());
  return names.filter(Boolean);
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter(Boolean).pop() ?? "";
}

function classify(message: string, stderr: string): Error {
  return /could not connect|connection to server .* failed|server closed the connection|terminating connection|the database system is (starting up|shutting down)/i.test(
    stderr,
  )
    ? new TransientError(message)
    : new PermanentError(message);
}

/** pg_dump of `source` piped into pg_restore on `target`. */
export async function dumpAndRestore(
  ctx: JobContext,
  o: { source: PgEndpoint; target: PgEndpoint; snapshot?: string; schemaOnly?: boolean; binDir: string | null; lockWaitSeconds?: number },
): Promise<void> {
  const dump = startDump(ctx, o.source, { snapshot: o.snapshot, schemaOnly: o.schemaOnly, binDir: o.binDir, lockWaitSeconds: o.lockWaitSeconds });
  const restore = startRestore(ctx, o.target, o.binDir);
  dump.stdout.pipe(restore.stdin);
  await finishTools(ctx, [dump, restore]);
}
