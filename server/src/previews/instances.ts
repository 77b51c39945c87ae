// Previews on the instance engine: each preview is a PostgreSQL instance of its own,
// a copy-on-write clone of the project's snapshot (a stopped data directory made from
// production's running instance without a logical copy). Creating, resetting and
// deleting cost the same at any size. In the clone, production's database and role are
// renamed to the preview's and the role gets the preview's password: the preview's
// instance holds no other database, role or password hash than its own.
import type { AppContext } from "../context.js";
import type { JobContext } from "../platform/jobs/worker.js";
import { PermanentError } from "../platform/jobs/errors.js";
import { quoteIdent } from "../platform/dataplane/sql.js";
import { databaseExists, ensureLoginRole, roleExists } from "../platform/dataplane/provision.js";
import type { InstanceRow } from "../platform/dataplane/instances/registry.js";
import type { ProjectRow } from "../projects/store.js";
import { recordMaskingVerified, recordPreviewOrigin, type PreviewRow } from "./store.js";
import { withInstanceSnapshot } from "./instance-snapshot.js";
import { releaseUnusedOrigins } from "./origins.js";
import { withMaskedInstanceSnapshot } from "./masked.js";

/** Whether a preview is made by cloning the project's instance snapshot (else: an empty instance, then the usual build). */
export function clonesSnapshot(preview: PreviewRow): boolean {
  return preview.source_kind === "project" && preview.mode === "full";
}

/**
 * In a clone of production, production's database and role become the preview's, and
 * the role gets the preview's password and limits. Runs in the instance's maintenance
 * database (catalog changes only: no tenant code runs). Idempotent.
 */
async function adoptPreviewIdentity(ctx: AppContext, job: JobContext, preview: PreviewRow, project: ProjectRow): Promise<void> {
  const admin = await ctx.clusters.pool(preview.cluster_id);
  if (!(await databaseExists(admin, preview.database_name))) {
    await admin.query(`ALTER DATABASE ${quoteIdent(project.database_name)} RENAME TO ${quoteIdent(preview.database_name)}`);
  }
  if (!(await roleExists(admin, preview.role_name))) {
    await admin.query(`ALTER ROLE ${quoteIdent(project.role_name)} RENAME TO ${quoteIdent(preview.role_name)}`);
  }
  const password = ctx.box.open(preview.role_password_sealed);
  job.addSecret(password);
  await ensureLoginRole(admin, preview.role_name, password, { ...project, max_connections: preview.max_connections ?? project.max_connections });
}

/** The snapshot the preview clones (the masked one for a masked preview), held while fn runs; records when masking was proven. */
async function withPreviewSnapshot<T>(
  ctx: AppContext,
  preview: PreviewRow,
  project: ProjectRow,
  freshSince: Date | null,
  fn: (snapshot: string) => Promise<T>,
): Promise<{ result: T; takenAt: Date }> {
  if (!preview.masked) {
    // the origin is recorded while the snapshot is held: a refresh cannot release its slot in between
    return withInstanceSnapshot(ctx, project, freshSince, async (snapshot, origin) => {
      const result = await fn(snapshot);
      await recordPreviewOrigin(ctx.db, preview.id, origin);
      return result;
    });
  }
  const used = await withMaskedInstanceSnapshot(ctx, project, freshSince, fn);
  await recordMaskingVerified(ctx.db, preview.id, used.verifiedAt);
  await recordPreviewOrigin(ctx.db, preview.id, { slot: null, lsn: null, error: "a masked preview cannot be promoted: no origin is kept for it" });
  return used;
}

async function previewInstance(ctx: AppContext, preview: PreviewRow): Promise<InstanceRow> {
  const row = await ctx.instances!.instanceOf(preview.cluster_id);
  if (!row) throw new PermanentError(`preview ${preview.id} has no instance`);
  return row;
}

/** Makes the preview's instance as a clone of the project's snapshot; answers the instant its data is from (null: made before, by a retried job). */
export async function createFromSnapshot(ctx: AppContext, job: JobContext, preview: PreviewRow, project: ProjectRow, fresh: boolean): Promise<Date | null> {
  const row = await previewInstance(ctx, preview);
  let at: Date | null = null;
  if (!ctx.instances!.host.exists(row.name)) {
    ({ takenAt: at } = await withPreviewSnapshot(ctx, preview, project, fresh ? job.job.created_at : null, (snapshot) =>
      ctx.instances!.ensureFromSnapshot(row, snapshot),
    ));
  }
  await ctx.instances!.host.start(row.name);
  ctx.faults.check("preview.instance.cloned");
  await adoptPreviewIdentity(ctx, job, preview, project);
  return at;
}

/** Replaces the preview's data with a new clone of the snapshot; same instance, port, database, role and password. */
export async function resetFromSnapshot(ctx: AppContext, job: JobContext, preview: PreviewRow, project: ProjectRow, fresh: boolean): Promise<Date> {
  const row = await previewInstance(ctx, preview);
  await ctx.pooler.kill(preview.cluster_id, preview.database_name).catch(() => {});
  const { takenAt } = await withPreviewSnapshot(ctx, preview, project, fresh ? job.job.created_at : null, (snapshot) =>
    ctx.instances!.replaceFromSnapshot(row, snapshot),
  );
  ctx.faults.check("preview.instance.relinked");
  await adoptPreviewIdentity(ctx, job, preview, project);
  await releaseUnusedOrigins(ctx, project); // the origin of the data it had before
  return takenAt;
}

/** Makes the preview's instance empty, from the template (sources other than the project's data build into it as usual). */
export async function createEmptyInstance(ctx: AppContext, preview: PreviewRow): Promise<void> {
  await ctx.instances!.ensureFromTemplate(await previewInstance(ctx, preview));
}

/** Stops and removes the preview's instance. */
export async function destroyPreviewInstance(ctx: AppContext, preview: PreviewRow): Promise<void> {
  const row = await ctx.instances!.instanceOf(preview.cluster_id);
  if (row && row.state === "active") await ctx.instances!.destroy(row);
}
