import type { Db } from "../store/db.js";
import { completeJobs, type CompletionInput } from "./sql/complete.js";

/**
 * Coalesces the completions that arrive while one is being written into the next
 * statement: at low load a job completes at once; under load one commit (one WAL
 * flush) completes many jobs, which is what bounds a durable queue's throughput.
 */
export class CompletionBatcher {
  private queue: Array<CompletionInput & { resolve(done: boolean): void; reject(err: unknown): void }> = [];
  private flushing = false;

  constructor(
    private readonly db: Db,
    private readonly maxBatch = 500,
  ) {}

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
