// Preview databases: API objects, and the operations the routes call (the rows are store.ts's).
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
import type { Listed, Page } from "../http/pagination.js";
import { canAccess, requestedByOf } from "../http/auth.js";
import { badRequest, conflict, notFound, previewStateConflict, projectStateConflict } from "../http/errors.js";
import { inTransaction, type Queryable } from "../platform/store/db.js";
import { newId, newPassword } from "../platform/secrets.js";
import type { JobRow } from "../platform/jobs/types.js";
import { admitConnections, allocateOrRefuse, slotsOf } from "../projects/service.js";
import { type ProjectRow } from "../projects/store.js";
import { ceilingsFor, whereSet, type Ceilings } from "../platform/quotas.js";
import { loadBackup, type BackupRow } from "../backups/store.js";
import { previewMasking } from "../masking/service.js";
import {
  countLivePreviews,
  extendPreviewExpiry,
  insertPreview,
  listExpiredPreviews,
  listProjectPreviews,
  loadPreview,
  lockPreviewState,
  markPreviewDeleting,
  recordPreviewLatestJob,
  type PreviewRow,
} from "./store.js";

// cutovers and server.ts still import these from here (not this resource's files to change).

export const DEFAULT_PREVIEW_TTL_SECONDS = 7 * 24 * 3600;

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
    masked: r.masked,
    masking_verified_at: r.masking_verified_at ? r.masking_verified_at.toISOString() : null,
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
    requested_by_actor_kind: r.requested_by_actor_kind,
    requested_by_actor_id: r.requested_by_actor_id,
    requested_by_pr_number: r.requested_by_pr_number,
    requested_by_sha: r.requested_by_sha,
  };
}

export async function previewFor(ctx: AppContext, principal: Principal, id: string): Promise<PreviewRow> {
  const row = await loadPreview(ctx.db, id);
  if (!row || !canAccess(principal, row.organization_id, row.project_id)) throw notFound(`preview database ${id} not found`);
  return row;
}

export async function listPreviews(ctx: AppContext, project: ProjectRow, includeDeleted: boolean, page: Page | null = null): Promise<Listed<PreviewRow>> {
  return listProjectPreviews(ctx.db, project.id, includeDeleted, page);
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
  principal: Principal,
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
  const masked = await previewMasking(ctx, principal, project, body.masked);
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
      const live = await countLivePreviews(tx, project.id);
      const limit = ceilings.quotas.previews_per_project;
      if (live >= limit) {
        throw conflict(
          `project has ${live} live previews, the limit is ${limit} ${whereSet(ceilings, "previews_per_project")}: delete one first`,
          "preview_limit_reached",
        );
      }
      // On the instance engine a preview is an instance of its own (its slots its own).
      const production = await ctx.instances?.instanceOf(project.cluster_id);
      let clusterId = project.cluster_id;
      if (production) {
        clusterId = (await allocateOrRefuse(() => ctx.instances!.allocate(tx, project.id, "preview", production.max_connections))).cluster_id;
      } else {
        await admitConnections(tx, slots, project.cluster_id, connections, `preview: its role's ${connections} connections`);
      }
      const jobId = newId("job");
      await insertPreview(tx, {
        id,
        project_id: project.id,
        organization_id: project.organization_id,
        name,
        mode,
        source_kind: sourceKind,
        source_database: sourceKind === "empty" ? null : project.database_name,
        cluster_id: clusterId,
        database_name: databaseName,
        role_name: names.ownerRole(databaseName),
        role_password_sealed: ctx.box.seal(newPassword()),
        ttl_seconds: ttl,
        latest_job_id: jobId,
        source_backup_id: backup?.id ?? null,
        source_backup_key: backup?.backup_key ?? null,
        source_restore_time: backup?.snapshot_at ?? null,
        max_connections: connections,
        masked,
        requested_by: requestedByOf(principal),
      });
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
    const state = await lockPreviewState(tx, preview.id);
    if (["deleting", "deleted", "promoted"].includes(state)) throw previewStateConflict(state, `preview is ${state}`);
    await recordPreviewLatestJob(tx, preview.id, jobId);
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
  if (!(await extendPreviewExpiry(ctx.db, preview.id, ttl, latest)))
    throw badRequest(lifetimeExceeded(ceilings, lifetime, latest), "preview_lifetime_exceeded");
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
    const state = await lockPreviewState(tx, preview.id);
    if (state === "deleting" || state === "deleted") {
      const { rows } = await tx.query<JobRow>(
        "SELECT * FROM jobs WHERE preview_database_id = $1 AND type = 'preview.delete' ORDER BY created_at DESC LIMIT 1",
        [preview.id],
      );
      if (rows[0]) return rows[0];
    }
    if (state === "promoted") throw conflict("preview was promoted to production and no longer exists as a preview", "preview_deleted");
    const jobId = newId("job");
    await markPreviewDeleting(tx, preview.id, jobId);
    return enqueuePreviewJob(tx, ctx, preview, jobs.previewDelete, jobId, {});
  });
}

export function previewConnectionUri(ctx: AppContext, p: PreviewRow, pooled: boolean): string {
  return tenantConnectionUri(ctx.box, p, pooled);
}

/** The scheduler's sweep: previews past their TTL get a delete job (once). */
export async function expirePreviews(ctx: AppContext): Promise<number> {
  const rows = await listExpiredPreviews(ctx.db);
  for (const preview of rows) await deletePreview(ctx, preview);
  return rows.length;
}
