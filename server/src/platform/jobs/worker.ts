// The job worker: claims due jobs, runs their handlers under a renewed lease,
// completes or fails them (lease-checked), rescues jobs of dead workers, and
// shuts down gracefully (running jobs finish or go back to the queue).
import os from "node:os";
import crypto from "node:crypto";
import pg from "pg";
import type { Db } from "../store/db.js";
import { claimJobs } from "./sql/claim.js";
import { completeJobs, type CompletionInput } from "./sql/complete.js";
import { failJob } from "./sql/fail.js";
import { renewLease } from "./sql/renew.js";
import { rescueExpiredJobs } from "./sql/rescue.js";
import { releaseJob } from "./sql/release.js";
import { recordToolOutput } from "./sql/record-tool-output.js";
import { classifyError, errorMessage } from "./errors.js";
import { scrubSecrets } from "./scrub.js";
import { runTool, toolFailure, type ToolResult, type ToolRunOptions } from "./tools.js";
import type { JobRow } from "./types.js";

export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export interface JobContext {
  job: JobRow;
  /** Aborted when the lease is lost or the worker is shutting down hard. */
  signal: AbortSignal;
  db: Db;
  log: Logger;
  /** Registers a value that must never reach the job record (passwords, URLs). */
  addSecret(secret: string): void;
  /** Runs a tool; its exit code and output tails are recorded on the job. Throws a classified error on non-zero exit. */
  runTool(cmd: string, args: string[], options?: ToolRunOptions): Promise<ToolResult>;
}

export interface JobHandler {
  run(ctx: JobContext): Promise<void>;
  /** Undo half-made work once the job has failed for good (permanent error or attempts exhausted). */
  cleanup?(ctx: JobContext, error: unknown): Promise<void>;
}

export interface WorkerOptions {
  db: Db;
  databaseUrl: string;
  handlers: Record<string, JobHandler>;
  concurrency: number;
  leaseSeconds: number;
  retryBaseMs: number;
  log: Logger;
  pollIntervalMs?: number;
  workerId?: string;
}

/**
 * Coalesces the completions that arrive while one is being written into the next
 * statement: at low load a job completes at once; under load one commit (one WAL
 * flush) completes many jobs, which is what bounds a durable queue's throughput.
 */
class CompletionBatcher {
  private queue: Array<CompletionInput & { resolve(done: boolean): void; reject(err: unknown): void }> = [];
  private flushing = false;

  constructor(private readonly db: Db, private readonly maxBatch = 500) {}

  complete(jobId: string, leaseToken: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ jobId, leaseToken, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const done = await completeJobs(this.db, batch);
        for (const c of batch) c.resolve(done.has(c.jobId));
      } catch (err) {
        for (const c of batch) c.reject(err);
      }
    }
    this.flushing = false;
  }
}

export class Worker {
  readonly id: string;
  private running = new Map<string, { promise: Promise<void>; abort: AbortController; job: JobRow }>();
  private stopping = false;
  private wake: (() => void) | null = null;
  private wokenWhileBusy = false;
  private listener: pg.Client | null = null;
  private loopPromise: Promise<void> | null = null;
  private rescueTimer: NodeJS.Timeout | null = null;
  private readonly completions: CompletionBatcher;

  constructor(private readonly opts: WorkerOptions) {
    this.completions = new CompletionBatcher(opts.db);
    this.id = opts.workerId ?? `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString("hex")}`;
  }

  async start(): Promise<void> {
    await this.listen();
    this.rescueTimer = setInterval(() => void this.rescue(), Math.max(500, (this.opts.leaseSeconds * 1000) / 3));
    this.rescueTimer.unref();
    void this.rescue();
    this.loopPromise = this.loop();
  }

  private async listen(): Promise<void> {
    // A dedicated connection for LISTEN: a new job wakes an idle worker at once.
    try {
      const client = new pg.Client({ connectionString: this.opts.databaseUrl, application_name: "capydb-worker-listen" });
      client.on("error", () => {
        this.listener = null;
      });
      client.on("notification", () => this.nudge());
      await client.connect();
      await client.query("LISTEN capydb_jobs");
      this.listener = client;
    } catch (err) {
      this.opts.log.warn({ err: errorMessage(err) }, "job worker could not LISTEN; polling only");
    }
  }

  private nudge(): void {
    const w = this.wake;
    this.wake = null;
    if (w) w();
    else this.wokenWhileBusy = true;
  }

  private async rescue(): Promise<void> {
    if (this.stopping) return;
    try {
      const rescued = await rescueExpiredJobs(this.opts.db);
      for (const r of rescued) {
        this.opts.log.warn({ job_id: r.id, cleanup_only: r.cleanup_only }, r.cleanup_only ? "rescued a job whose lease expired on its last attempt: its cleanup runs next" : "rescued a job whose lease expired");
      }
      if (rescued.length) this.nudge();
      if (!this.listener) await this.listen();
    } catch {
      // the control-plane database is unavailable; try again next tick
    }
  }

