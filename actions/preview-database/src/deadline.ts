// The `timeout` input as one deadline for everything the run waits for: the job, then the
// database accepting connections.
import { formatSeconds } from "./durations.js";

export class Deadline {
  readonly #end: number;
  constructor(readonly totalMs: number) {
    this.#end = performance.now() + totalMs;
  }
  remainingMs(): number {
    return Math.max(0, this.#end - performance.now());
  }
  get expired(): boolean {
    return this.remainingMs() <= 0;
  }
  /** "10m": the timeout as the user wrote it, for messages. */
  describe(): string {
    return formatSeconds(this.totalMs / 1000);
  }
}
