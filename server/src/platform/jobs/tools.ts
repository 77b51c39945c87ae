// Spawning a tool (psql, pg_dump, pg_restore) for a job: output captured, secrets
// scrubbed, the tail stored on the job row, and a failure classified.
import { spawn } from "node:child_process";
import path from "node:path";
import { PermanentError, TransientError } from "./errors.js";
import { scrubSecrets, truncateTail } from "./scrub.js";
import { childEnv, NO_PASSFILE } from "../dataplane/child-env.js";

const OUTPUT_LIMIT_BYTES = 16 * 1024;

export interface ToolRunOptions {
  /** The tool's own variables (PG*, locale): nothing else of ours reaches it. */
  env?: Record<string, string>;
  stdin?: NodeJS.ReadableStream | string;
  signal?: AbortSignal;
  timeoutMs?: number;
  secrets?: Iterable<string>;
}

export interface ToolResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** A tool exited non-zero or was killed; the message carries its last stderr line. */
export function toolFailure(cmd: string, result: ToolResult): Error {
  const lastLine = result.stderr.trim().split("\n").filter(Boolean).pop() ?? "";
  const message = `${path.basename(cmd)} exited with code ${result.exitCode ?? "null (killed)"}${lastLine ? `: ${lastLine}` : ""}`;
  const transient = /could not connect|connection refused|server closed the connection|terminating connection|the database system is (starting up|shutting down)|Connection timed out|timeout expired/i.test(result.stderr);
  return transient ? new TransientError(message) : new PermanentError(message);
}

export function runTool(cmd: string, args: string[], options: ToolRunOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      // English messages (toolFailure reads them); no ~/.pgpass of ours offered to a server.
      env: childEnv({ LC_ALL: "C.UTF-8", LANG: "C.UTF-8", PGPASSFILE: NO_PASSFILE, ...options.env }),
      stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      signal: options.signal,
    });
    let stdout = "";
    let stderr = "";
    // Keep a bounded tail of each stream while the tool runs.
    child.stdout!.on("data", (d: Buffer) => {
      stdout = truncateTail(stdout + d.toString("utf8"), OUTPUT_LIMIT_BYTES * 2);
    });
    child.stderr!.on("data", (d: Buffer) => {
      stderr = truncateTail(stderr + d.toString("utf8"), OUTPUT_LIMIT_BYTES * 2);
    });
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs) timer = setTimeout(() => child.kill("SIGTERM"), options.timeoutMs);
    if (options.stdin !== undefined && child.stdin) {
      if (typeof options.stdin === "string") child.stdin.end(options.stdin);
      else options.stdin.pipe(child.stdin);
    }
    child.on("error", (err) => {
      if (timer) clearTimeout(timer);
      const e = err as NodeJS.ErrnoException;
      if (e.code === "ENOENT") reject(new PermanentError(`${path.basename(cmd)} is not installed (not found on the PATH)`));
      else if (e.name === "AbortError") reject(new TransientError(`${path.basename(cmd)} was stopped: the job was interrupted`));
      else reject(err);
    });
    child.on("close", (code) => {
      if (timer) clearTimeout(timer);
      const secrets = options.secrets ?? [];
      resolve({
        exitCode: code,
        stdout: truncateTail(scrubSecrets(stdout, secrets), OUTPUT_LIMIT_BYTES),
        stderr: truncateTail(scrubSecrets(stderr, secrets), OUTPUT_LIMIT_BYTES),
      });
    });
  });
}
