// What backups do on the data plane: dump a project in one MVCC snapshot to the
// blob store while counting its rows in that same snapshot, and restore an archive
// from the blob store into a database as a tenant role, checking its sha256.
import crypto from "node:crypto";
import fs from "node:fs";
import type { Readable } from "node:stream";
import pg from "pg";
import type { AppContext } from "../context.js";
import type { JobContext } from "../platform/jobs/worker.js";
import { PermanentError } from "../platform/jobs/errors.js";
import { quoteIdent } from "../platform/dataplane/sql.js";
import { tenantEndpoint, withExportedSnapshot, type TenantLogin } from "../platform/dataplane/tenant-session.js";
import { finishTools, startDump, startRestore, type PgEndpoint, type PgToolRun } from "../platform/dataplane/pgtools.js";
import { meteringStream } from "../platform/blobs/store.js";
import { extensionsInArchive } from "../platform/dataplane/archive-extensions.js";
import { platformMadeExtensions } from "../platform/dataplane/provision.js";
import type { ExtensionPlacement } from "../platform/dataplane/privileged.js";

export type RowCounts = Record<string, number>;

/**
 * Exact row counts of every user table (leaf tables; extension-owned tables
 * excluded), on a session as the tenant's own role (tenant-session.ts): a count plans
 * the tenant's index predicates and a catalog query can meet the tenant's operators,
 * so whatever of the tenant's code runs, runs with the tenant's rights. Names and
 * operators are qualified all the same, so the tenant cannot make the counts lie by
 * accident of its search_path.
 */
export async function countRows(client: pg.Client): Promise<RowCounts> {
  const { rows } = await client.query<{ nspname: string; relname: string }>(
    `SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE c.relkind OPERATOR(pg_catalog.=) 'r' AND n.nspname OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog', 'information_schema']::pg_catalog.name[])
       AND NOT pg_catalog.starts_with(n.nspname::pg_catalog.text, 'pg_toast') AND NOT pg_catalog.starts_with(n.nspname::pg_catalog.text, 'pg_temp')
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                         AND d.objid OPERATOR(pg_catalog.=) c.oid AND d.deptype OPERATOR(pg_catalog.=) 'e')
     ORDER BY 1, 2`,
  );
  const counts: RowCounts = {};
  for (const r of rows) {
    const { rows: n } = await client.query<{ n: string }>(`SELECT pg_catalog.count(*) AS n FROM ${quoteIdent(r.nspname)}.${quoteIdent(r.relname)}`);
    counts[`${r.nspname}.${r.relname}`] = Number(n[0].n);
  }
  return counts;
}

export interface DumpResult {
  sizeBytes: number;
  sha256: string;
  rowCounts: RowCounts;
  snapshotAt: Date;
}

/**
 * pg_dump -Fc of the database into the blob store under `key`. The dump reads an
 * exported snapshot, and the row counts are taken in the transaction that exported
 * it, at the same time: both see exactly the same data.
 *
 * Where the blob store is a local directory, pg_dump writes the object's file itself
 * (hashed once complete); otherwise its output streams through us into the store.
 * The counts run without parallel workers or JIT: they share the machine with the
 * dump, and on a small machine parallel workers slow the dump more than they speed
 * the counts.
 */
export async function dumpToBlob(ctx: AppContext, job: JobContext, clusterId: string, database: string, login: TenantLogin, key: string): Promise<DumpResult> {
  job.addSecret(login.password);
  // The dump and the counts run as the tenant's role: the tenant's code is never run with more rights.
  return withExportedSnapshot(ctx.clusters, clusterId, database, login, "capydb-backup", async ({ id, at, holder }) => {
    await holder.query("SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off");
    const file = ctx.blobs.fileTarget ? await ctx.blobs.fileTarget(key) : null;
    let dump: ReturnType<typeof startDump>;
    try {
      dump = startDump(job, await tenantEndpoint(ctx.clusters, clusterId, database, login), {
        snapshot: id,
        compress: 6,
        binDir: ctx.config.pgBinDir,
        lockWaitSeconds: ctx.config.toolLockWaitSeconds,
        stdoutFd: file?.fd,
      });
    } catch (err) {
      await file?.abort();
      throw err;
    }
    const put = file
      ? finishTools(job, [dump]).then(() => file.commit())
      : Promise.all([ctx.blobs.put(key, dump.stdout), finishTools(job, [dump])]).then(([stored]) => stored);
    const [stored, rowCounts] = await Promise.all([put, countRows(holder)]).catch(async (err: unknown) => {
      // A partial dump must not stay in the blob store.
      dump.child.kill("SIGTERM");
      await put.catch(() => {});
      await file?.abort().catch(() => {});
      await ctx.blobs.delete(key).catch(() => {});
      throw err;
    });
    return { sizeBytes: stored.sizeBytes, sha256: stored.sha256, rowCounts, snapshotAt: at };
  });
}

