// Extensions: what a project's database offers, and which of those a tenant may enable.
import type { Extension } from "@capydb/api";
import type { AppContext } from "../context.js";
import { badRequest, projectStateConflict } from "../http/errors.js";
import type { ProjectRow } from "../projects/store.js";
import { withTenantSession } from "../platform/dataplane/tenant-session.js";

interface AvailableRow {
  name: string;
  default_version: string | null;
  comment: string | null;
  installed_version: string | null;
  trusted: boolean;
  superuser: boolean;
}

function requireReady(project: ProjectRow): void {
  if (project.state !== "ready") throw projectStateConflict(project.state, `project is ${project.state}: extensions can be managed once it is ready`);
}

export async function listExtensions(ctx: AppContext, project: ProjectRow): Promise<Extension[]> {
  requireReady(project);
  // Read as the project's own role: nothing here needs more.
  const login = { role: project.role_name, password: ctx.box.open(project.role_password_sealed) };
  const rows = await withTenantSession(
    ctx.clusters,
    project.cluster_id,
    project.database_name,
    login,
    async (c) =>
      (
        await c.query<AvailableRow>(
          `SELECT a.name, a.default_version, a.comment, a.installed_version,
                coalesce(v.trusted, false) AS trusted, coalesce(v.superuser, true) AS superuser
         FROM pg_catalog.pg_available_extensions a
         LEFT JOIN pg_catalog.pg_available_extension_versions v ON v.name OPERATOR(pg_catalog.=) a.name AND v.version OPERATOR(pg_catalog.=) a.default_version
         ORDER BY a.name`,
        )
      ).rows,
    { applicationName: "capydb-extensions", statementTimeoutSeconds: 30 },
  );
  return rows.map((r) => ({
    name: r.name,
    default_version: r.default_version,
    description: r.comment,
    enabled: r.installed_version !== null,
    trusted: r.trusted,
  }));
}

/** Whether an extension exists on the cluster and this platform lets tenants enable it. */
export async function checkEnableable(ctx: AppContext, project: ProjectRow, name: string): Promise<{ trusted: boolean }> {
  requireReady(project);
  const admin = await ctx.clusters.pool(project.cluster_id);
  const { rows } = await admin.query<{ trusted: boolean }>(
    `SELECT coalesce(v.trusted, false) AS trusted
     FROM pg_available_extensions a
     LEFT JOIN pg_available_extension_versions v ON v.name = a.name AND v.version = a.default_version
     WHERE a.name = $1`,
    [name],
  );
  if (!rows[0]) throw badRequest(`name: extension "${name}" is not available on this cluster`);
  const trusted = rows[0].trusted;
  if (!trusted && !ctx.config.extensionAllowlist.includes(name)) {
    throw badRequest(`name: extension "${name}" needs superuser rights and is not on this platform's allowlist (CAPYDB_EXTENSION_ALLOWLIST)`);
  }
  return { trusted };
}
