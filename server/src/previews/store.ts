// The preview tables (preview_databases, project_snapshots, preview_spares): row types,
// state constants and every statement that reads or writes them (one writer per table).
import type { PreviewDatabase } from "@capydb/api";
import type { Queryable } from "../platform/store/db.js";
import { listRows, type Listed, type Page } from "../http/pagination.js";
import type { RequestedBy } from "../platform/requested-by.js";

// ---- preview_databases ----

export interface PreviewRow {
  id: string;
  project_id: string;
  organization_id: string;
  name: string;
  state: PreviewDatabase["state"];
  mode: PreviewDatabase["mode"];
  source_kind: PreviewDatabase["source_kind"];
  source_backup_id: string | null;
  source_backup_key: string | null;
  source_database: string | null;
  source_restore_time: Date | null;
  /** Made from the project's masked snapshot (or holds no production rows); masking_verified_at: when the masked data was proven. */
  masked: boolean;
  /** Instance engine: the origin slot of the snapshot its data was cloned from (writes since the origin), and its point; origin_error when there is none. */
  origin_slot: string | null;
  origin_lsn: string | null;
  origin_error: string | null;
  masking_verified_at: Date | null;
  cluster_id: string;
  database_name: string;
  role_name: string;
  role_password_sealed: string;
  ttl_seconds: number;
  ttl_expires_at: Date;
  /** The connection limit of the preview's role (null on previews made before it was recorded: the project's). */
  max_connections: number | null;
  latest_job_id: string | null;
  last_error: string | null;
  /** Who asked for it (null on previews made before it was recorded). */
  requested_by_actor_kind: PreviewDatabase["requested_by_actor_kind"];
  requested_by_actor_id: string | null;
  requested_by_pr_number: number | null;
  requested_by_sha: string | null;
  created_at: Date;
  updated_at: Date;
  public_host: string;
  direct_port: number;
  pooled_port: number;
  ssl_mode: string;
}

const SELECT_PREVIEW = `SELECT v.*, c.public_host, c.direct_port, c.pooled_port, c.ssl_mode FROM preview_databases v JOIN clusters c ON c.id = v.cluster_id`;
/** States in which a preview counts as live (against the limit, and for its name). */
const LIVE = "('creating', 'ready', 'resetting', 'failed', 'deleting')";
/** States of a preview that is over: not listed unless asked for (its row stays). */
const OVER = "('deleted', 'promoted')";
/** States in which a preview's database is in place: PgBouncer serves it, the reconciler expects it. */
const IN_PLACE = "('creating', 'ready', 'resetting')";
/** States a preview past its TTL is deleted from (those of the expiry index). */
const EXPIRABLE = "('creating', 'ready', 'resetting', 'failed')";
/** States in which a preview's role is no longer needed. */
const RETIRED = "('deleted', 'failed', 'promoted')";

export async function loadPreview(db: Queryable, id: string): Promise<PreviewRow | null> {
  const { rows } = await db.query<PreviewRow>({ name: "load_preview", text: `${SELECT_PREVIEW} WHERE v.id = $1`, values: [id] });
  return rows[0] ?? null;
}

/** A project's previews, newest first; deleted and promoted ones only when asked for. All of them, or one page. */
export async function listProjectPreviews(db: Queryable, projectId: string, includeDeleted: boolean, page: Page | null = null): Promise<Listed<PreviewRow>> {
  const where = ["v.project_id = $1", ...(includeDeleted ? [] : [`v.state NOT IN ${OVER}`])];
  return listRows<PreviewRow>(db, { base: SELECT_PREVIEW, where, params: [projectId], createdAt: "v.created_at", id: "v.id", idOrder: "ASC" }, page);
}

/** Previews past their TTL that still have to be deleted (without the cluster's columns). */
export async function listExpiredPreviews(db: Queryable): Promise<PreviewRow[]> {
  const { rows } = await db.query<PreviewRow>(
    `SELECT v.*, '' AS public_host, 0 AS direct_port, 0 AS pooled_port, '' AS ssl_mode FROM preview_databases v
     WHERE ttl_expires_at < now() AND state IN ${EXPIRABLE} LIMIT 100`,
  );
  return rows;
}

