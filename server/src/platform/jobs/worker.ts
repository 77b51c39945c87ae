// The job worker: claims due jobs, runs their handlers under a renewed lease,
// completes or fails them (lease-checked), rescues jobs of dead workers, and
// shuts down gracefully: running jobs finish within a grace or go back to the
// queue, in bounded time, and never fail because the server stopped.
import os from "node:os";
import crypto from "node:crypto";
import pg from "pg";
import type { Db } from "../store/db.js";
import { claimJobs } from "./sql/claim.js";
import { CompletionBatcher } from "./completion-batcher.js";
import { failJob } from "./sql/fail.js";
import { renewLease } from "./sql/renew.js";
import { rescueExpiredJobs } from "./sql/rescue.js";
import { releaseJob } from "./sql/release.js";
import { recordToolOutput } from "./sql/record-tool-output.js";
import { classifyError, errorMessage } from "./errors.js";
import { scrubSecrets } from "./scrub.js";
import { runTool, toolFailure, ToolInterrupted, type ToolResult, type ToolRunOptions } from "./tools.js";
import { checkRuntimeOverrideTypes, DEFAULT_JOB_LIMITS, MaxRuntimeExceeded, maxRuntimeFor, runtimeUsedUp, type JobLimits } from "./limits.js";
import { startHandler, waitForHandler } from "./handler-wait.js";
import { observeJobFinished, trackWorker, untrackWorker } from "./job-metrics.js";
import type { JobRow } from "./types.js";

export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export interface JobContext {
  job: JobRow;
  /**
   * Aborted when the job passes its maximum runtime, its lease is lost, or the grace
   * of a stopping worker ends (the job then goes back to the queue). A handler that
   * does not return soon after (abortGraceMs, or a stop's handBackMs) is given up on:
   * its job is failed or released without it.
   */
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
  /**
   * Undo half-made work once the job has failed for good (permanent error, attempts
   * exhausted, maximum runtime passed). Gets a context of its own (a fresh signal,
   * aborted after cleanupTimeoutMs); may run while an abandoned run() is still stuck.
   */
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
  /** Maximum runtimes and the per-organization cap (default DEFAULT_JOB_LIMITS). */
  limits?: JobLimits;
  /** How long a handler whose signal aborted may take to return before the worker stops waiting for it (default 10 s). */
  abortGraceMs?: number;
  /** How long a cleanup may run before its own signal aborts (default 5 min). */
  cleanupTimeoutMs?: number;
}

export interface StopOptions {
  /** Aborting it ends the grace at once: running jobs are stopped and handed back now (a second Ctrl-C). */
  force?: AbortSignal;
  /**
   * How long handlers stopped at the end of the grace may take to return before their
   * jobs are handed back without them (default abortGraceMs).
   */
  handBackMs?: number;
}

/** The abort reason of the jobs still running when a stop's grace ends. */
export class WorkerStopping extends Error {
  constructor() {
    super("the server is stopping: the job goes back to the queue");
  }
}

/** The abort reason of a cleanup still running when a stop's grace ends; the reconciler removes what it leaves. */
const CLEANUP_CUT_SHORT = new Error("the server is stopping: the cleanup was cut short");

const LAST_ATTEMPT_LOST = "the worker running this job stopped (lease expired) on its last attempt";
// setTimeout fires at once past 2^31 - 1 ms.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A job this worker runs. */
interface RunningJob {
  promise: Promise<void>;
  abort: AbortController;
  job: JobRow;
  /** Set once it fails for good and its cleanup runs: such a job is never handed back. */
  failing?: { message: string; classification: "transient" | "permanent"; cleanup: AbortController };
}

interface AbandonedHandler {
  jobId: string;
  type: string;
  phase: "run" | "cleanup";
  since: number;
}

export class Worker {
  readonly id: string;
  private running = new Map<string, RunningJob>();
  private abandoned = new Map<string, AbandonedHandler>();
  private stopping = false;
  private wake: (() => void) | null = null;
  private wokenWhileBusy = false;
  private listener: pg.Client | null = null;
  private loopPromise: Promise<void> | null = null;
  private rescueTimer: NodeJS.Timeout | null = null;
  private readonly completions: CompletionBatcher;
  private readonly limits: JobLimits;
  private readonly abortGraceMs: number;
  private readonly cleanupTimeoutMs: number;
  private handedBack = 0;
  /** A stop's grace has ended: what still runs is being stopped. */
  private graceOver = false;

