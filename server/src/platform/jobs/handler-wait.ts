// Waiting for a job handler without letting one that ignores its AbortSignal (stuck in
// a query that cannot be cancelled, say) hold the worker forever: once the signal has
// aborted, the handler gets a grace period to return, then the worker stops waiting.

export type HandlerOutcome = { settled: true } | { settled: false };

/**
 * Resolves when `work` resolves, rejects when it rejects, and resolves
 * `{ settled: false }` when `signal` has aborted and `graceMs` more have passed
 * without `work` settling. A later rejection of `work` is swallowed here; the
 * caller decides what to do with a handler it gave up on.
 */
export function waitForHandler(work: Promise<unknown>, signal: AbortSignal, graceMs: number): Promise<HandlerOutcome> {
  return new Promise((resolve, reject) => {
    let graceTimer: NodeJS.Timeout | undefined;
    const startGrace = () => {
      graceTimer = setTimeout(() => resolve({ settled: false }), graceMs);
    };
    if (signal.aborted) startGrace();
    else signal.addEventListener("abort", startGrace, { once: true });
    work
      .then(() => resolve({ settled: true }), reject)
      .finally(() => {
        clearTimeout(graceTimer);
        signal.removeEventListener("abort", startGrace);
      });
  });
}

/** Starts a handler call; a synchronous throw becomes a rejection like any other failure. */
export function startHandler(fn: () => Promise<void>): Promise<void> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}
