// SQL from tests: the real psql client on a connection string (as the tenant it names), and
// catalogue checks as the harness cluster's superuser.
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { adminQuery } from "./server.js";

const execFileAsync = promisify(execFile);

/** Unaligned rows without headers or command tags; stop at the first error. */
const psqlArgs = (uri: string, sql: string) => [uri, "-XAtqv", "ON_ERROR_STOP=1", "-c", sql];

/** Runs `sql` with psql; returns its output trimmed, throws with psql's stderr when it fails. */
export function psql(uri: string, sql: string): string {
  return execFileSync("psql", psqlArgs(uri, sql), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** psql without blocking the event loop, for tests whose server (or fake) runs in this process. */
export async function psqlAsync(uri: string, sql: string): Promise<string> {
  return (await execFileAsync("psql", psqlArgs(uri, sql), { encoding: "utf8" })).stdout.trim();
}

/** Whether a database of that name exists on the harness cluster. */
export async function databaseExists(name: string): Promise<boolean> {
  return (await adminQuery("postgres", "select 1 from pg_database where datname = $1", [name])).rowCount === 1;
}

/** Whether a role of that name exists on the harness cluster. */
export async function roleExists(name: string): Promise<boolean> {
  return (await adminQuery("postgres", "select 1 from pg_roles where rolname = $1", [name])).rowCount === 1;
}
