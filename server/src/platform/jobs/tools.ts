// Spawning a tool (psql, pg_dump, pg_restore) for a job: in a process group of its
// own, output captured, secrets scrubbed, the tail stored on the job row, and a
// failure classified.
//
// Why a group of its own: Ctrl-C in a terminal signals the whole foreground process
// group, and `kill -TERM -<pgid>` the whole group it names. A pg_dump in the server's
// group died of it ("pg_dump: terminated by user") and its job failed for good while
// the server was still handing jobs back to the queue. Out of that group only we stop
// a tool: when its job's signal aborts, and when this process exits.
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import path from "node:path";
import { PermanentError, TransientError } from "./errors.js";
import { scrubSecrets, truncateTail } from "./scrub.js";
import { childEnv, NO_PASSFILE } from "../dataplane/child-env.js";

const OUTPUT_LIMIT_BYTES = 16 * 1024;
/** A tool still alive this long after its job's abort (SIGTERM to its group) gets SIGKILL. */
const KILL_AFTER_MS = 5_000;

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
  /** The signal that ended the tool, when one did. */
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * A tool stopped by a signal that did not come from its job (a process manager
 * signalling every process of the service, an operator's kill): nothing is wrong
 * with the work, so it is transient, and a stopping worker hands its job back.
 */
export class ToolInterrupted extends TransientError {}

// Signals that end a process on request; a crash (SIGSEGV, SIGABRT) or a broken pipe is not one.
const TERMINATING = new Set<NodeJS.Signals>(["SIGINT", "SIGTERM", "SIGQUIT", "SIGHUP", "SIGKILL"]);

/**
 * How a tool was interrupted, or null when it was not: killed by a terminating
 * signal, or exited after its own handler of SIGINT/SIGTERM/SIGQUIT printed
 * "terminated by user" (pg_dump and pg_restore do, and exit 1).
 */
export function interruption(exitCode: number | null, signal: NodeJS.Signals | null | undefined, stderr: string): string | null {
  if (signal && TERMINATING.has(signal)) return `killed by ${signal}`;
  if (exitCode === 1 && /^\S+: terminated by user$/m.test(stderr)) return "terminated by user: a SIGINT, SIGTERM or SIGQUIT reached it";
  return null;
}

export function interruptedMessage(name: string, how: string): string {
  return `${name} was stopped by a signal that did not come from its job (${how})`;
}

/** A tool exited non-zero or was killed; the message carries its last stderr line. */
export function toolFailure(cmd: string, result: ToolResult): Error {
  const name = path.basename(cmd);
  const how = interruption(result.exitCode, result.signal, result.stderr);
  if (how) return new ToolInterrupted(interruptedMessage(name, how));
  const lastLine = result.stderr.trim().split("\n").filter(Boolean).pop() ?? "";
  const message = `${name} exited with code ${result.exitCode ?? "null (killed)"}${lastLine ? `: ${lastLine}` : ""}`;
  const transient =
    /could not connect|connection refused|server closed the connection|terminating connection|the database system is (starting up|shutting down)|Connection timed out|timeout expired/i.test(
      result.stderr,
    );
  return transient ? new TransientError(message) : new PermanentError(message);
}

// Leaders of the tool groups alive now, killed with their groups if this process exits first.
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone already
  }
}

function killGroupsAtExit(): void {
  // An exit cannot wait: whatever is still running goes at once, never left behind as an orphan.
  for (const pgid of liveGroups) signalGroup(pgid, "SIGKILL");
  liveGroups.clear();
}

/** The tool groups still running (their leaders' pids). */
export function runningToolGroups(): number[] {
  return [...liveGroups];
}

/**
 * Spawns a tool as the leader of a new process group. When `signal` aborts, the whole
 * group (pg_restore --jobs has worker processes) gets SIGTERM, and SIGKILL if it is
 * still there KILL_AFTER_MS later; if this process exits first, SIGKILL at once.
 * Check `signal.aborted` when it closes: Node's own `signal` option is not used, as it
 * would signal the leader only.
 */
export function spawnInOwnGroup(
  cmd: string,
  args: string[],
  options: { env: Record<string, string>; stdio: StdioOptions },
  signal?: AbortSignal,
): ChildProcess {
  if (!exitHookInstalled) {
    process.on("exit", killGroupsAtExit);
    exitHookInstalled = true;
  }
  const child = spawn(cmd, args, { env: options.env, stdio: options.stdio, detached: true });
  const pgid = child.pid;
  if (pgid === undefined) return child; // it did not start: its "error" event says why
  liveGroups.add(pgid);
  let escalation: NodeJS.Timeout | undefined;
  const stop = () => {
    signalGroup(pgid, "SIGTERM");
    escalation = setTimeout(() => signalGroup(pgid, "SIGKILL"), KILL_AFTER_MS);
    escalation.unref();
  };
  if (signal?.aborted) stop();
  else signal?.addEventListener("abort", stop, { once: true });
  // Once the leader is reaped its pid may be reused: no signal is sent to its group after that.
  child.once("exit", () => {
    liveGroups.delete(pgid);
    clearTimeout(escalation);
    signal?.removeEventListener("abort", stop);
  });
  return child;
}

export function runTool(cmd: string, args: string[], options: ToolRunOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawnInOwnGroup(
      cmd,
      args,
      {
        // English messages (toolFailure reads them); no ~/.pgpass of ours offered to a server.
        env: childEnv({ LC_ALL: "C.UTF-8", LANG: "C.UTF-8", PGPASSFILE: NO_PASSFILE, ...options.env }),
        stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      },
      options.signal,
    );
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
    let timedOut = false;
    if (options.timeoutMs) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGTERM");
      }, options.timeoutMs);
    }
    if (options.stdin !== undefined && child.stdin) {
      child.stdin.on("error", () => {}); // an early exit closes stdin: the exit code tells
      if (typeof options.stdin === "string") child.stdin.end(options.stdin);
      else options.stdin.pipe(child.stdin);
    }
    child.on("error", (err) => {
      if (timer) clearTimeout(timer);
      const e = err as NodeJS.ErrnoException;
      if (e.code === "ENOENT") reject(new PermanentError(`${path.basename(cmd)} is not installed (not found on the PATH)`));
      else reject(err);
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      if (options.signal?.aborted) {
        reject(new TransientError(`${path.basename(cmd)} was stopped: the job was interrupted`));
        return;
      }
      const secrets = options.secrets ?? [];
      resolve({
        exitCode: code,
        // Our own timeout is not an interruption from outside.
        signal: timedOut ? null : signal,
        stdout: truncateTail(scrubSecrets(stdout, secrets), OUTPUT_LIMIT_BYTES),
        stderr: truncateTail(scrubSecrets(stderr, secrets), OUTPUT_LIMIT_BYTES),
      });
    });
  });
}
