// Origins of previews' data on the instance engine: the logical slot each snapshot of a
// project is recovered to exactly (made in instance-snapshot.ts), kept while the snapshot or
// a live preview cloned from it may still be promoted, and what production wrote since.
import type { WritesSinceOrigin as ApiWrites } from "@capydb/api";
import type { AppContext } from "../context.js";
import { dropOriginSlot, listOriginSlots, peekOriginWrites, type OriginWrites } from "../platform/dataplane/privileged.js";
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
      if (!inUse.has(slot)) await dropOriginSlot(ctx.clusters, project.cluster_id, project.database_name, slot);
    }
  } catch (err) {
    ctx.log.warn({ project_id: project.id, err: errorMessage(err) }, "origin slots could not be released");
  }
}

/** Production's writes since the preview's origin, read (not consumed) from its slot. */
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

/** Production's writes a slot of its instance has decoded since `since` (its start), read, not consumed. */
export async function writesFromSlot(
  ctx: AppContext,
  project: ProjectRow,
  slot: string,
  since: string,
  opts: CountOptions = JOB_COUNT,
): Promise<WritesSinceOrigin> {
  try {
    const tables = await peekOriginWrites(ctx.clusters, project.cluster_id, project.database_name, slot, opts.timeoutSeconds);
    if (!tables) return { known: false, reason: "the slot is gone or held back more WAL than CAPYDB_ORIGIN_SLOT_WAL_KEEP_MB allows: the count is lost" };
    const last =
      tables
        .map((t) => t.last_write_at)
        .sort()
        .at(-1) ?? null;
    return { known: true, since_lsn: since, tables, last_write_at: last };
  } catch (err) {
    if ((err as { code?: string }).code === "57014") {
      return {
        known: false,
        reason: `not counted now: production wrote more since than can be decoded within ${opts.timeoutSeconds} s; the job counts it when it runs`,
        transient: true,
      };
    }
    return { known: false, reason: `the slot could not be read: ${errorMessage(err)}`, transient: true };
  }
}

/** As the API shows it, read now. */
export function toApiWrites(w: WritesSinceOrigin): ApiWrites {
  const as_of = new Date().toISOString();
  return w.known
    ? { known: true, reason: null, since_lsn: w.since_lsn, as_of, last_write_at: w.last_write_at, tables: w.tables }
    : { known: false, reason: w.reason, since_lsn: null, as_of, last_write_at: null, tables: [] };
}
