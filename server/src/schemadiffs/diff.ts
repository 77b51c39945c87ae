// A preview's schema diff against production: migra's statements from production's schema
// (read as the project's role) to the preview's (read as the preview's role), each classified
// with production's real table sizes and column types.
import type { AppContext } from "../context.js";
import type { JobContext } from "../platform/jobs/worker.js";
import { diffSchemas } from "../platform/dataplane/schema-diff.js";
import { tenantEndpoint, withTenantSession } from "../platform/dataplane/tenant-session.js";
import { projectLogin } from "../projects/login.js";
import type { ProjectRow } from "../projects/store.js";
import type { PreviewRow } from "../previews/store.js";
import { classifyAll, summarize, type ProductionFacts, type Statement } from "./risk.js";

/** Production's table sizes and column types, read as the project's role. */
async function productionFacts(ctx: AppContext, job: JobContext, project: ProjectRow): Promise<ProductionFacts> {
  return withTenantSession(ctx.clusters, project.cluster_id, project.database_name, projectLogin(ctx, job, project), async (c) => {
    const tables = await c.query<{ name: string; bytes: string }>(
      `SELECT n.nspname || '.' || c.relname AS name, pg_catalog.pg_total_relation_size(c.oid)::text AS bytes
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
    );
    const columns = await c.query<{ key: string; type: string }>(
      `SELECT n.nspname || '.' || c.relname || '.' || a.attname AS key, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
    );
    const enums = await c.query<{ name: string; labels: string[] }>(
      `SELECT n.nspname || '.' || t.typname AS name, pg_catalog.array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid
        GROUP BY 1`,
    );
    return {
      enums: new Map(enums.rows.map((r) => [r.name, r.labels])),
      tableBytes: new Map(tables.rows.map((r) => [r.name, Number(r.bytes)])),
      columnTypes: new Map(columns.rows.map((r) => [r.key, r.type])),
      bigTableBytes: ctx.config.schemaDiffBigTableBytes,
    };
  });
}

export async function computeSchemaDiff(ctx: AppContext, job: JobContext, project: ProjectRow, preview: PreviewRow): Promise<Statement[]> {
  const previewPassword = ctx.box.open(preview.role_password_sealed);
  job.addSecret(previewPassword);
  const from = await tenantEndpoint(ctx.clusters, project.cluster_id, project.database_name, projectLogin(ctx, job, project));
  const to = await tenantEndpoint(ctx.clusters, preview.cluster_id, preview.database_name, { role: preview.role_name, password: previewPassword });
  const [sql, facts] = await Promise.all([diffSchemas(from, to, job.signal), productionFacts(ctx, job, project)]);
  return classifyAll(sql, facts);
}

export { summarize };
