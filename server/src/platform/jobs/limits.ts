// Bounds on the work one job, and one organization, may hold: a maximum runtime per
// job type (a job that passes it is stopped, cleaned up and failed for good) and a
// cap on the jobs of one organization running at once, so a tenant whose jobs hang
// (a tarpit import source, say) cannot hold every worker.
import { PermanentError } from "./errors.js";

/** Six hours: a multi-hundred-gigabyte dump or restore fits; a job hung on a lock does not run for days. */
export const DEFAULT_JOB_MAX_RUNTIME_SECONDS = 6 * 3600;
/** A week: the largest runtime accepted (Node timers overflow past 24.8 days). */
export const MAX_JOB_MAX_RUNTIME_SECONDS = 7 * 24 * 3600;
/** With the default four workers per process, one organization never holds more than half of them. */
export const DEFAULT_JOB_MAX_RUNNING_PER_ORGANIZATION = 2;

export interface JobLimits {
  /** Longest a job may run, in seconds, summed over its attempts. */
  maxRuntimeSeconds: number;
  /** Per job type, in place of maxRuntimeSeconds. */
  maxRuntimeByType: Record<string, number>;
  /** Jobs of one organization running at once, over every worker process; jobs without an organization are not counted. */
  maxRunningPerOrganization: number;
}

export const DEFAULT_JOB_LIMITS: JobLimits = {
  maxRuntimeSeconds: DEFAULT_JOB_MAX_RUNTIME_SECONDS,
  maxRuntimeByType: {},
  maxRunningPerOrganization: DEFAULT_JOB_MAX_RUNNING_PER_ORGANIZATION,
};

export function maxRuntimeFor(limits: JobLimits, type: string): number {
  return limits.maxRuntimeByType[type] ?? limits.maxRuntimeSeconds;
}

export function maxRuntimeMessage(type: string, seconds: number): string {
  return `${type} exceeded its maximum runtime of ${seconds} s and was stopped (CAPYDB_JOB_MAX_RUNTIME_SECONDS, or CAPYDB_JOB_MAX_RUNTIME for one job type, sets it)`;
}

/** The abort reason of a job stopped at its maximum runtime; retrying would only hang again. */
export class MaxRuntimeExceeded extends PermanentError {
  constructor(type: string, seconds: number) {
    super(maxRuntimeMessage(type, seconds));
  }
}

/** True when the job's earlier attempts already used its whole runtime. */
export function runtimeUsedUp(job: { max_runtime_seconds: number | null; run_seconds: number }): boolean {
  return job.max_runtime_seconds !== null && job.run_seconds >= job.max_runtime_seconds;
}

/**
 * Parses CAPYDB_JOB_MAX_RUNTIME: comma-separated `job.type=seconds`, e.g.
 * `import.run=3600,backup.create=7200`. Throws a message naming the bad entry.
 */
export function parseMaxRuntimeOverrides(raw: string, setting = "CAPYDB_JOB_MAX_RUNTIME"): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([a-z][a-z0-9_.-]*)\s*=\s*(\d+)$/.exec(entry);
    const seconds = m ? Number(m[2]) : NaN;
    if (!m || !Number.isSafeInteger(seconds) || seconds < 1 || seconds > MAX_JOB_MAX_RUNTIME_SECONDS) {
      throw new Error(
        `${setting}: "${entry}" must be job.type=seconds (e.g. import.run=3600), seconds a whole number from 1 to ${MAX_JOB_MAX_RUNTIME_SECONDS}`,
      );
    }
    if (m[1] in out) throw new Error(`${setting}: job type ${m[1]} is given twice`);
    out[m[1]] = seconds;
  }
  return out;
}

/** A per-type runtime for a type no handler runs is almost certainly a typo: refuse it rather than silently apply the default. */
export function checkRuntimeOverrideTypes(limits: JobLimits, handledTypes: string[]): void {
  const unknown = Object.keys(limits.maxRuntimeByType).filter((t) => !handledTypes.includes(t));
  if (unknown.length) {
    throw new Error(`CAPYDB_JOB_MAX_RUNTIME names job types no worker runs: ${unknown.join(", ")} (known: ${[...handledTypes].sort().join(", ")})`);
  }
}