  private async loop(): Promise<void> {
    const types = Object.keys(this.opts.handlers);
    const poll = this.opts.pollIntervalMs ?? 1000;
    while (!this.stopping) {
      const free = this.opts.concurrency - this.running.size;
      let claimed: JobRow[] = [];
      if (free > 0) {
        try {
          claimed = await claimJobs(this.opts.db, this.id, free, this.opts.leaseSeconds, types);
        } catch (err) {
          this.opts.log.warn({ err: errorMessage(err) }, "claiming jobs failed");
        }
      }
      for (const job of claimed) this.execute(job);
      if (claimed.length > 0 && claimed.length === free) continue;
      if (this.wokenWhileBusy) {
        this.wokenWhileBusy = false;
        continue;
      }
      // Sleep until a notification, a finished job, or the poll interval.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, poll);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  private execute(job: JobRow): void {
    const abort = new AbortController();
    const promise = this.runJob(job, abort).finally(() => {
      this.running.delete(job.id);
      this.nudge();
    });
    this.running.set(job.id, { promise, abort, job });
  }

  private async runJob(job: JobRow, abort: AbortController): Promise<void> {
    const { db, log, leaseSeconds } = this.opts;
    const handler = this.opts.handlers[job.type];
    const leaseToken = job.lease_token!;
    const secrets = new Set<string>();
    let lostLease = false;
    const renewTimer = setInterval(async () => {
      try {
        if (!(await renewLease(db, job.id, leaseToken, leaseSeconds))) {
          lostLease = true;
          abort.abort(new Error("lease lost"));
        }
      } catch {
        // transient: the next renewal may succeed before the lease runs out
      }
    }, (leaseSeconds * 1000) / 3);
    const ctx: JobContext = {
      job,
      signal: abort.signal,
      db,
      log,
      addSecret: (s) => {
        if (s) secrets.add(s);
      },
      runTool: async (cmd, args, options = {}) => {
        const result = await runTool(cmd, args, { signal: abort.signal, ...options, secrets: [...secrets, ...(options.secrets ?? [])] });
        await recordToolOutput(db, job.id, leaseToken, result);
        if (result.exitCode !== 0) throw toolFailure(cmd, result);
        return result;
      },
    };
    const started = Date.now();
    if (job.cleanup_only) {
      // Its worker died on the last attempt: undo the half-made work, then fail it.
      const error = job.error ?? "the worker running this job stopped (lease expired) on its last attempt";
      try {
        if (handler.cleanup) {
          try {
            await handler.cleanup(ctx, new Error(error));
          } catch (cleanupErr) {
            // As after any failed job: logged, and the reconciler removes what is left on the data plane.
            log.error({ job_id: job.id, err: scrubSecrets(errorMessage(cleanupErr), secrets) }, "cleanup after a failed job failed");
          }
        }
        await failJob(db, { jobId: job.id, leaseToken, error, classification: "transient", retryInMs: null }).catch((e) =>
          log.error({ job_id: job.id, err: errorMessage(e) }, "could not record a job failure"),
        );
        log.warn({ job_id: job.id, type: job.type, err: error }, "job failed on its last attempt; its cleanup ran");
      } finally {
        clearInterval(renewTimer);
      }
      return;
    }
    try {
      await handler.run(ctx);
      if (abort.signal.aborted && lostLease) throw new Error("lease lost");
      const completed = await this.completions.complete(job.id, leaseToken);
      if (!completed) log.warn({ job_id: job.id }, "job finished after its lease was lost; another worker owns it");
      else log.info({ job_id: job.id, type: job.type, ms: Date.now() - started }, "job succeeded");
    } catch (err) {
      if (lostLease) {
        log.warn({ job_id: job.id }, "job lost its lease; leaving it to the worker that rescued it");
        return;
      }
      if (this.stopping && abort.signal.aborted) {
        await releaseJob(db, job.id, leaseToken).catch(() => {});
        return;
      }
      const classification = classifyError(err);
      const final = classification === "permanent" || job.attempts >= job.max_attempts;
      const message = scrubSecrets(errorMessage(err), secrets);
      if (final && handler.cleanup) {
        try {
          await handler.cleanup(ctx, err);
        } catch (cleanupErr) {
          log.error({ job_id: job.id, err: scrubSecrets(errorMessage(cleanupErr), secrets) }, "cleanup after a failed job failed");
        }
      }
      const retryInMs = final ? null : this.backoffMs(job.attempts);
      await failJob(db, { jobId: job.id, leaseToken, error: message, classification, retryInMs }).catch((e) =>
        log.error({ job_id: job.id, err: errorMessage(e) }, "could not record a job failure"),
      );
      log.warn({ job_id: job.id, type: job.type, classification, final, err: message }, final ? "job failed" : "job attempt failed; will retry");
    } finally {
      clearInterval(renewTimer);
    }
  }

  /** Exponential backoff with jitter: base * 2^(attempt-1), capped at 5 minutes. */
  private backoffMs(attempt: number): number {
    const base = this.opts.retryBaseMs * 2 ** Math.max(0, attempt - 1);
    return Math.min(300_000, Math.round(base * (0.75 + Math.random() * 0.5)));
  }

  /** Stops claiming; running jobs get `graceMs` to finish, the rest are released to the queue. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    this.nudge();
    if (this.rescueTimer) clearInterval(this.rescueTimer);
    await this.loopPromise;
    const all = [...this.running.values()];
    const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), graceMs).unref());
    const result = await Promise.race([Promise.all(all.map((r) => r.promise)).then(() => "done" as const), timeout]);
    if (result === "timeout") {
      for (const r of this.running.values()) r.abort.abort(new Error("worker shutting down"));
      await Promise.all([...this.running.values()].map((r) => r.promise));
    }
    await this.listener?.end().catch(() => {});
  }

  get activeJobs(): number {
    return this.running.size;
  }
}