  constructor(private readonly opts: WorkerOptions) {
    this.completions = new CompletionBatcher(opts.db);
    this.id = opts.workerId ?? `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString("hex")}`;
    this.limits = opts.limits ?? DEFAULT_JOB_LIMITS;
    checkRuntimeOverrideTypes(this.limits, Object.keys(opts.handlers));
    this.abortGraceMs = opts.abortGraceMs ?? 10_000;
    this.cleanupTimeoutMs = opts.cleanupTimeoutMs ?? 300_000;
  }

  async start(): Promise<void> {
    await this.listen();
    this.rescueTimer = setInterval(() => void this.rescue(), Math.max(500, (this.opts.leaseSeconds * 1000) / 3));
    this.rescueTimer.unref();
    void this.rescue();
    this.loopPromise = this.loop();
    trackWorker(this);
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
        this.opts.log.warn(
          { job_id: r.id, cleanup_only: r.cleanup_only },
          r.cleanup_only ? "rescued a job whose lease expired on its last attempt: its cleanup runs next" : "rescued a job whose lease expired",
        );
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
          claimed = await claimJobs(this.opts.db, this.id, free, this.opts.leaseSeconds, types, this.limits);
        } catch (err) {
          this.opts.log.warn({ err: errorMessage(err) }, "claiming jobs failed");
        }
      }
      for (const job of claimed) this.execute(job);
      // Claim again at once: a claim cut short by an organization's cap leaves jobs of
      // other organizations behind it that the next claim reaches.
      if (claimed.length > 0) continue;
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

  private context(job: JobRow, signal: AbortSignal, secrets: Set<string>): JobContext {
    const { db, log } = this.opts;
    return {
      job,
      signal,
      db,
      log,
      addSecret: (s) => {
        if (s) secrets.add(s);
      },
      runTool: async (cmd, args, options = {}) => {
        const result = await runTool(cmd, args, { signal, ...options, secrets: [...secrets, ...(options.secrets ?? [])] });
        await recordToolOutput(db, job.id, job.lease_token!, result);
        if (result.exitCode !== 0) throw toolFailure(cmd, result);
        return result;
      },
    };
  }

  private async runJob(job: JobRow, abort: AbortController): Promise<void> {
    const { db, leaseSeconds } = this.opts;
    const leaseToken = job.lease_token!;
    const secrets = new Set<string>();
    const lease = { lost: false };
    const renewTimer = setInterval(
      async () => {
        try {
          if (!(await renewLease(db, job.id, leaseToken, leaseSeconds))) {
            lease.lost = true;
            abort.abort(new Error("lease lost"));
          }
        } catch {
          // transient: the next renewal may succeed before the lease runs out
        }
      },
      (leaseSeconds * 1000) / 3,
    );
    try {
      if (job.cleanup_only || runtimeUsedUp(job)) await this.failWithoutRunning(job, secrets);
      else await this.attempt(job, abort, secrets, lease);
    } finally {
      clearInterval(renewTimer);
    }
  }

  /** Its worker died on its last attempt, or its earlier attempts used up its runtime: undo the half-made work, then fail it. */
  private async failWithoutRunning(job: JobRow, secrets: Set<string>): Promise<void> {
    const overRuntime = runtimeUsedUp(job);
    const error = overRuntime ? new MaxRuntimeExceeded(job.type, job.max_runtime_seconds!) : new Error(job.error ?? LAST_ATTEMPT_LOST);
    const classification = overRuntime ? "permanent" : "transient";
    await this.cleanup(job, secrets, error, { message: error.message, classification });
    await this.recordFailure(job, error.message, classification, null);
    observeJobFinished(job.type, "failed", job.run_seconds);
    this.opts.log.warn(
      { job_id: job.id, type: job.type, err: error.message },
      overRuntime ? "job failed: its runtime was used up; its cleanup ran" : "job failed on its last attempt; its cleanup ran",
    );
  }

  private async attempt(job: JobRow, abort: AbortController, secrets: Set<string>, lease: { lost: boolean }): Promise<void> {
    const { log } = this.opts;
    const handler = this.opts.handlers[job.type];
    const maxSeconds = job.max_runtime_seconds ?? maxRuntimeFor(this.limits, job.type);
    // What is left of the job's runtime after its earlier attempts (a rescued job's included).
    const budgetMs = Math.max(0, (maxSeconds - job.run_seconds) * 1000);
    const deadline = setTimeout(() => abort.abort(new MaxRuntimeExceeded(job.type, maxSeconds)), Math.min(budgetMs, MAX_TIMER_MS));
    const started = Date.now();
    let failure: { error: unknown } | null = null;
    try {
      const work = startHandler(() => handler.run(this.context(job, abort.signal, secrets)));
      const outcome = await waitForHandler(work, abort.signal, this.abortGraceMs);
      if (!outcome.settled) {
        this.abandon(job, work, "run");
        failure = { error: abort.signal.reason };
      }
    } catch (err) {
      failure = { error: err };
    } finally {
      clearTimeout(deadline);
    }
    if (lease.lost) {
      log.warn({ job_id: job.id }, "job lost its lease; leaving it to the worker that rescued it");
      return;
    }
    // A handler that still finished within the grace after its deadline did its work: keep it.
    if (!failure) {
      try {
        const completed = await this.completions.complete(job.id, job.lease_token!);
        if (!completed) log.warn({ job_id: job.id }, "job finished after its lease was lost; another worker owns it");
        else {
          log.info({ job_id: job.id, type: job.type, ms: Date.now() - started }, "job succeeded");
          observeJobFinished(job.type, "succeeded", job.run_seconds + (Date.now() - started) / 1000);
        }
        return;
      } catch (err) {
        failure = { error: err };
      }
    }
    const reason: unknown = abort.signal.aborted ? abort.signal.reason : null;
    // Stopped by the stop itself, or its tool by a signal meant for the server (a process
    // manager signals every process of the service): nothing failed, the job goes back.
    if (this.stopping && !(reason instanceof MaxRuntimeExceeded) && (abort.signal.aborted || failure.error instanceof ToolInterrupted)) {
      await this.handBack(job);
      return;
    }
    // Past its runtime, the handler's own error is only the echo of being stopped.
    const err = reason instanceof MaxRuntimeExceeded ? reason : failure.error;
    const classification = classifyError(err);
    const final = classification === "permanent" || job.attempts >= job.max_attempts;
    const message = scrubSecrets(errorMessage(err), secrets);
    if (final) await this.cleanup(job, secrets, err, { message, classification });
    await this.recordFailure(job, message, classification, final ? null : this.backoffMs(job.attempts));
    if (final) observeJobFinished(job.type, "failed", job.run_seconds + (Date.now() - started) / 1000);
    log.warn({ job_id: job.id, type: job.type, classification, final, err: message }, final ? "job failed" : "job attempt failed; will retry");
  }

  /** Runs the handler's cleanup with a signal of its own, bounded by cleanupTimeoutMs (and the abort grace after it). */
  private async cleanup(job: JobRow, secrets: Set<string>, error: unknown, failing: Omit<NonNullable<RunningJob["failing"]>, "cleanup">): Promise<void> {
    const handler = this.opts.handlers[job.type];
    if (!handler.cleanup) return;
    const abort = new AbortController();
    const entry = this.running.get(job.id);
    if (entry) entry.failing = { ...failing, cleanup: abort };
    if (this.graceOver) abort.abort(CLEANUP_CUT_SHORT);
    const timer = setTimeout(() => abort.abort(new Error(`the cleanup of ${job.type} ran longer than ${this.cleanupTimeoutMs} ms`)), this.cleanupTimeoutMs);
    try {
      const work = startHandler(() => handler.cleanup!(this.context(job, abort.signal, secrets), error));
      const outcome = await waitForHandler(work, abort.signal, this.abortGraceMs);
      if (!outcome.settled) this.abandon(job, work, "cleanup");
    } catch (cleanupErr) {
      // As after any failed job: logged, and the reconciler removes what is left on the data plane.
      this.opts.log.error({ job_id: job.id, err: scrubSecrets(errorMessage(cleanupErr), secrets) }, "cleanup after a failed job failed");
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Stops waiting for a handler that ignored its abort (as pg-boss stops waiting past
   * expireInSeconds): its job is failed or released on time and its slot freed for
   * other jobs, while the stuck call is logged and counted until it returns.
   */
  private abandon(job: JobRow, work: Promise<unknown>, phase: AbandonedHandler["phase"]): void {
    const key = `${job.id}:${phase}`;
    const since = Date.now();
    this.abandoned.set(key, { jobId: job.id, type: job.type, phase, since });
    this.opts.log.error(
      { job_id: job.id, type: job.type, organization_id: job.organization_id, phase, grace_ms: this.abortGraceMs },
      `a job ${phase === "run" ? "handler" : "cleanup"} did not return within ${this.abortGraceMs} ms of being stopped; the worker no longer waits for it`,
    );
    void work
      .then(
        () => {},
        () => {},
      )
      .finally(() => {
        this.abandoned.delete(key);
        this.opts.log.warn(
          { job_id: job.id, type: job.type, phase, seconds: Math.round((Date.now() - since) / 1000) },
          "an abandoned job handler returned at last",
        );
      });
  }

  private async recordFailure(job: JobRow, error: string, classification: "transient" | "permanent", retryInMs: number | null): Promise<void> {
    await failJob(this.opts.db, { jobId: job.id, leaseToken: job.lease_token!, error, classification, retryInMs }).catch((e) =>
      this.opts.log.error({ job_id: job.id, err: errorMessage(e) }, "could not record a job failure"),
    );
  }

  /** Exponential backoff with jitter: base * 2^(attempt-1), capped at 5 minutes. */
  private backoffMs(attempt: number): number {
    const base = this.opts.retryBaseMs * 2 ** Math.max(0, attempt - 1);
    return Math.min(300_000, Math.round(base * (0.75 + Math.random() * 0.5)));
  }

  /** Gives a running job back to the queue (the attempt is not counted), so another worker takes it at once. */
  private async handBack(job: JobRow): Promise<void> {
    try {
      if (!(await releaseJob(this.opts.db, job.id, job.lease_token!))) return; // already handed back, or its lease lost
      this.handedBack++;
      this.opts.log.warn({ job_id: job.id, type: job.type }, "job handed back to the queue: this server is stopping");
    } catch (err) {
      this.opts.log.error({ job_id: job.id, err: errorMessage(err) }, "could not hand a job back to the queue: it is rescued when its lease runs out");
    }
  }

  /** True once every running job has settled; false when `ms` pass (or `force` aborts) first. */
  private async settleWithin(ms: number, force?: AbortSignal): Promise<boolean> {
    if (this.running.size === 0) return true;
    if (force?.aborted) return false;
    let timer: NodeJS.Timeout | undefined;
    let onForce: (() => void) | undefined;
    const cut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
      onForce = () => resolve(false);
      force?.addEventListener("abort", onForce, { once: true });
    });
    try {
      return await Promise.race([Promise.all([...this.running.values()].map((r) => r.promise)).then(() => true), cut]);
    } finally {
      clearTimeout(timer);
      if (onForce) force?.removeEventListener("abort", onForce);
    }
  }

  /**
   * Stops claiming; running jobs get `graceMs` to finish (less if `force` aborts). The
   * rest are stopped (their signals abort, killing their tools) and handed back to the
   * queue; a handler that has not returned within `handBackMs` has its job handed back
   * without it. Answers how many jobs were handed back.
   */
  async stop(graceMs = 10_000, options: StopOptions = {}): Promise<{ handedBack: number }> {
    this.stopping = true;
    this.nudge();
    if (this.rescueTimer) clearInterval(this.rescueTimer);
    await this.loopPromise;
    if (!(await this.settleWithin(graceMs, options.force))) {
      this.graceOver = true;
      for (const r of this.running.values()) {
        r.abort.abort(new WorkerStopping());
        r.failing?.cleanup.abort(CLEANUP_CUT_SHORT);
      }
      if (!(await this.settleWithin(options.handBackMs ?? this.abortGraceMs))) {
        const stuck = [...this.running.values()];
        for (const r of stuck) {
          this.opts.log.error(
            { job_id: r.job.id, type: r.job.type, phase: r.failing ? "cleanup" : "run" },
            r.failing
              ? "a job cleanup did not return after the stop aborted it; its job is failed without it"
              : "a job handler did not return after the stop aborted it; its job is handed back without it",
          );
        }
        // A job failing for good stays failed (its failure recorded now); any other goes back to the queue.
        await Promise.all(stuck.map((r) => (r.failing ? this.recordFailure(r.job, r.failing.message, r.failing.classification, null) : this.handBack(r.job))));
      }
    }
    await this.listener?.end().catch(() => {});
    untrackWorker(this);
    return { handedBack: this.handedBack };
  }

  /** How many jobs it runs at once at most (CAPYDB_WORKER_CONCURRENCY). */
  get concurrency(): number {
    return this.opts.concurrency;
  }

  get activeJobs(): number {
    return this.running.size;
  }

  /** Handlers (or cleanups) given up on after ignoring their abort, still running somewhere in this process. */
  get abandonedHandlers(): AbandonedHandler[] {
    return [...this.abandoned.values()];
  }
}
