// Origins of previews' data on the instance engine: the logical slot each snapshot of a
// project is recovered to exactly (made in instance-snapshot.ts), kept while the snapshot or
// a live preview cloned from it may still be promoted, and what production wrote since.
import type { WritesSinceOrigin as ApiWrites } from "@capydb/api";
import type { AppContext } from "../context.js";
import { dropOriginSlot, SlotCounter, listOriginSlots, type OriginWrites } from "../platform/dataplane/privileged.js";
import { inTransaction } from "../platform/store/db.js";
import { errorMessage } from "../platform/jobs/errors.js";
import type { ProjectRow } from "../projects/store.js";
import { originSlotsInUse, type PreviewRow } from "./store.js";

/** A snapshot's (or a preview's) origin; slot null when there is none, error saying why. */
export interface Origin {
  slot: string | null;
  lsn: string | null;
  error: string | null;
}

/** What production received since a preview's origin, or why that is not known. */
export type WritesSinceOrigin =
  | { known: true; since_lsn: string; tables: OriginWrites[]; last_write_at: string | null }
  /** transient: the slot is there but could not be read now (a job must try again, not go on without it). */
  | { known: false; reason: string; transient?: boolean };

/**
 * Drops the origin slots on the project's instance that neither its snapshot nor a live
 * preview refers to any more (each holds back production's WAL). Best effort: a failure is
 * logged, and the next snapshot or reset tries again.
 */
export async function releaseUnusedOrigins(ctx: AppContext, project: ProjectRow): Promise<void> {
  try {
    const inUse = await originSlotsInUse(ctx.db, project.id);
    for (const slot of await listOriginSlots(ctx.clusters, project.cluster_id, project.database_name)) {
      if (inUse.has(slot)) continue;
      await dropOriginSlot(ctx.clusters, project.cluster_id, project.database_name, slot);
      await forgetSlotCounts(ctx, project, slot);
    }
  } catch (err) {
    ctx.log.warn({ project_id: project.id, err: errorMessage(err) }, "origin slots could not be released");
  }
}

/** How long a count may decode: a request's read answers within seconds (past it: not counted now), a job takes what it needs. */
export interface CountOptions {
  timeoutSeconds?: number;
}

/** Reads made for an API response that shows a request: bounded, the rest is the job's. */
export const API_COUNT: CountOptions = { timeoutSeconds: 60 };
/** The check an operator's execute or rollback waits for (the job checks again, unbounded). */
export const CHECK_COUNT: CountOptions = { timeoutSeconds: 60 };
/** Reads made by a job. */
export const JOB_COUNT: CountOptions = { timeoutSeconds: 1800 };

export async function writesSinceOrigin(ctx: AppContext, project: ProjectRow, preview: PreviewRow, opts: CountOptions = JOB_COUNT): Promise<WritesSinceOrigin> {
  if (!preview.origin_slot || !preview.origin_lsn) {
    if (!(await ctx.instances?.instanceOf(project.cluster_id))) {
      return { known: false, reason: "on the shared engine previews are logical copies with no origin: production's writes since are not counted" };
    }
    return {
      known: false,
      reason: preview.origin_error ?? "this preview's data has no recorded origin (made before origins were recorded, or not from production's snapshot)",
    };
  }
  return writesFromSlot(ctx, project, preview.origin_slot, preview.origin_lsn, opts);
}

/** Lines a count reads at a time (whole transactions: a large one is read whole). Tests make it small to count in many chunks. */
export const countChunk = { lines: 50_000 };

/** Adds a chunk's per-table counts to what was counted before. */
function addCounts(before: OriginWrites[], chunk: OriginWrites[]): OriginWrites[] {
  const byTable = new Map(before.map((t) => [t.table, { ...t }]));
  for (const t of chunk) {
    const had = byTable.get(t.table);
    if (!had) byTable.set(t.table, { ...t });
    else {
      had.inserts += t.inserts;
      had.updates += t.updates;
      had.deletes += t.deletes;
      if (t.last_write_at > had.last_write_at) had.last_write_at = t.last_write_at;
    }
  }
  return [...byTable.values()].sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
}

