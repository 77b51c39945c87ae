// Cutovers on the instance engine: production and the preview are instances of their own,
// so promoting is a swap of their data directories (stop, relink, start), at any size. In
// the preview's instance the preview's database and role first take production's names
// and password, so production's instance comes back with its address, names and
// credentials unchanged, holding the preview's data. The previous data is then in the
// preview's instance (stopped) for the rollback window; a rollback swaps back.
//
// A retried job knows where it stands from the data directories recorded on the request:
// production's instance points at the candidate's directory once the swap is done.
import type { AppContext } from "../context.js";
import type { JobContext } from "../platform/jobs/worker.js";
import { PermanentError } from "../platform/jobs/errors.js";
import { quoteIdent, quoteLiteral } from "../platform/dataplane/sql.js";
import type pg from "pg";
import { databaseExists, roleSettingsStatements } from "../platform/dataplane/provision.js";
import { scramVerifier } from "../platform/secrets.js";
import type { InstanceRow } from "../platform/dataplane/instances/registry.js";
import type { ProjectRow } from "../projects/store.js";
import type { PreviewRow } from "../previews/store.js";
import { recordCandidateDir, type CutoverRow } from "./store.js";

export interface InstancePair {
  production: InstanceRow;
  candidate: InstanceRow;
}

/** Production's and the preview's instances, when the cutover is between two instances (else null: a shared cluster). */
export async function instancePair(ctx: AppContext, project: ProjectRow, preview: PreviewRow): Promise<InstancePair | null> {
  if (!ctx.instances) return null;
  const production = await ctx.instances.instanceOf(project.cluster_id);
  const candidate = await ctx.instances.instanceOf(preview.cluster_id);
  if (!production && !candidate) return null;
  if (!production || !candidate) throw new PermanentError("the project and the preview are on different engines: the preview cannot be promoted");
  return { production, candidate };
}

/** The preview's data directory: as recorded on the request, else where its instance's link points. */
function candidateDirOf(ctx: AppContext, cut: CutoverRow, pair: InstancePair): string {
  const dir = cut.candidate_dir ?? ctx.instances!.host.dataTarget(pair.candidate.name);
  if (!dir) throw new PermanentError(`the preview's instance ${pair.candidate.name} has no data`);
  return dir;
}

/** What the renames need, read before a pause: production's role's verifier. */
export interface SwapPrepared {
  verifier: string | null;
}

/**
 * Everything the swap can do before production's writes are held: the candidate's directory
 * recorded (a retry knows where it stands), the preview's pooled sessions closed and its
 * database closed to new ones, its other sessions ended (`keepPid`: the carry's replay, which
 * ends inside the pause), and production's role's verifier read.
 */
export async function prepareInstanceSwap(
  ctx: AppContext,
  cut: CutoverRow,
  project: ProjectRow,
  preview: PreviewRow,
  pair: InstancePair,
  keepPid: number | null,
): Promise<SwapPrepared> {
  const candidateDir = candidateDirOf(ctx, cut, pair);
  await recordCandidateDir(ctx.db, cut.id, candidateDir);
  await ctx.pooler.kill(preview.cluster_id, preview.database_name).catch(() => {});
  const admin = await ctx.clusters.pool(pair.candidate.cluster_id);
  if (await databaseExists(admin, preview.database_name)) {
    await admin.query(`ALTER DATABASE ${quoteIdent(preview.database_name)} WITH CONNECTION LIMIT 0`);
    await admin.query(
      `SELECT pg_catalog.pg_terminate_backend(a.pid) FROM pg_catalog.pg_stat_activity a JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.usesysid
        WHERE a.datname OPERATOR(pg_catalog.=) $1::pg_catalog.name AND NOT r.rolsuper AND a.pid OPERATOR(pg_catalog.<>) $2::pg_catalog.int4`,
      [preview.database_name, keepPid ?? 0],
    );
  }
  return { verifier: await verifierOf(ctx, project.cluster_id, project.role_name) };
}

/**
 * The preview's database takes sessions again: a retried execute reads it and replays into it
 * after an attempt closed it for the swap. Only while the preview's instance runs with the
 * preview's data (after the swap it holds production's previous data, stopped).
 */
export async function reopenPreviewDatabase(ctx: AppContext, preview: PreviewRow, pair: InstancePair): Promise<void> {
  if (!ctx.instances!.host.running(pair.candidate.name)) return;
  const admin = await ctx.clusters.pool(pair.candidate.cluster_id);
  if (await databaseExists(admin, preview.database_name)) await admin.query(`ALTER DATABASE ${quoteIdent(preview.database_name)} WITH CONNECTION LIMIT -1`);
}

