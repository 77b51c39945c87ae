// Schema diffs of previews: asking for one (a job) and reading the latest.
import type { SchemaDiff } from "@capydb/api";
import type { AppContext } from "../context.js";
import { jobs } from "../jobs/catalogue.js";
import { conflict, notFound, previewStateConflict } from "../http/errors.js";
import { enqueue } from "../platform/jobs/define.js";
import type { JobRow } from "../platform/jobs/types.js";
import type { PreviewRow } from "../previews/store.js";
import { loadSchemaDiff, type SchemaDiffRow } from "./store.js";

export function toApiSchemaDiff(row: SchemaDiffRow): SchemaDiff {
  return { created_at: row.created_at.toISOString(), base: "production", statements: row.statements, summary: row.summary };
}

export async function requestSchemaDiff(ctx: AppContext, preview: PreviewRow): Promise<JobRow> {
  if (["deleting", "deleted", "promoted"].includes(preview.state)) throw previewStateConflict(preview.state, `preview is ${preview.state}`);
  if (preview.state !== "ready") throw conflict(`preview is ${preview.state}: a schema diff needs it ready`, "preview_not_ready");
  return enqueue(
    ctx.db,
    jobs.previewSchemaDiff,
    { organizationId: preview.organization_id, projectId: preview.project_id, previewDatabaseId: preview.id, clusterId: preview.cluster_id },
    {},
    { maxAttempts: ctx.config.jobMaxAttempts },
  );
}

export async function latestSchemaDiff(ctx: AppContext, preview: PreviewRow): Promise<SchemaDiff> {
  const row = await loadSchemaDiff(ctx.db, preview.id);
  if (!row) throw notFound(`preview ${preview.id} has no schema diff yet: POST /v1/preview-databases/${preview.id}/schema-diff first`);
  return toApiSchemaDiff(row);
}
