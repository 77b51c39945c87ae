// Preview databases: rows, API objects, and the operations the routes call.
import type { PreviewDatabase } from "@capydb/api";
import { jobs } from "../jobs/catalogue.js";
import { enqueue, type JobDefinition } from "../platform/jobs/define.js";
import { names } from "../platform/dataplane/names.js";
import { MAX_PREVIEW_TTL_SECONDS } from "@capydb/api";
import type { z } from "zod";
import type { CreatePreviewRequest } from "@capydb/api";
import type { AppContext } from "../context.js";
import { tenantConnectionUri } from "../platform/dataplane/connection-uri.js";
import type { Principal } from "../http/auth.js";
import { canAccess } from "../http/auth.js";
import { badRequest, conflict, notFound, previewStateConflict, projectStateConflict } from "../http/errors.js";
import { inTransaction, type Queryable } from "../platform/store/db.js";
import { newId, newPassword } from "../platform/secrets.js";
import type { JobRow } from "../platform/jobs/types.js";
import { admitConnections, slotsOf } from "../projects/service.js";
import { type ProjectRow } from "../projects/store.js";
import { ceilingsFor, whereSet, type Ceilings } from "../platform/quotas.js";
import { loadBackup, type BackupRow } from "../backups/service.js";

export const DEFAULT_PREVIEW_TTL_SECONDS = 7 * 24 * 3600;

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