/** The previews of a project not deleted yet, for dropping them with the project. */
export async function listUndeletedPreviews(
  db: Queryable,
  projectId: string,
): Promise<Array<{ id: string; cluster_id: string; database_name: string; role_name: string }>> {
  const { rows } = await db.query<{ id: string; cluster_id: string; database_name: string; role_name: string }>(
    "SELECT id, cluster_id, database_name, role_name FROM preview_databases WHERE project_id = $1 AND state <> 'deleted'",
    [projectId],
  );
  return rows;
}

export async function countLivePreviews(db: Queryable, projectId: string): Promise<number> {
  const live = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM preview_databases WHERE project_id = $1 AND state IN ${LIVE}`, [projectId]);
  return live.rows[0].n;
}

/** Live preview databases of a cluster, for the PgBouncer config. */
export async function previewDatabases(db: Queryable, clusterId: string): Promise<Array<{ database: string; role: string }>> {
  const { rows } = await db.query<{ database: string; role: string }>(
    `SELECT database_name AS database, role_name AS role FROM preview_databases WHERE cluster_id = $1 AND state IN ${IN_PLACE}`,
    [clusterId],
  );
  return rows;
}

/** The roles of a cluster's previews that are over, with their project. */
export async function retiredPreviewRoles(db: Queryable, clusterId: string): Promise<Array<{ role: string; project_id: string }>> {
  const { rows } = await db.query<{ role: string; project_id: string }>(
    `SELECT role_name AS role, project_id FROM preview_databases WHERE cluster_id = $1 AND state IN ${RETIRED}`,
    [clusterId],
  );
  return rows;
}

/** Every database of a cluster the previews resource keeps: previews in place, snapshots, spares. */
export async function expectedPreviewDatabases(db: Queryable, clusterId: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT database_name AS name FROM preview_databases WHERE cluster_id = $1 AND state IN ${IN_PLACE}
       UNION ALL SELECT database_name FROM project_snapshots WHERE cluster_id = $1
       UNION ALL SELECT database_name FROM preview_spares WHERE cluster_id = $1`,
    [clusterId],
  );
  return rows.map((r) => r.name);
}

export interface NewPreview {
  id: string;
  project_id: string;
  organization_id: string;
  name: string;
  mode: PreviewDatabase["mode"];
  source_kind: PreviewDatabase["source_kind"];
  source_database: string | null;
  cluster_id: string;
  database_name: string;
  role_name: string;
  role_password_sealed: string;
  ttl_seconds: number;
  latest_job_id: string;
  source_backup_id: string | null;
  source_backup_key: string | null;
  source_restore_time: Date | null;
  max_connections: number;
  masked: boolean;
  requested_by: RequestedBy;
}

/** A new preview, 'creating', expiring ttl_seconds from now (a name taken by a live preview fails on preview_databases_live_name_uniq). */
export async function insertPreview(db: Queryable, p: NewPreview): Promise<void> {
  await db.query(
    `INSERT INTO preview_databases (id, project_id, organization_id, name, state, mode, source_kind, source_database, cluster_id,
       database_name, role_name, role_password_sealed, ttl_seconds, ttl_expires_at, latest_job_id,
       source_backup_id, source_backup_key, source_restore_time, max_connections, masked,
       requested_by_actor_kind, requested_by_actor_id, requested_by_pr_number, requested_by_sha)
     VALUES ($1, $2, $3, $4, 'creating', $5, $6, $7, $8, $9, $10, $11, $12::int, now() + make_interval(secs => $12::int), $13, $14, $15, $16, $17, $18,
       $19, $20, $21, $22)`,
    [
      p.id,
      p.project_id,
      p.organization_id,
      p.name,
      p.mode,
      p.source_kind,
      p.source_database,
      p.cluster_id,
      p.database_name,
      p.role_name,
      p.role_password_sealed,
      p.ttl_seconds,
      p.latest_job_id,
      p.source_backup_id,
      p.source_backup_key,
      p.source_restore_time,
      p.max_connections,
      p.masked,
      p.requested_by.actorKind,
      p.requested_by.actorId,
      p.requested_by.prNumber,
      p.requested_by.sha,
    ],
  );
}

/** Locks the preview's row for the transaction and answers its state. */
export async function lockPreviewState(tx: Queryable, previewId: string): Promise<PreviewRow["state"]> {
  const locked = await tx.query<{ state: PreviewRow["state"] }>("SELECT state FROM preview_databases WHERE id = $1 FOR UPDATE", [previewId]);
  return locked.rows[0].state;
}

