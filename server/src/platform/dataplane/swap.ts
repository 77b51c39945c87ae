// Putting a finished build in place of a live database by renames, so a database is
// never half made: restores, imports and cutovers swap production; previews swap
// their own database on create and reset. Connections to the databases renamed are
// closed (PgBouncer's too) and refused for the instant of the swap.
import type pg from "pg";
import type { ClusterAdmin } from "./clusters.js";
import type { PoolerSync } from "./pooler-sync.js";
import type { Faults } from "../faults.js";
import { PermanentError } from "../jobs/errors.js";
import { databaseExists, dropDatabase } from "./provision.js";
import { quoteIdent } from "./sql.js";

/** What a swap needs of the platform. */
export interface SwapServices {
  clusters: ClusterAdmin;
  pooler: PoolerSync;
  faults: Faults;
}

export async function setAllowConnections(admin: pg.Pool, database: string, allow: boolean): Promise<void> {
  await admin.query(`ALTER DATABASE ${quoteIdent(database)} WITH ALLOW_CONNECTIONS ${allow}`);
}

/** Refuses new connections to a database and ends the ones it has (PgBouncer's too). */
export async function closeDatabase(s: SwapServices, clusterId: string, database: string): Promise<void> {
  const admin = await s.clusters.pool(clusterId);
  await setAllowConnections(admin, database, false);
  await s.pooler.kill(clusterId, database).catch(() => {});
  await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [database]);
}

async function rename(admin: pg.Pool, from: string, to: string): Promise<void> {
  await admin.query(`ALTER DATABASE ${quoteIdent(from)} RENAME TO ${quoteIdent(to)}`);
}

/**
 * Puts `built` in place of the live database by renames; the previous database ends
 * up as `old` (dropped unless keepOld, else kept closed). Resumable: a retry picks up
 * where an interrupted swap stopped.
 */
export async function swapDatabase(
  s: SwapServices,
  clusterId: string,
  live: string,
  built: string,
  old: string,
  opts: { keepOld?: boolean } = {},
): Promise<void> {
  const admin = await s.clusters.pool(clusterId);
  const liveExists = await databaseExists(admin, live);
  const builtExists = await databaseExists(admin, built);
  if (liveExists && builtExists) {
    await closeDatabase(s, clusterId, built);
    await closeDatabase(s, clusterId, live);
    await dropDatabase(admin, old);
    await rename(admin, live, old);
    s.faults.check("swap.between_renames");
    await rename(admin, built, live);
  } else if (!liveExists && builtExists) {
    await rename(admin, built, live);
  } else if (!liveExists) {
    throw new PermanentError(`neither ${live} nor ${built} exists: cannot complete the swap`);
  }
  await setAllowConnections(admin, live, true);
  if (opts.keepOld) {
    if (await databaseExists(admin, old)) await setAllowConnections(admin, old, false);
  } else {
    await dropDatabase(admin, old);
  }
}

/** Undoes a half-done swap: the previous database goes back under the live name. */
export async function rollBackSwap(
  s: SwapServices,
  clusterId: string,
  live: string,
  built: string,
  old: string,
  opts: { keepBuilt?: boolean } = {},
): Promise<void> {
  const admin = await s.clusters.pool(clusterId);
  if (!(await databaseExists(admin, live)) && (await databaseExists(admin, old))) await rename(admin, old, live);
  if (await databaseExists(admin, live)) await setAllowConnections(admin, live, true);
  if (opts.keepBuilt) {
    if (await databaseExists(admin, built)) await setAllowConnections(admin, built, true);
  } else {
    await dropDatabase(admin, built);
  }
}

/**
 * Puts a finished build in place under `database` without dropping what was there: it
 * is renamed to `aside` (the slow DROP, a checkpoint and unlinking every file, happens
 * later, off the caller's path). Returns the aside name, or null when nothing was there.
 */
export async function swapAside(s: SwapServices, clusterId: string, built: string, database: string, aside: string): Promise<string | null> {
  const admin = await s.clusters.pool(clusterId);
  if (!(await databaseExists(admin, built))) throw new PermanentError(`the copy ${built} is missing`);
  let movedAside: string | null = null;
  if (await databaseExists(admin, database)) {
    await dropDatabase(admin, aside); // a leftover of this job's interrupted attempt
    await closeDatabase(s, clusterId, database);
    await rename(admin, database, aside);
    movedAside = aside;
  }
  await rename(admin, built, database);
  return movedAside;
}

/** Puts an aside copy back under its name if the swap stopped between its renames, and opens the database again. */
export async function restoreAside(s: SwapServices, clusterId: string, database: string, aside: string): Promise<void> {
  const admin = await s.clusters.pool(clusterId);
  if (!(await databaseExists(admin, database)) && (await databaseExists(admin, aside))) await rename(admin, aside, database);
  await setAllowConnections(admin, database, true).catch(() => {});
}