/**
 * Restores the archive at `key` into `target` with pg_restore (run as the target's
 * role), checking the archive's sha256 against the one recorded at backup time: a
 * blob that differs fails with a clear error. A store with local files lets
 * pg_restore read the file itself with CAPYDB_RESTORE_JOBS parallel workers while
 * the file is hashed beside it; any other store streams the archive through here.
 */
export async function restoreFromBlob(ctx: AppContext, job: JobContext, key: string, expectedSha256: string | null, target: PgEndpoint): Promise<void> {
  const file = ctx.blobs.localFile ? await ctx.blobs.localFile(key) : null;
  let restore: PgToolRun;
  /** The archive's sha256, or null when pg_restore stopped before reading all of it. */
  let hashed: Promise<string | null>;
  if (file) {
    restore = startRestore(job, target, ctx.config.pgBinDir, { file, jobs: ctx.config.restoreJobs });
    hashed = sha256OfStream(fs.createReadStream(file));
  } else {
    const source = await ctx.blobs.get(key);
    restore = startRestore(job, target, ctx.config.pgBinDir);
    const meter = meteringStream();
    const read = new Promise<boolean>((resolve) => {
      meter.stream.on("finish", () => resolve(true)); // every byte went through the hash
      source.on("error", (err) => {
        restore.stdin.destroy(err);
        resolve(false);
      });
    });
    source.pipe(meter.stream).pipe(restore.stdin);
    hashed = restore.exited
      .catch(() => null)
      .then(async () => {
        // pg_restore may stop early (a corrupted archive): hash the rest, so the error says which it is
        meter.stream.unpipe(restore.stdin);
        meter.stream.resume();
        return (await read) ? meter.result().sha256 : null;
      });
  }
  let restoreError: unknown = null;
  await finishTools(job, [restore]).catch((err) => (restoreError = err));
  const actual = await hashed;
  if (expectedSha256 && actual && actual !== expectedSha256) {
    throw new PermanentError(`backup archive is corrupted: its sha256 is ${actual.slice(0, 12)}…, the backup recorded ${expectedSha256.slice(0, 12)}…`);
  }
  if (restoreError) throw restoreError;
}

/** The untrusted, allow-listed extensions the archive at `key` creates: what a restore target needs made first. */
export async function extensionsForArchive(ctx: AppContext, clusterId: string, key: string): Promise<ExtensionPlacement[]> {
  const file = ctx.blobs.localFile ? await ctx.blobs.localFile(key) : null;
  const wanted = await extensionsInArchive(ctx.config.pgBinDir, file ? { file } : { stream: await ctx.blobs.get(key) });
  return platformMadeExtensions(await ctx.clusters.pool(clusterId), ctx.config.extensionAllowlist, wanted);
}

async function sha256OfStream(stream: Readable): Promise<string> {
  const hash = crypto.createHash("sha256");
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** The differences between two sets of row counts, described for a person. */
export function compareRowCounts(expected: RowCounts, actual: RowCounts): string | null {
  const problems: string[] = [];
  for (const [table, n] of Object.entries(expected)) {
    if (!(table in actual)) problems.push(`${table} is missing`);
    else if (actual[table] !== n) problems.push(`${table} has ${actual[table]} rows, expected ${n}`);
  }
  for (const table of Object.keys(actual)) if (!(table in expected)) problems.push(`${table} was not in the backup`);
  return problems.length ? problems.slice(0, 5).join("; ") + (problems.length > 5 ? ` (and ${problems.length - 5} more)` : "") : null;
}
