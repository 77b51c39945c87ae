// "Ready" means the database answers: connect with the very credentials the step outputs and
// run SELECT 1, with backoff, until it works or the deadline passes.
import * as core from "@actions/core";
import pg from "pg";
import { ActionError } from "./errors.js";
import type { Credentials } from "./credentials.js";
import type { Deadline } from "./deadline.js";

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 3_000;
const CONNECT_TIMEOUT_MS = 10_000;

type SslOption = false | { rejectUnauthorized: boolean };

/** libpq's sslmode mapped onto node-postgres: which TLS settings to try, in order. */
function sslAttempts(sslmode: string | null): SslOption[] {
  switch (sslmode) {
    case "require":
      return [{ rejectUnauthorized: false }];
    case "verify-ca":
    case "verify-full":
      return [{ rejectUnauthorized: true }];
    case "prefer":
      return [{ rejectUnauthorized: false }, false];
    case "allow":
      return [false, { rejectUnauthorized: false }];
    default:
      return [false];
  }
}

async function selectOne(c: Credentials, ssl: SslOption, timeoutMs: number): Promise<void> {
  const client = new pg.Client({
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
    database: c.database,
    ssl,
    connectionTimeoutMillis: Math.max(1, Math.min(CONNECT_TIMEOUT_MS, timeoutMs)),
    query_timeout: Math.max(1, Math.min(CONNECT_TIMEOUT_MS, timeoutMs)),
    application_name: "capydb-preview-action",
  });
  client.on("error", () => {}); // a dropped connection after the check is not our concern
  try {
    await client.connect();
    const { rows } = await client.query<{ ok: number }>("SELECT 1 AS ok");
    if (rows[0]?.ok !== 1) throw new Error("SELECT 1 did not answer 1");
  } finally {
    await client.end().catch(() => {});
  }
}

export async function waitUntilAcceptingConnections(c: Credentials, deadline: Deadline): Promise<void> {
  const sslmode = new URL(c.databaseUrl).searchParams.get("sslmode");
  const attempts = sslAttempts(sslmode);
  const started = performance.now();
  let delay = FIRST_DELAY_MS;
  let lastError = "";
  for (let attempt = 1; ; attempt++) {
    for (const ssl of attempts) {
      try {
        await selectOne(c, ssl, deadline.remainingMs());
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        core.info(`Database ${c.database} on ${c.host}:${c.port} answered SELECT 1 as ${c.user} (attempt ${attempt}, ${seconds}s)`);
        return;
      } catch (err) {
        lastError = (err as Error).message || String(err);
      }
    }
    if (deadline.remainingMs() <= delay) {
      throw new ActionError(
        `Timed out after ${deadline.describe()} (input \`timeout\`): database ${c.database} on ${c.host}:${c.port} did not accept ` +
          `connections as ${c.user} (${attempt} attempts; last error: ${lastError})`,
      );
    }
    core.info(`  database not accepting connections yet (${lastError}); retrying in ${(delay / 1000).toFixed(1)}s`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(MAX_DELAY_MS, delay * 2);
  }
}
