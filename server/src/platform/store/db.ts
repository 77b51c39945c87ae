// The control-plane database: one pg pool, and the error that means "it is down".
import pg from "pg";

// int8 (bigint) columns such as storage_limit_bytes fit in a JS number for our ranges.
pg.types.setTypeParser(20, (v) => Number(v));

export type Db = pg.Pool;
export type Queryable = pg.Pool | pg.PoolClient | pg.Client;

export function createDb(url: string, options: { max?: number; applicationName?: string } = {}): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 32,
    // Fail fast when the control-plane database is unreachable: a refused connection
    // answers 503 at once, an unanswered one within five seconds, never a hang. (Not
    // shorter: on a loaded machine a new SCRAM-authenticated connection can take seconds.)
    connectionTimeoutMillis: 5000,
    // Keep connections: each new one costs a SCRAM handshake on both sides.
    idleTimeoutMillis: 300_000,
    application_name: options.applicationName ?? "capydb",
    query_timeout: 30_000,
  });
  // An idle client losing its connection must not crash the process.
  pool.on("error", () => {});
  return pool;
}

export async function inTransaction<T>(db: Db, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

const UNAVAILABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EPIPE", "57P01", "57P02", "57P03", "53300"]);

/** True when an error means the control-plane database cannot be reached right now. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  if (e.code && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith("08"))) return true;
  const msg = e.message ?? "";
  return /timeout exceeded when trying to connect|Connection terminated|connection timeout|Client has encountered a connection error/i.test(msg);
}

/**
 * Waits until the database accepts a connection and answers a query: startup must
 * not fail because the database is still starting, restarting, or briefly stalled.
 * Attempts that fail with "unavailable" errors are retried with capped backoff until
 * `waitMs` has passed; any other error (bad password, unknown database) fails at once.
 */
export async function waitForDatabase(db: Db, waitMs: number, log: (msg: string) => void = () => {}): Promise<void> {
  const deadline = Date.now() + waitMs;
  let delay = 250;
  for (let attempt = 1; ; attempt++) {
    try {
      await db.query("SELECT 1");
      if (attempt > 1) log(`the control-plane database answers (after ${attempt} attempts)`);
      return;
    } catch (err) {
      if (!isDatabaseUnavailable(err) || Date.now() + delay > deadline) throw err;
      log(`waiting for the control-plane database: ${(err as Error).message}; retrying in ${delay} ms`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}
