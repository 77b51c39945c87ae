// Failure classification: transient failures retry with backoff, permanent ones
// fail the job at once with a message a person can act on.

/** The work cannot succeed by retrying (bad input, a Postgres refusal). */
export class PermanentError extends Error {
  readonly classification = "permanent" as const;
}

/** The work may succeed later (a connection dropped, a server restarting). */
export class TransientError extends Error {
  readonly classification = "transient" as const;
}

const TRANSIENT_NODE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ENOTFOUND"]);

// SQLSTATEs worth retrying: connection exceptions (08), insufficient resources (53),
// operator intervention (57P01-57P03: shutdown, crash, cannot connect now),
// serialization failure and deadlock, object in use, lock not available.
function isTransientSqlState(code: string): boolean {
  return code.startsWith("08") || code.startsWith("53") || ["57P01", "57P02", "57P03", "40001", "40P01", "55006", "55P03", "57014"].includes(code);
}

export function classifyError(err: unknown): "transient" | "permanent" {
  if (err instanceof PermanentError) return "permanent";
  if (err instanceof TransientError) return "transient";
  if (err instanceof TypeError || err instanceof ReferenceError || err instanceof SyntaxError) return "permanent";
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  if (/^[0-9A-Z]{5}$/.test(code)) return isTransientSqlState(code) ? "transient" : "permanent";
  if (TRANSIENT_NODE_CODES.has(code)) return "transient";
  const msg = typeof e?.message === "string" ? e.message : "";
  if (/Connection terminated|connection timeout|timeout exceeded when trying to connect|server closed the connection/i.test(msg)) return "transient";
  // Unknown failures get the benefit of the doubt, bounded by max_attempts.
  return "transient";
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