export function toApiPreview(r: PreviewRow): PreviewDatabase {
  return {
    id: r.id,
    project_id: r.project_id,
    name: r.name,
    state: r.state,
    mode: r.mode,
    source_kind: r.source_kind,
    source_database: r.source_database,
    source_backup_key: r.source_backup_key,
    source_restore_time: r.source_restore_time ? r.source_restore_time.toISOString() : null,
    database_name: r.database_name,
    role_name: r.role_name,
    public_host: r.public_host,
    direct_port: r.direct_port,
    pooled_port: r.pooled_port,
    ssl_mode: r.ssl_mode,
    ttl_expires_at: r.ttl_expires_at.toISOString(),
    last_error: r.last_error,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}

export async function loadPreview(db: Queryable, id: string): Promise<PreviewRow | null> {
  const { rows } = await db.query<PreviewRow>({ name: "load_preview", text: `${SELECT_PREVIEW} WHERE v.id = $1`, values: [id] });
  return rows[0] ?? null;
}

export async function previewFor(ctx: AppContext, principal: Principal, id: string): Promise<PreviewRow> {
  const row = await loadPreview(ctx.db, id);
  if (!row || !canAccess(principal, row.organization_id, row.project_id)) throw notFound(`preview database ${id} not found`);
  return row;
}

export async function listPreviews(ctx: AppContext, project: ProjectRow, includeDeleted: boolean): Promise<PreviewRow[]> {
  const { rows } = await ctx.db.query<PreviewRow>(
    `${SELECT_PREVIEW} WHERE v.project_id = $1 ${includeDeleted ? "" : "AND v.state NOT IN ('deleted', 'promoted')"} ORDER BY v.created_at DESC, v.id`,
    [project.id],
  );
  return rows;
}

function enqueuePreviewJob<P>(
  tx: Queryable,
  ctx: AppContext,
  preview: { id: string; project_id: string; organization_id: string; cluster_id: string },
  definition: JobDefinition<P>,
  jobId: string,
  payload: P,
) {
  return enqueue(
    tx,
    definition,
    {
      organizationId: preview.organization_id,
      projectId: preview.project_id,
      previewDatabaseId: preview.id,
      clusterId: preview.cluster_id,
    },
    payload,
    { id: jobId, maxAttempts: ctx.config.jobMaxAttempts },
  );
}

export async function createPreview(
  ctx: AppContext,
  project: ProjectRow,
  body: z.infer<typeof CreatePreviewRequest>,
): Promise<{ preview: PreviewRow; job: JobRow }> {
  if (project.state !== "ready") throw projectStateConflict(project.state, `project is ${project.state}: previews can be created once it is ready`);
  const sourceKind = body.source_kind ?? "project";
  const mode = body.mode ?? "full";
  let backup: BackupRow | null = null;
  if (sourceKind === "backup") {
    if (!body.backup_id) throw badRequest('backup_id: is required when source_kind is "backup"');
    backup = await loadBackup(ctx.db, body.backup_id);
    if (!backup || backup.project_id !== project.id) throw badRequest(`backup_id: backup ${body.backup_id} does not exist in this project`);
    if (backup.state !== "completed" || !backup.backup_key) throw badRequest(`backup_id: backup ${backup.id} is ${backup.state}, not completed`);
    if (backup.verification_state === "failed") throw badRequest(`backup_id: backup ${backup.id} failed verification and cannot be used`);
    if (body.mode === "schema_only") throw badRequest("mode: a preview from a backup holds the backup's schema and data; omit mode");
  } else if (body.backup_id) {
    throw badRequest('backup_id: only allowed when source_kind is "backup"');
  }
  if (sourceKind === "empty" && body.mode === "schema_only") throw badRequest("mode: an empty preview has no schema to copy; omit mode");
  const ceilings = await ceilingsFor(ctx.db, ctx.config.plans, project.organization_id, project.plan);
  const lifetime = ceilings.quotas.max_preview_lifetime_seconds;
  if (body.ttl_seconds !== undefined && body.ttl_seconds > lifetime) {
    throw badRequest(
      `ttl_seconds: a preview lives at most ${lifetime} seconds ${whereSet(ceilings, "max_preview_lifetime_seconds")}`,
      "preview_lifetime_exceeded",
    );
  }
  const ttl = body.ttl_seconds ?? Math.min(DEFAULT_PREVIEW_TTL_SECONDS, lifetime);
  // The preview's role gets at most the project's own limit.
  const connections = Math.min(project.max_connections, ceilings.quotas.preview_max_connections);
  const slots = await slotsOf(ctx, project.cluster_id);
  const id = newId("pdb");
  const short = id.slice(4, 12);
  const name = body.name ?? `preview-${short}`;
  const databaseName = names.previewDatabase(project.database_name, id);
  try {
    return await inTransaction(ctx.db, async (tx) => {
      // Serialise creates per project so the live-preview limit holds under concurrency.
      await tx.query("SELECT 1 FROM projects WHERE id = $1 FOR UPDATE", [project.id]);
      const live = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM preview_databases WHERE project_id = $1 AND state IN ${LIVE}`, [project.id]);
      const limit = ceilings.quotas.previews_per_project;
      if (live.rows[0].n >= limit) {
        throw conflict(
          `project has ${live.rows[0].n} live previews, the limit is ${limit} ${whereSet(ceilings, "previews_per_project")}: delete one first`,
          "preview_limit_reached",
        );
      }
      await admitConnections(tx, slots, project.cluster_id, connections, `preview: its role's ${connections} connections`);
      const jobId = newId("job");
      await tx.query(
        `INSERT INTO preview_databases (id, project_id, organization_id, name, state, mode, source_kind, source_database, cluster_id,
           database_name, role_name, role_password_sealed, ttl_seconds, ttl_expires_at, latest_job_id,
           source_backup_id, source_backup_key, source_restore_time, max_connections)
         VALUES ($1, $2, $3, $4, 'creating', $5, $6, $7, $8, $9, $10, $11, $12::int, now() + make_interval(secs => $12::int), $13, $14, $15, $16, $17)`,
        [
          id,
          project.id,
          project.organization_id,
          name,
          mode,
          sourceKind,
          sourceKind === "empty" ? null : project.database_name,
          project.cluster_id,
          databaseName,
          names.ownerRole(databaseName),
          ctx.box.seal(newPassword()),
          ttl,
          jobId,
          backup?.id ?? null,
          backup?.backup_key ?? null,
          backup?.snapshot_at ?? null,
          connections,
        ],
      );
      const job = await enqueuePreviewJob(
        tx,
        ctx,
        { id, project_id: project.id, organization_id: project.organization_id, cluster_id: project.cluster_id },
        jobs.previewCreate,
        jobId,
        { fresh: body.fresh ?? false },
      );
      return { preview: (await loadPreview(tx, id))!, job };
    });
  } catch (err) {
    if ((err as { code?: string; constraint?: string }).constraint === "preview_databases_live_name_uniq") {
      throw conflict(`name: a live preview named "${name}" already exists in this project`, "preview_name_taken");
    }
    throw err;
  }
}

export async function resetPreview(ctx: AppContext, preview: PreviewRow, fresh: boolean): Promise<JobRow> {
  if (!["ready", "resetting", "creating"].includes(preview.state))
    throw previewStateConflict(preview.state, `preview is ${preview.state}: only a ready preview can be reset`);
  return inTransaction(ctx.db, async (tx) => {
    const jobId = newId("job");
    const locked = await tx.query<{ state: string }>("SELECT state FROM preview_databases WHERE id = $1 FOR UPDATE", [preview.id]);
    if (["deleting", "deleted", "promoted"].includes(locked.rows[0].state))
      throw previewStateConflict(locked.rows[0].state, `preview is ${locked.rows[0].state}`);
    await tx.query("UPDATE preview_databases SET latest_job_id = $2, updated_at = now() WHERE id = $1", [preview.id, jobId]);
    return enqueuePreviewJob(tx, ctx, preview, jobs.previewReset, jobId, { fresh });
  });
}

/**
 * The new expiry is ttl_seconds (default: the preview's own TTL) from now, but never past
 * its plan's maximum lifetime from its creation: a preview cannot be kept for ever by
 * extending it (400, saying until when it can be kept).
 */
export async function extendPreview(ctx: AppContext, preview: PreviewRow, ttlSeconds: number | undefined): Promise<PreviewRow> {
  if (["deleting", "deleted", "promoted"].includes(preview.state)) throw previewStateConflict(preview.state, `preview is ${preview.state}`);
  const ttl = Math.min(ttlSeconds ?? preview.ttl_seconds, MAX_PREVIEW_TTL_SECONDS);
  const project = await ctx.db.query<{ plan: string }>("SELECT plan FROM projects WHERE id = $1", [preview.project_id]);
  const ceilings = await ceilingsFor(ctx.db, ctx.config.plans, preview.organization_id, project.rows[0]?.plan ?? "free");
  const lifetime = ceilings.quotas.max_preview_lifetime_seconds;
  const latest = new Date(preview.created_at.getTime() + lifetime * 1000);
  const { rows } = await ctx.db.query<{ id: string }>(
    `UPDATE preview_databases SET ttl_expires_at = now() + make_interval(secs => $2), updated_at = now()
     WHERE id = $1 AND now() + make_interval(secs => $2) <= $3 RETURNING id`,
    [preview.id, ttl, latest],
  );
  if (!rows[0]) throw badRequest(lifetimeExceeded(ceilings, lifetime, latest), "preview_lifetime_exceeded");
  return (await loadPreview(ctx.db, preview.id))!;
}

function lifetimeExceeded(ceilings: Ceilings, lifetime: number, latest: Date): string {
  const left = Math.floor((latest.getTime() - Date.now()) / 1000);
  const advice = left >= 60 ? `ttl_seconds at most ${left} now` : "it cannot be extended any more: create a new preview";
  return (
    `ttl_seconds: a preview lives at most ${lifetime} seconds from its creation ${whereSet(ceilings, "max_preview_lifetime_seconds")}; ` +
    `this one can be kept until ${latest.toISOString()} (${advice})`
  );
}

/**
 * Deleting is idempotent for retrying clients: a preview already being deleted or
 * deleted answers its delete job (the same job id every time).
 */
export async function deletePreview(ctx: AppContext, preview: PreviewRow): Promise<JobRow> {
  return inTransaction(ctx.db, async (tx) => {
    const locked = await tx.query<{ state: string }>("SELECT state FROM preview_databases WHERE id = $1 FOR UPDATE", [preview.id]);
    const state = locked.rows[0].state;
    if (state === "deleting" || state === "deleted") {
      const { rows } = await tx.query<JobRow>(
        "SELECT * FROM jobs WHERE preview_database_id = $1 AND type = 'preview.delete' ORDER BY created_at DESC LIMIT 1",
        [preview.id],
      );
      if (rows[0]) return rows[0];
    }
    if (state === "promoted") throw conflict("preview was promoted to production and no longer exists as a preview", "preview_deleted");
    const jobId = newId("job");
    await tx.query("UPDATE preview_databases SET state = 'deleting', latest_job_id = $2, updated_at = now() WHERE id = $1", [preview.id, jobId]);
    return enqueuePreviewJob(tx, ctx, preview, jobs.previewDelete, jobId, {});
  });
}

export function previewConnectionUri(ctx: AppContext, p: PreviewRow, pooled: boolean): string {
  return tenantConnectionUri(ctx.box, p, pooled);
}

/** Live preview databases of a cluster, for the PgBouncer config. */
export async function previewDatabases(db: Queryable, clusterId: string): Promise<Array<{ database: string; role: string }>> {
  const { rows } = await db.query<{ database: string; role: string }>(
    "SELECT database_name AS database, role_name AS role FROM preview_databases WHERE cluster_id = $1 AND state IN ('creating', 'ready', 'resetting')",
    [clusterId],
  );
  return rows;
}

/** The scheduler's sweep: previews past their TTL get a delete job (once). */
export async function expirePreviews(ctx: AppContext): Promise<number> {
  const { rows } = await ctx.db.query<PreviewRow>(
    `SELECT v.*, '' AS public_host, 0 AS direct_port, 0 AS pooled_port, '' AS ssl_mode FROM preview_databases v
     WHERE ttl_expires_at < now() AND state IN ('creating', 'ready', 'resetting', 'failed') LIMIT 100`,
  );
  for (const preview of rows) await deletePreview(ctx, preview);
  return rows.length;
}
