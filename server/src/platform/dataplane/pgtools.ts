// pg_dump and pg_restore for jobs: streams between the tools, the blob store and
// each other (never buffered whole in memory), passwords passed in the
// environment only, output captured, scrubbed and recorded on the job, failures
// classified.
import { spawn, type ChildProcess } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { pgTool } from "./pg-binaries.js";
import { recordToolOutput } from "../jobs/sql/record-tool-output.js";
import { PermanentError, TransientError } from "../jobs/errors.js";
import { scrubSecrets, truncateTail } from "../jobs/scrub.js";
import type { JobContext } from "../jobs/worker.js";

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
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)),
  };
}

function connArgs(e: PgEndpoint): string[] {
  return ["--host", e.host, "--port", String(e.port), "--username", e.user, "--dbname", e.database, "--no-password"];
}

const OUTPUT_LIMIT = 16 * 1024;

// Only the owner of an extension may comment on it; an allowlisted untrusted
// extension is created by the superuser, so its COMMENT fails harmlessly.
export const TOLERATED_RESTORE_ERRORS = [/must be owner of extension/];

/** A running pg_dump or pg_restore. */
export class PgToolRun {
  private stderrTail = "";
  readonly exited: Promise<number | null>;

  constructor(readonly name: "pg_dump" | "pg_restore", readonly child: ChildProcess, readonly secret: string) {
    child.stderr!.on("data", (d) => (this.stderrTail = truncateTail(this.stderrTail + d, OUTPUT_LIMIT * 2)));
    this.exited = new Promise((resolve, reject) => {
      child.on("error", (err) => {
        const e = err as NodeJS.ErrnoException;
        if (e.code === "ENOENT") reject(new PermanentError(`${name} is not installed`));
        else if (e.name === "AbortError") reject(new TransientError(`${name} was stopped: the job was interrupted`));
        else reject(err);
      });
      child.on("close", (code) => resolve(code));
    });
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
  ctx: JobContext, name: "pg_dump" | "pg_restore", binDir: string | null, args: string[], e: PgEndpoint, stdin: boolean,
  opts: { stdoutFd?: number; inputFile?: string } = {},
): PgToolRun {
  ctx.addSecret(e.password);
  const child = spawn(pgTool(binDir, name), [...args, ...connArgs(e), ...(opts.inputFile ? ["--", opts.inputFile] : [])], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      PGPASSWORD: e.password,
      PGCONNECT_TIMEOUT: "10",
      PGAPPNAME: "capydb",
      LANG: "C.UTF-8",
      ...(e.hostaddr ? { PGHOSTADDR: e.hostaddr } : {}),
      ...(e.sslmode ? { PGSSLMODE: e.sslmode } : {}),
    },
    stdio: [stdin ? "pipe" : "ignore", opts.stdoutFd ?? "pipe", "pipe"],
    signal: ctx.signal,
  });
  if (stdin) child.stdin!.on("error", () => {}); // an early exit closes stdin: the exit code tells
  return new PgToolRun(name, child, e.password);
}

/**
 * pg_dump in custom format (uncompressed unless `compress` is given) to stdout: a
 * pipe to read, or the file descriptor `stdoutFd` written by pg_dump itself.
 */
export function startDump(
  ctx: JobContext,
  source: PgEndpoint,
  opts: { snapshot?: string; schemaOnly?: boolean; compress?: number; binDir: string | null; stdoutFd?: number },
): PgToolRun {
  const args = ["--format=custom", `--compress=${opts.compress ?? 0}`];
  if (opts.snapshot) args.push(`--snapshot=${opts.snapshot}`);
  if (opts.schemaOnly) args.push("--schema-only");
  return spawnTool(ctx, "pg_dump", opts.binDir, args, source, false, { stdoutFd: opts.stdoutFd });
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
  const failed = runs.findIndex((r, i) => codes[i] !== 0);
  await recordToolOutput(ctx.db, ctx.job.id, ctx.job.lease_token!, { exitCode: failed >= 0 ? codes[failed] : 0, stdout: "", stderr });
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
    throw classify(`${run.name} exited with code ${codes[i] ?? "null (killed)"}: ${scrubSecrets(lastLine(run.stderr), secrets)}`, run.stderr);
  }
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter(Boolean).pop() ?? "";
}

function classify(message: string, stderr: string): Error {
  return /could not connect|connection to server .* failed|server closed the connection|terminating connection|the database system is (starting up|shutting down)/i.test(stderr)
    ? new TransientError(message)
    : new PermanentError(message);
}

/** pg_dump of `source` piped into pg_restore on `target`. */
export async function dumpAndRestore(
  ctx: JobContext,
  o: { source: PgEndpoint; target: PgEndpoint; snapshot?: string; schemaOnly?: boolean; binDir: string | null },
): Promise<void> {
  const dump = startDump(ctx, o.source, { snapshot: o.snapshot, schemaOnly: o.schemaOnly, binDir: o.binDir });
  const restore = startRestore(ctx, o.target, o.binDir);
  dump.stdout.pipe(restore.stdin);
  await finishTools(ctx, [dump, restore]);
}

