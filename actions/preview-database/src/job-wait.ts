// Waiting for a CapyDB job: every state change logged with the elapsed time, a failed job
// turned into its error and the tail of its stderr, a timeout into the job id and its last state.
import * as core from "@actions/core";
import { CapyClient, JobFailedError, JobTimeoutError, type Job } from "@capydb/api";
import { ActionError } from "./errors.js";
import type { Deadline } from "./deadline.js";

/** Poll quickly at first: most preview jobs finish in about a second. */
const FIRST_POLL_MS = 100;
const MAX_POLL_MS = 500;
const STDERR_TAIL_LINES = 15;

export class JobFailed extends ActionError {
  constructor(readonly job: Job) {
    const tail = (job.last_stderr ?? "").trimEnd().split(/\r?\n/).filter(Boolean).slice(-STDERR_TAIL_LINES);
    super(
      `CapyDB job ${job.id} (${job.type}) ${job.state} after ${job.attempts} attempt(s): ${job.error ?? "no error recorded"}` +
        (tail.length ? `\nLast lines of its stderr:\n${tail.join("\n")}` : ""),
    );
  }
}

export async function waitForJob(client: CapyClient, job: Job, deadline: Deadline): Promise<Job> {
  if (job.state === "succeeded") return job;
  const started = performance.now();
  let attempts = job.attempts;
  core.info(`Waiting for job ${job.id} (${job.type}), up to ${deadline.describe()} (input \`timeout\`)`);
  try {
    return await client.waitForJob(job.id, {
      timeoutMs: Math.max(1, deadline.remainingMs()),
      pollMs: FIRST_POLL_MS,
      maxPollMs: MAX_POLL_MS,
      onProgress(current) {
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        const retry = current.attempts > attempts && current.attempts > 1 ? `, attempt ${current.attempts} of ${current.max_attempts}` : "";
        attempts = current.attempts;
        const why = current.state === "pending" && current.error ? ` (retrying after: ${current.error})` : "";
        core.info(`  job ${current.id}: ${current.state} after ${seconds}s${retry}${why}`);
      },
    });
  } catch (err) {
    if (err instanceof JobFailedError) throw new JobFailed(err.job);
    if (err instanceof JobTimeoutError) {
      throw new ActionError(
        `Timed out after ${deadline.describe()} (input \`timeout\`) waiting for CapyDB job ${err.jobId} (${job.type}); ` +
          `its last state was ${err.lastState ?? "unknown (never read)"}` +
          `${err.lastJob?.error ? ` (last error: ${err.lastJob.error})` : ""}. The job goes on on the server: ` +
          `re-run the workflow to pick it up, or raise \`timeout\`.`,
      );
    }
    throw err;
  }
}