/** Records the job now working on the preview (shown as its latest_job_id). */
export async function recordPreviewLatestJob(db: Queryable, previewId: string, jobId: string): Promise<void> {
  await db.query("UPDATE preview_databases SET latest_job_id = $2, updated_at = now() WHERE id = $1", [previewId, jobId]);
}

/** Moves the expiry ttlSeconds from now unless that is past `latest`; answers whether it moved. */
export async function extendPreviewExpiry(db: Queryable, previewId: string, ttlSeconds: number, latest: Date): Promise<boolean> {
  const { rows } = await db.query<{ id: string }>(
    `UPDATE preview_databases SET ttl_expires_at = now() + make_interval(secs => $2), updated_at = now()
     WHERE id = $1 AND now() + make_interval(secs => $2) <= $3 RETURNING id`,
    [previewId, ttlSeconds, latest],
  );
  return rows.length > 0;
}

export async function markPreviewDeleting(db: Queryable, previewId: string, jobId: string): Promise<void> {
  await db.query("UPDATE preview_databases SET state = 'deleting', latest_job_id = $2, updated_at = now() WHERE id = $1", [previewId, jobId]);
}

/** The instant whose data the preview's build holds. */
export async function recordPreviewDataTime(db: Queryable, previewId: string, at: Date | null): Promise<void> {
  await db.query("UPDATE preview_databases SET source_restore_time = $2, updated_at = now() WHERE id = $1", [previewId, at]);
}

export async function markPreviewReady(db: Queryable, previewId: string): Promise<void> {
  await db.query("UPDATE preview_databases SET state = 'ready', last_error = NULL, updated_at = now() WHERE id = $1 AND state = 'creating'", [previewId]);
}

/** When the preview's masked data was proven (its masked snapshot's check against production). */
export async function recordMaskingVerified(db: Queryable, previewId: string, at: Date): Promise<void> {
  await db.query("UPDATE preview_databases SET masking_verified_at = $2 WHERE id = $1", [previewId, at]);
}

export async function markPreviewFailed(db: Queryable, previewId: string, error: string): Promise<void> {
  await db.query("UPDATE preview_databases SET state = 'failed', last_error = $2, updated_at = now() WHERE id = $1", [previewId, error]);
}

export async function markPreviewResetting(db: Queryable, previewId: string): Promise<void> {
  await db.query("UPDATE preview_databases SET state = 'resetting', updated_at = now() WHERE id = $1", [previewId]);
}

export async function markPreviewReset(db: Queryable, previewId: string, at: Date | null): Promise<void> {
  await db.query("UPDATE preview_databases SET state = 'ready', source_restore_time = $2, last_error = NULL, updated_at = now() WHERE id = $1", [
    previewId,
    at,
  ]);
}

/** A failed reset leaves the preview ready with its old data, and says why. */
export async function markPreviewResetFailed(db: Queryable, previewId: string, error: string): Promise<void> {
  await db.query("UPDATE preview_databases SET state = 'ready', last_error = $2, updated_at = now() WHERE id = $1 AND state = 'resetting'", [previewId, error]);
}

export async function markPreviewDeleted(db: Queryable, previewId: string): Promise<void> {
  await db.query("UPDATE preview_databases SET state = 'deleted', deleted_at = now(), updated_at = now() WHERE id = $1", [previewId]);
}

/** Deleted with its project: a promoted preview keeps its state (its database is production's now). */
export async function markPreviewDeletedUnlessPromoted(db: Queryable, previewId: string): Promise<void> {
  await db.query("UPDATE preview_databases SET state = 'deleted', deleted_at = now(), updated_at = now() WHERE id = $1 AND state <> 'promoted'", [previewId]);
}

export async function recordPreviewError(db: Queryable, previewId: string | null, error: string): Promise<void> {
  await db.query("UPDATE preview_databases SET last_error = $2, updated_at = now() WHERE id = $1", [previewId, error]);
}

/** A cutover made this preview's database production's: the preview is over. */
export async function markPreviewPromoted(db: Queryable, previewId: string): Promise<void> {
  await db.query("UPDATE preview_databases SET state = 'promoted', updated_at = now() WHERE id = $1", [previewId]);
}

// ---- project_snapshots ----

export interface SnapshotRow {
  database_name: string;
  generation: number;
  taken_at: Date;
  /** Instance engine: the logical slot production's writes since this snapshot are decoded from, and its consistent point (null: no origin, origin_error says why). */
  origin_slot: string | null;
  origin_lsn: string | null;
  origin_error: string | null;
}

