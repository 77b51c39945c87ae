import type { Db } from "../store/db.js";
import { type ToolResult, type ToolRunOptions } from "./tools.js";
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
export declare class Worker {
    private readonly opts;
    readonly id: string;
    private running;
    private stopping;
    private wake;
    private wokenWhileBusy;
    private listener;
    private loopPromise;
    private rescueTimer;
    private readonly completions;
    constructor(opts: WorkerOptions);
    start(): Promise<void>;
    private listen;
    private nudge;
    private rescue;
    private loop;
    private execute;
    private runJob;
    /** Exponential backoff with jitter: base * 2^(attempt-1), capped at 5 minutes. */
    private backoffMs;
    /** Stops claiming; running jobs get `graceMs` to finish, the rest are released to the queue. */
    stop(graceMs?: number): Promise<void>;
    get activeJobs(): number;
}