/**
 * Renames a database and a role in an instance (its maintenance database: catalog changes
 * only) and sets the role's password and limits: the state read in one round trip, the
 * database's remaining sessions ended and waited for, then every change in one transaction
 * (one commit: the swap's pause waits for it).
 */
async function takeNames(
  ctx: AppContext,
  job: JobContext | null,
  clusterId: string,
  from: { database: string; role: string },
  to: { database: string; role: string; passwordSealed: string; settings: ProjectRow; verifier?: string | null },
): Promise<void> {
  const admin = await ctx.clusters.pool(clusterId);
  const { rows } = await admin.query<{ from_db: boolean; to_db: boolean; from_role: boolean; to_role: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname OPERATOR(pg_catalog.=) $1::pg_catalog.name) AS from_db,
            EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname OPERATOR(pg_catalog.=) $2::pg_catalog.name) AS to_db,
            EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) $3::pg_catalog.name) AS from_role,
            EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) $4::pg_catalog.name) AS to_role`,
    [from.database, to.database, from.role, to.role],
  );
  const there = rows[0];
  const password = ctx.box.open(to.passwordSealed);
  job?.addSecret(password);
  // the very verifier production's role has: PgBouncer's auth file holds it (and logs in to the
  // server with its keys), so clients log in again after the swap without waiting for a sync
  const verifier = to.verifier ?? scramVerifier(password);
  const role = quoteIdent(to.role);
  const statements: string[] = [];
  if (!there.to_db && there.from_db) {
    // a database is renamed only with no session in it: the rest are ended (their role's own
    // database is being handed over) and waited for
    await endSessionsIn(admin, from.database);
    statements.push(`ALTER DATABASE ${quoteIdent(from.database)} RENAME TO ${quoteIdent(to.database)}`);
  }
  if (there.from_db || there.to_db) statements.push(`ALTER DATABASE ${quoteIdent(to.database)} WITH CONNECTION LIMIT -1`);
  if (!there.to_role && there.from_role) statements.push(`ALTER ROLE ${quoteIdent(from.role)} RENAME TO ${role}`);
  if (!there.to_role && !there.from_role) statements.push(`CREATE ROLE ${role} WITH NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`);
  statements.push(`ALTER ROLE ${role} WITH LOGIN PASSWORD ${quoteLiteral(verifier)}`, ...roleSettingsStatements(to.role, to.settings));
  // one simple query: one implicit transaction, all or nothing
  await admin.query(statements.join(";\n"));
}

/** Ends a database's non-superuser sessions and waits (at most 10 s) until none is left. */
async function endSessionsIn(admin: pg.Pool, database: string): Promise<void> {
  const others = `FROM pg_catalog.pg_stat_activity a LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.usesysid
    WHERE a.datname OPERATOR(pg_catalog.=) $1::pg_catalog.name AND a.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()`;
  for (const deadline = Date.now() + 10_000; ;) {
    const { rows } = await admin.query<{ n: number }>(
      `SELECT pg_catalog.count(*)::pg_catalog.int4 AS n, pg_catalog.count(pg_catalog.pg_terminate_backend(a.pid)) FILTER (WHERE NOT coalesce(r.rolsuper, false)) AS told ${others}`,
      [database],
    );
    if (rows[0].n === 0) return;
    if (Date.now() > deadline) throw new Error(`sessions of ${database} did not end within 10 s: it cannot be renamed`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A role's SCRAM verifier in an instance (null: none). */
async function verifierOf(ctx: AppContext, clusterId: string, role: string): Promise<string | null> {
  const admin = await ctx.clusters.pool(clusterId);
  const { rows } = await admin.query<{ v: string | null }>("SELECT rolpassword AS v FROM pg_catalog.pg_authid WHERE rolname OPERATOR(pg_catalog.=) $1", [role]);
  return rows[0]?.v?.startsWith("SCRAM-SHA-256$") ? rows[0].v : null;
}

/** Whether production's instance already holds the preview's data (a retried job after the swap). */
export function alreadySwapped(ctx: AppContext, cut: CutoverRow, pair: InstancePair): boolean {
  return cut.candidate_dir !== null && ctx.instances!.host.dataTarget(pair.production.name) === cut.candidate_dir;
}

/**
 * Promotes the preview: its data becomes production's (same address, names, password) and
 * production's previous data is kept in the preview's (stopped) instance. Answers where the
 * previous data is, for the request.
 */
export async function promoteByInstanceSwap(
  ctx: AppContext,
  job: JobContext,
  cut: CutoverRow,
  project: ProjectRow,
  preview: PreviewRow,
  pair: InstancePair,
  opts: { paused?: boolean; prepared?: SwapPrepared } = {},
): Promise<{ clusterId: string; dir: string }> {
  const engine = ctx.instances!;
  const candidateDir = candidateDirOf(ctx, cut, pair);
  if (engine.host.dataTarget(pair.production.name) !== candidateDir) {
    const began = Date.now();
    await engine.host.start(pair.candidate.name);
    const prepared = opts.prepared ?? (await prepareInstanceSwap(ctx, cut, project, preview, pair, null));
    await takeNames(
      ctx,
      job,
      pair.candidate.cluster_id,
      { database: preview.database_name, role: preview.role_name },
      {
        database: project.database_name,
        role: project.role_name,
        passwordSealed: project.role_password_sealed,
        settings: project,
        verifier: prepared.verifier,
      },
    );
    ctx.faults.check("cutover.before_swap");
    const named = Date.now() - began;
    // paused: PgBouncer holds production's clients and has closed its server connections; they wait through the swap
    if (!opts.paused) await ctx.pooler.kill(project.cluster_id, project.database_name).catch(() => {});
    // paused: production's WAL was flushed at the pause's marker and its writes are held since
    const at = await engine.swapStopped(pair.production, pair.candidate, { firstImmediate: opts.paused });
    job.log.info(
      {
        names_taken: named,
        pools_dropped: named + at.poolsDroppedMs,
        production_stopped: named + at.firstStoppedMs,
        preview_stopped: named + at.secondStoppedMs,
        stopped: named + at.stoppedMs,
        started: named + at.startedMs,
      },
      "the swap, ms from its start",
    );
    ctx.faults.check("cutover.instance.swapped");
  } else {
    await engine.host.start(pair.production.name);
  }
  await engine.keepStopped(pair.candidate, true);
  return { clusterId: pair.candidate.cluster_id, dir: engine.host.dataTarget(pair.candidate.name)! };
}

/** A failed promotion: production gets its own data back if the swap happened, and the preview its names and password. */
export async function undoInstancePromotion(ctx: AppContext, cut: CutoverRow, project: ProjectRow, preview: PreviewRow, pair: InstancePair): Promise<void> {
  const engine = ctx.instances!;
  if (cut.candidate_dir && engine.host.dataTarget(pair.production.name) === cut.candidate_dir) await engine.swapStopped(pair.production, pair.candidate);
  await engine.host.start(pair.production.name);
  await engine.keepStopped(pair.candidate, false);
  await engine.host.start(pair.candidate.name);
  await takeNames(
    ctx,
    null,
    pair.candidate.cluster_id,
    { database: project.database_name, role: project.role_name },
    { database: preview.database_name, role: preview.role_name, passwordSealed: preview.role_password_sealed, settings: project },
  );
}

/** Puts the previous data back in production's instance and removes the promoted data. */
export async function rollBackInstanceSwap(ctx: AppContext, cut: CutoverRow, project: ProjectRow, opts: { paused?: boolean } = {}): Promise<void> {
  const engine = ctx.instances!;
  const production = await engine.instanceOf(project.cluster_id);
  const previous = cut.previous_instance_cluster_id ? await engine.instanceOf(cut.previous_instance_cluster_id) : null;
  if (!production || !previous) throw new PermanentError("the instances of this cutover are gone");
  if (engine.host.dataTarget(production.name) !== cut.previous_dir) {
    if (previous.state !== "active" || !engine.host.exists(previous.name)) {
      throw new PermanentError("the previous production data is gone: the rollback window has passed");
    }
    // paused: PgBouncer holds production's clients through the swap
    if (!opts.paused) await ctx.pooler.kill(project.cluster_id, project.database_name).catch(() => {});
    // paused: the promoted data goes after the swap back, and its WAL was flushed at the pause's marker
    const at = await engine.swapStopped(production, previous, { firstImmediate: opts.paused });
    ctx.log.info(
      {
        cutover_id: cut.id,
        names_taken: 0,
        pools_dropped: at.poolsDroppedMs,
        production_stopped: at.firstStoppedMs,
        preview_stopped: at.secondStoppedMs,
        stopped: at.stoppedMs,
        started: at.startedMs,
      },
      "the swap, ms from its start",
    );
  }
  await engine.host.start(production.name);
  // the promoted data, now in the other instance, goes (after the pause, when there is one)
  if (previous.state === "active" && !opts.paused) await engine.destroy(previous);
}

/** The previous data kept for a rollback goes (its window passed, or the project is deleted). */
export async function dropPreviousInstance(ctx: AppContext, clusterId: string): Promise<void> {
  const row = await ctx.instances?.instanceOf(clusterId);
  if (row && row.state === "active") await ctx.instances!.destroy(row);
}