export async function loadSnapshot(db: Queryable, projectId: string): Promise<SnapshotRow | undefined> {
  const { rows } = await db.query<SnapshotRow>(
    "SELECT database_name, generation, taken_at, origin_slot, origin_lsn::text, origin_error FROM project_snapshots WHERE project_id = $1",
    [projectId],
  );
  return rows[0];
}

/** Loads the project's snapshot and records that a clone is made from it now (snapshots in use are refreshed ahead). */
export async function useSnapshot(db: Queryable, projectId: string): Promise<SnapshotRow | undefined> {
  const { rows } = await db.query<SnapshotRow>(
    "UPDATE project_snapshots SET last_used_at = now() WHERE project_id = $1 RETURNING database_name, generation, taken_at, origin_slot, origin_lsn::text, origin_error",
    [projectId],
  );
  return rows[0];
}

export async function nextSnapshotGeneration(db: Queryable): Promise<number> {
  return (await db.query<{ g: number }>("SELECT nextval('snapshot_generations')::int AS g")).rows[0].g;
}

/** Records the project's new snapshot generation in place of the previous one. */
export async function recordSnapshot(
  db: Queryable,
  s: {
    project_id: string;
    cluster_id: string;
    database_name: string;
    generation: number;
    taken_at: Date;
    snapshot_dir?: string;
    snapshot_lsn?: string;
    origin?: { slot: string | null; lsn: string | null; error: string | null };
  },
): Promise<void> {
  // on the instance engine database_name and snapshot_dir both name the snapshot's directory
  await db.query(
    `INSERT INTO project_snapshots (project_id, cluster_id, database_name, generation, taken_at, snapshot_dir, snapshot_lsn, origin_slot, origin_lsn, origin_error)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (project_id) DO UPDATE SET database_name = EXCLUDED.database_name, generation = EXCLUDED.generation,
       taken_at = EXCLUDED.taken_at, snapshot_dir = EXCLUDED.snapshot_dir, snapshot_lsn = EXCLUDED.snapshot_lsn,
       origin_slot = EXCLUDED.origin_slot, origin_lsn = EXCLUDED.origin_lsn, origin_error = EXCLUDED.origin_error, created_at = now()`,
    [
      s.project_id,
      s.cluster_id,
      s.database_name,
      s.generation,
      s.taken_at,
      s.snapshot_dir ?? null,
      s.snapshot_lsn ?? null,
      s.origin?.slot ?? null,
      s.origin?.lsn ?? null,
      s.origin?.error ?? null,
    ],
  );
}

/** The origin of a preview's data (the snapshot's it was cloned from), or none with why. */
export async function recordPreviewOrigin(
  db: Queryable,
  previewId: string,
  origin: { slot: string | null; lsn: string | null; error: string | null },
): Promise<void> {
  await db.query("UPDATE preview_databases SET origin_slot = $2, origin_lsn = $3, origin_error = $4 WHERE id = $1", [
    previewId,
    origin.slot,
    origin.lsn,
    origin.error,
  ]);
}

/** The origin slots a project still needs: its snapshot's and those of its previews that are not gone. */
export async function originSlotsInUse(db: Queryable, projectId: string): Promise<Set<string>> {
  const { rows } = await db.query<{ slot: string }>(
    `SELECT origin_slot AS slot FROM project_snapshots WHERE project_id = $1 AND origin_slot IS NOT NULL
     UNION SELECT origin_slot FROM preview_databases WHERE project_id = $1 AND origin_slot IS NOT NULL AND state NOT IN ('deleted', 'deleting', 'promoted')`,
    [projectId],
  );
  return new Set(rows.map((r) => r.slot));
}

/** Forgets the project's snapshot, answering its database (to drop). */
export async function deleteSnapshot(db: Queryable, projectId: string): Promise<string[]> {
  const { rows } = await db.query<{ database_name: string }>("DELETE FROM project_snapshots WHERE project_id = $1 RETURNING database_name", [projectId]);
  return rows.map((r) => r.database_name);
}

/**
 * Snapshots of ready projects that are about to reach their maximum age (taken more than
 * olderThanSeconds ago) and were cloned from within inUseSeconds, with no refresh job
 * (refreshJobType) pending or running.
 */
