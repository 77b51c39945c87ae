// pg_dump and pg_restore for jobs: a dump streamed straight into a restore (never
// buffered whole, never on disk), passwords passed in the environment only, both
// tools' output captured, scrubbed and recorded on the job.
import { spawn } from "node:child_process";
import path from "node:path";
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

function toolEnv(e: PgEndpoint): Record<string, string> {
  return { PGPASSWORD: e.password, PGCONNECT_TIMEOUT: "10", PGAPPNAME: "capydb" };
}

export interface DumpRestoreOptions {
  source: PgEndpoint;
  target: PgEndpoint;
  /** Extra pg_dump arguments, e.g. ["--schema-only"] or ["--snapshot=..."]. */
  dumpArgs?: string[];
  binDir?: string | null;
  /** pg_restore errors that do not fail the copy (matched against each "pg_restore: error:" line). */
  tolerate?: RegExp[];
}

const OUTPUT_LIMIT = 16 * 1024;

/**
 * pg_dump -Fc of `source` piped into pg_restore on `target`, run as the target's
 * user with --no-owner --no-privileges so every object belongs to that user: a
 * tenant's dump is never restored with more rights than the tenant's own role.
 */
export async function dumpAndRestore(ctx: JobContext, o: DumpRestoreOptions): Promise<void> {
  const secrets = [o.source.password, o.target.password];
  secrets.forEach((s) => ctx.addSecret(s));
  const dumpBin = pgTool(o.binDir ?? null, "pg_dump");
  const restoreBin = pgTool(o.binDir ?? null, "pg_restore");
  const dump = spawn(dumpBin, ["--format=custom", "--compress=0", ...(o.dumpArgs ?? []), ...connArgs(o.source)], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...toolEnv(o.source) },
    stdio: ["ignore", "pipe", "pipe"],
    signal: ctx.signal,
  });
  const restore = spawn(restoreBin, ["--no-owner", "--no-privileges", ...connArgs(o.target)], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...toolEnv(o.target) },
    stdio: ["pipe", "pipe", "pipe"],
    signal: ctx.signal,
  });
  dump.stdout!.pipe(restore.stdin!);
  restore.stdin!.on("error", () => {}); // pg_restore exiting early closes its stdin: its own exit code tells
  let dumpErr = "";
  let restoreErr = "";
  dump.stderr!.on("data", (d) => (dumpErr = truncateTail(dumpErr + d, OUTPUT_LIMIT * 2)));
  restore.stderr!.on("data", (d) => (restoreErr = truncateTail(restoreErr + d, OUTPUT_LIMIT * 2)));
  restore.stdout!.resume();
  const exit = (p: ReturnType<typeof spawn>) =>
    new Promise<number | null>((resolve, reject) => {
      p.on("error", (err) => {
        const e = err as NodeJS.ErrnoException;
        if (e.code === "ENOENT") reject(new PermanentError(`${path.basename(String(p.spawnfile))} is not installed`));
        else if (e.name === "AbortError") reject(new TransientError("copy interrupted: the job was stopped"));
        else reject(err);
      });
      p.on("close", (code) => resolve(code));
    });
  const [dumpCode, restoreCode] = await Promise.all([exit(dump), exit(restore)]);
  const stderr = truncateTail(scrubSecrets(`${dumpErr}${restoreErr}`, secrets), OUTPUT_LIMIT);
  const exitCode = dumpCode !== 0 ? dumpCode : restoreCode;
  await recordToolOutput(ctx.db, ctx.job.id, ctx.job.lease_token!, { exitCode, stdout: "", stderr });
  if (dumpCode !== 0) {
    throw classify(`pg_dump exited with code ${dumpCode}: ${lastLine(dumpErr, secrets)}`, dumpErr);
  }
  if (restoreCode !== 0) {
    // pg_restore continues past errors and exits 1 at the end: fail unless every error is tolerated.
    const errors = restoreErr.split("\n").filter((l) => /^pg_restore: error:/.test(l) && !/errors ignored on restore/.test(l));
    const fatal = errors.filter((l) => !(o.tolerate ?? []).some((re) => re.test(l)));
    if (fatal.length > 0 || errors.length === 0) {
      throw classify(`pg_restore exited with code ${restoreCode}: ${scrubSecrets(fatal[0] ?? lastLine(restoreErr, secrets), secrets)}`, restoreErr);
    }
  }
}

function lastLine(text: string, secrets: string[]): string {
  return scrubSecrets(text.trim().split("\n").filter(Boolean).pop() ?? "", secrets);
}

function classify(message: string, stderr: string): Error {
  return /could not connect|connection to server .* failed|server closed the connection|terminating connection|the database system is (starting up|shutting down)/i.test(stderr)
    ? new TransientError(message)
    : new PermanentError(message);
}
