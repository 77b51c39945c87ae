// What the job workers of this process report to /metrics (http/metrics.ts registers these):
// how long finished jobs ran, by type and outcome, and how many of the workers' slots are busy.
// Process-wide, like the process figures beside them: each server process reports its own.
import client from "prom-client";

/** Job durations from 0.1 s (a small DDL) to an hour (a large dump or restore). */
export const JOB_DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600];

export const jobDurationSeconds = new client.Histogram({
  name: "capydb_job_duration_seconds",
  help: "Seconds a job ran (its attempts summed, waits between them excluded), observed when it succeeded or failed for good in this process",
  labelNames: ["type", "outcome"] as const,
  buckets: JOB_DURATION_BUCKETS,
  registers: [],
});

/** A job finished here: it succeeded, or failed for good (a retried attempt is not a finish). */
export function observeJobFinished(type: string, outcome: "succeeded" | "failed", seconds: number): void {
  jobDurationSeconds.observe({ type, outcome }, Math.max(0, seconds));
}

interface WorkerSlots {
  readonly concurrency: number;
  readonly activeJobs: number;
}

const liveWorkers = new Set<WorkerSlots>();

/** Counts a started worker's slots until it stops. */
export function trackWorker(worker: WorkerSlots): void {
  liveWorkers.add(worker);
}

export function untrackWorker(worker: WorkerSlots): void {
  liveWorkers.delete(worker);
}

/** The job slots of the workers running in this process and how many of them hold a job now. */
export function workerSlots(): { concurrency: number; running: number } {
  let concurrency = 0;
  let running = 0;
  for (const w of liveWorkers) {
    concurrency += w.concurrency;
    running += w.activeJobs;
  }
  return { concurrency, running };
}