export async function listSnapshotsToRefresh(
  db: Queryable,
  olderThanSeconds: number,
  inUseSeconds: number,
  refreshJobType: string,
): Promise<Array<{ project_id: string; organization_id: string; cluster_id: string }>> {
  const { rows } = await db.query<{ project_id: string; organization_id: string; cluster_id: string }>(
    `SELECT s.project_id, p.organization_id, p.cluster_id FROM project_snapshots s JOIN projects p ON p.id = s.project_id
     WHERE p.state = 'ready'
       AND s.taken_at < now() - make_interval(secs => $1)
       AND s.last_used_at > now() - make_interval(secs => $2)
       AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.type = $3 AND j.project_id = s.project_id AND j.state IN ('pending', 'running'))
     LIMIT 50`,
    [olderThanSeconds, inUseSeconds, refreshJobType],
  );
  return rows;
}

/** A snapshot is idle when older than maxAgeSeconds and not cloned from for inUseSeconds. */
const idle = (maxAge: string, inUse: string) =>
  `taken_at < now() - make_interval(secs => ${maxAge}) AND last_used_at < now() - make_interval(secs => ${inUse})`;

/** Projects whose snapshot is idle, a few at a time. */
export async function listIdleSnapshots(db: Queryable, maxAgeSeconds: number, inUseSeconds: number): Promise<string[]> {
  const { rows } = await db.query<{ project_id: string }>(`SELECT project_id FROM project_snapshots WHERE ${idle("$1", "$2")} LIMIT 5`, [
    maxAgeSeconds,
    inUseSeconds,
  ]);
  return rows.map((r) => r.project_id);
}

/** Forgets the project's snapshot if it is still idle, answering its database (none when used or refreshed meanwhile). */
export async function deleteIdleSnapshot(db: Queryable, projectId: string, maxAgeSeconds: number, inUseSeconds: number): Promise<string[]> {
  const { rows } = await db.query<{ database_name: string }>(
    `DELETE FROM project_snapshots WHERE project_id = $1 AND ${idle("$2", "$3")} RETURNING database_name`,
    [projectId, maxAgeSeconds, inUseSeconds],
  );
  return rows.map((r) => r.database_name);
}

// ---- preview_spares ----

/** The project's spare database, if one is recorded. */
export async function loadSpare(db: Queryable, projectId: string): Promise<string | null> {
  const existing = await db.query<{ database_name: string }>("SELECT database_name FROM preview_spares WHERE project_id = $1", [projectId]);
  return existing.rows[0]?.database_name ?? null;
}

/**
 * Takes the project's spare of snapshot `generation`: its row is deleted first, so two
 * jobs never take the same spare. Answers its database, or null when there is none.
 */
export async function claimSpare(db: Queryable, projectId: string, generation: number): Promise<string | null> {
  const { rows } = await db.query<{ database_name: string }>("DELETE FROM preview_spares WHERE project_id = $1 AND generation = $2 RETURNING database_name", [
    projectId,
    generation,
  ]);
  return rows[0]?.database_name ?? null;
}

/** Forgets the project's spares but one of keepGeneration, answering their databases (to drop). */
export async function deleteSpares(db: Queryable, projectId: string, keepGeneration?: number): Promise<string[]> {
  const { rows } = await db.query<{ database_name: string }>(
    "DELETE FROM preview_spares WHERE project_id = $1 AND generation IS DISTINCT FROM $2 RETURNING database_name",
    [projectId, keepGeneration ?? null],
  );
  return rows.map((r) => r.database_name);
}

/**
 * Records the project's spare of snapshot `generation`, only while that generation is
 * still the project's snapshot; answers false when a refresh replaced it meanwhile.
 */
export async function recordSpare(db: Queryable, s: { project_id: string; cluster_id: string; database_name: string; generation: number }): Promise<boolean> {
  const recorded = await db.query(
    `INSERT INTO preview_spares (project_id, cluster_id, database_name, generation)
     SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM project_snapshots WHERE project_id = $1 AND generation = $4)
     ON CONFLICT (project_id) DO UPDATE SET database_name = EXCLUDED.database_name, generation = EXCLUDED.generation, created_at = now()`,
    [s.project_id, s.cluster_id, s.database_name, s.generation],
  );
  return !!recorded.rowCount;
}

/** A preview whose database is in place and which resets from this backup (the backup must stay), if any. */
export async function livePreviewOfBackup(db: Queryable, backupId: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM preview_databases WHERE source_backup_id = $1 AND state IN ${IN_PLACE} LIMIT 1`, [backupId]);
  return rows[0]?.id ?? null;
}
