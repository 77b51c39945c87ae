// Attacks on how pg_dump and pg_restore are pointed at a database and how long
// they may be held:
// - a database whose very name is a libpq connection string ("hostaddr=... port=...
//   dbname=...") must be dumped itself, not read as parameters that send the dump
//   to another database or server (the import-source smuggling of issue 13);
// - a table held ACCESS EXCLUSIVE in a transaction that never ends (a tarpit import
//   source, or a tenant in front of its backup) must fail the dump after the lock
//   wait, with an error naming the table, instead of holding a worker forever.
import crypto from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { adminQuery, adminUrl } from "../harness/server.js";
import { dumpAndRestore, endpointFromUrl, finishTools, startDump, type PgEndpoint } from "../../server/src/platform/dataplane/pgtools.js";
import { startToolJobs, type ToolJobs } from "./pg-tool-jobs.js";

let jobs: ToolJobs;
const databases: string[] = [];

function endpoint(database: string): PgEndpoint {
  return { ...endpointFromUrl(adminUrl("postgres")), database };
}

async function createDatabaseWithMarker(name: string, marker: string): Promise<void> {
  await adminQuery("postgres", `CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  databases.push(name);
  const c = new pg.Client({ ...pgConfig(), database: name });
  await c.connect();
  try {
    await c.query("CREATE TABLE marker (said text NOT NULL)");
    await c.query("INSERT INTO marker VALUES ($1)", [marker]);
  } finally {
    await c.end();
  }
}

function pgConfig(): pg.ClientConfig {
  const e = endpointFromUrl(inject("pgAdminUrl"));
  return { host: e.host, port: e.port, user: e.user, password: e.password };
}

async function markerIn(database: string): Promise<string[]> {
  const { rows } = await adminQuery<{ said: string }>(database, "SELECT said FROM marker");
  return rows.map((r) => r.said);
}

beforeAll(async () => {
  jobs = await startToolJobs();
});

afterAll(async () => {
  await jobs?.close();
  for (const name of databases) await adminQuery("postgres", `DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`);
});

describe("a database name is a name, never connection parameters", () => {
  const harnessPort = () => endpointFromUrl(inject("pgAdminUrl")).port;
  const suffix = crypto.randomBytes(4).toString("hex");
  const decoy = `capy_decoy_${suffix}`;

  beforeAll(async () => {
    // The database the attacker would rather read: on the same server, another name.
    await createDatabaseWithMarker(decoy, "the decoy: another database was read");
  });

  const names = [
    // Sends the dump to a dead port: the job fails instead of dumping.
    () => `hostaddr=127.0.0.1 port=1 dbname=postgres ${suffix}`,
    // Silently dumps another database of the server instead of this one.
    () => `hostaddr=127.0.0.1 port=${harnessPort()} dbname=${decoy}`,
    // Quotes and backslashes, against a connection string built with naive quoting.
    () => `x' port='1' dbname='${decoy}' \\ ${suffix}`,
  ];

  it.each(names.map((n, i) => [i, n]))("dumps the database literally named by case %i", async (_i, name) => {
    const source = (name as () => string)();
    await createDatabaseWithMarker(source, `the database named ${source}`);
    const target = `capy_target_${crypto.randomBytes(5).toString("hex")}`;
    await adminQuery("postgres", `CREATE DATABASE "${target}"`);
    databases.push(target);

    const job = await jobs.run((ctx) => dumpAndRestore(ctx, { source: endpoint(source), target: endpoint(target), binDir: inject("pgBinDir") }));

    expect({ state: job.state, error: job.error }).toEqual({ state: "succeeded", error: null });
    expect(await markerIn(target)).toEqual([`the database named ${source}`]);
  });
});

describe("a dump does not wait forever for a lock", () => {
  it("fails after the lock wait with an error naming the locked table", { timeout: 60_000 }, async () => {
    const source = `capy_tarpit_${crypto.randomBytes(5).toString("hex")}`;
    await createDatabaseWithMarker(source, "free");
    await adminQuery(source, 'CREATE TABLE public."held, tight" (id int); CREATE TABLE public.free (id int)');
    // The tarpit: ACCESS EXCLUSIVE taken in a transaction that stays open.
    const holder = new pg.Client({ ...pgConfig(), database: source, application_name: "tarpit" });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query('LOCK TABLE public."held, tight" IN ACCESS EXCLUSIVE MODE');

      const started = Date.now();
      const job = await jobs.run(async (ctx) => {
        const dump = startDump(ctx, endpoint(source), { binDir: inject("pgBinDir"), lockWaitSeconds: 2 });
        dump.stdout.resume();
        await finishTools(ctx, [dump]);
      }, 30_000);
      const took = Date.now() - started;

      expect(job).toMatchObject({ state: "failed", attempts: 1, retry_classification: "permanent" });
      expect(job.error).toMatch(/^pg_dump could not lock table public\."held, tight" within 2 s: another session holds a conflicting lock/);
      expect(took).toBeGreaterThanOrEqual(2000);
      expect(took).toBeLessThan(15_000);
    } finally {
      await holder.query("ROLLBACK").catch(() => {});
      await holder.end();
    }
  });

  it("gives every pg_dump a lock wait, also when the caller names none", { timeout: 60_000 }, async () => {
    const source = `capy_tarpit_${crypto.randomBytes(5).toString("hex")}`;
    await createDatabaseWithMarker(source, "free");
    let args: string[] = [];
    const job = await jobs.run(async (ctx) => {
      const dump = startDump(ctx, endpoint(source), { binDir: inject("pgBinDir") });
      args = dump.child.spawnargs;
      dump.stdout.resume();
      await finishTools(ctx, [dump]);
    });
    expect(job.state).toBe("succeeded");
    expect(args).toContain("--lock-wait-timeout=60s");
  });
});