/**
 * Production's writes a slot of its instance has decoded since `since` (its start). Counted
 * incrementally: what earlier reads counted is kept in slot_counts with the position they
 * reached, and only what production wrote after it is decoded (from the slot's counter, a copy
 * advanced as counts are recorded). One reader of a slot at a time (its row is locked while a
 * chunk is read and recorded); a read that runs out of time keeps what it counted for the next.
 */
export async function writesFromSlot(
  ctx: AppContext,
  project: ProjectRow,
  slot: string,
  since: string,
  opts: CountOptions = JOB_COUNT,
): Promise<WritesSinceOrigin> {
  const budgetMs = (opts.timeoutSeconds ?? JOB_COUNT.timeoutSeconds!) * 1000;
  const deadline = Date.now() + budgetMs;
  const key = [project.id, slot, since];
  let counter: SlotCounter | null = null;
  try {
    await ctx.db.query("INSERT INTO slot_counts (project_id, slot, since) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", key);
    counter = await SlotCounter.open(ctx.clusters, project.cluster_id, project.database_name, slot);
    for (;;) {
      const left = () => Math.max(1000, deadline - Date.now());
      const step = await inTransaction(ctx.db, async (tx) => {
        await tx.query(`SET LOCAL lock_timeout = '${left()}ms'`);
        const { rows } = await tx.query<{ through_lsn: string | null; tables: OriginWrites[] }>(
          "SELECT through_lsn::text AS through_lsn, tables FROM slot_counts WHERE project_id = $1 AND slot = $2 AND since = $3 FOR UPDATE",
          key,
        );
        const counted = rows[0];
        const chunk = await counter!.chunk(counted.through_lsn, countChunk.lines, left() / 1000);
        if (!chunk) return null;
        const tables = addCounts(counted.tables, chunk.tables);
        if (chunk.through) {
          await tx.query("UPDATE slot_counts SET through_lsn = $4, tables = $5, counted_at = now() WHERE project_id = $1 AND slot = $2 AND since = $3", [
            ...key,
            chunk.through,
            JSON.stringify(tables),
          ]);
        }
        return { lines: chunk.lines, tables };
      });
      if (!step) return { known: false, reason: "the slot is gone or held back more WAL than CAPYDB_ORIGIN_SLOT_WAL_KEEP_MB allows: the count is lost" };
      if (step.lines < countChunk.lines) {
        const last =
          step.tables
            .map((t) => t.last_write_at)
            .sort()
            .at(-1) ?? null;
        return { known: true, since_lsn: since, tables: step.tables, last_write_at: last };
      }
      if (Date.now() >= deadline) throw Object.assign(new Error("out of time"), { code: "57014" });
    }
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "57014" || code === "55P03") {
      return {
        known: false,
        reason: `still counting: production wrote more since than can be decoded within ${opts.timeoutSeconds} s (what was counted is kept; the next read goes on from it, and the job counts it all when it runs)`,
        transient: true,
      };
    }
    return { known: false, reason: `the slot could not be read: ${errorMessage(err)}`, transient: true };
  } finally {
    await counter?.close();
  }
}

/** What was counted of a slot goes with it. */
export async function forgetSlotCounts(ctx: AppContext, project: ProjectRow, slot: string): Promise<void> {
  await ctx.db.query("DELETE FROM slot_counts WHERE project_id = $1 AND slot = $2", [project.id, slot]);
}

/** As the API shows it, read now. */
export function toApiWrites(w: WritesSinceOrigin): ApiWrites {
  const as_of = new Date().toISOString();
  return w.known
    ? { known: true, reason: null, since_lsn: w.since_lsn, as_of, last_write_at: w.last_write_at, tables: w.tables }
    : { known: false, reason: w.reason, since_lsn: null, as_of, last_write_at: null, tables: [] };
}
