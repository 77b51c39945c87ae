// The import preflight: what a person needs to know before importing a database,
// each check pass | warn | fail with a detail they can act on.
import type { AppContext } from "../context.js";
import type { ProjectRow } from "../projects/store.js";
import { withTenantSession } from "../platform/dataplane/tenant-session.js";
import { checkSource, describeConnectError, parseSourceUrl, sourceClient, SourceUrlInvalid, UnresolvableHost, type CheckedSource } from "./source.js";

export interface Check {
  name: string;
  status: "pass" | "warn" | "fail";
  detail: string;
}

export interface PreflightResult {
  checks: Check[];
  ok: boolean;
  source: { database_size_bytes: number; extensions: Array<{ name: string; version: string }>; server_version: string };
  storage_limit_bytes: number;
  target_version: string;
  /** For the import job, not the API: the checked source and its untrusted extensions. */
  checked?: CheckedSource;
}

const CONNECT_TIMEOUT_MS = 5000;

async function targetInfo(ctx: AppContext, project: ProjectRow) {
  const admin = await ctx.clusters.pool(project.cluster_id);
  const v = await admin.query<{ server_version: string; num: string }>(
    "SELECT current_setting('server_version') AS server_version, current_setting('server_version_num') AS num",
  );
  const available = await admin.query<{ name: string; trusted: boolean }>(
    `SELECT a.name, coalesce(v.trusted, false) AS trusted FROM pg_available_extensions a
     LEFT JOIN pg_available_extension_versions v ON v.name = a.name AND v.version = a.default_version`,
  );
  return {
    version: v.rows[0].server_version,
    major: Math.floor(Number(v.rows[0].num) / 10000),
    available: new Map(available.rows.map((r) => [r.name, r.trusted])),
  };
}

/** Project databases hold user tables when not empty: the count, for the "target is empty" check. */
export async function targetTableCount(ctx: AppContext, project: ProjectRow): Promise<number> {
  // Read as the project's own role: a catalog query in a tenant's database is never run as a superuser.
  const login = { role: project.role_name, password: ctx.box.open(project.role_password_sealed) };
  return withTenantSession(
    ctx.clusters,
    project.cluster_id,
    project.database_name,
    login,
    async (c) =>
      Number(
        (
          await c.query<{ n: string }>(
            `SELECT pg_catalog.count(*) AS n FROM pg_catalog.pg_tables
       WHERE schemaname OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog', 'information_schema']::pg_catalog.name[])`,
          )
        ).rows[0].n,
      ),
    { applicationName: "capydb-import", statementTimeoutSeconds: 30 },
  );
}

/** Runs the checks. A source_url aimed at a forbidden address throws ForbiddenTarget (the caller answers 400). */
export async function preflight(ctx: AppContext, project: ProjectRow, sourceUrl: string): Promise<PreflightResult> {
  const target = await targetInfo(ctx, project);
  const result: PreflightResult = {
    checks: [],
    ok: false,
    source: { database_size_bytes: 0, extensions: [], server_version: "" },
    storage_limit_bytes: project.storage_limit_bytes,
    target_version: target.version,
  };
  const add = (name: string, status: Check["status"], detail: string) => result.checks.push({ name, status, detail });
  const finish = () => {
    result.ok = result.checks.every((c) => c.status !== "fail");
    return result;
  };

  let parsed;
  try {
    parsed = parseSourceUrl(sourceUrl);
    add("url", "pass", `postgresql://${parsed.user}@${parsed.host}:${parsed.port}/${parsed.database}`);
  } catch (err) {
    if (!(err instanceof SourceUrlInvalid)) throw err;
    add("url", "fail", err.message);
    return finish();
  }
  let checked: CheckedSource;
  try {
    checked = await checkSource(ctx.netguard, parsed);
  } catch (err) {
    if (!(err instanceof UnresolvableHost)) throw err;
    add("connection", "fail", err.message);
    return finish();
  }
  result.checked = checked;
  const client = sourceClient(checked, CONNECT_TIMEOUT_MS);
  try {
    await client.connect();
  } catch (err) {
    add("connection", "fail", describeConnectError(err, parsed, CONNECT_TIMEOUT_MS));
    await client.end().catch(() => {});
    return finish();
  }
  try {
    add("connection", "pass", `connected to ${parsed.host}:${parsed.port} as ${parsed.user}`);
    const info = await client.query<{ v: string; num: string; size: string }>(
      "SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS num, pg_database_size(current_database()) AS size",
    );
    const sourceMajor = Math.floor(Number(info.rows[0].num) / 10000);
    result.source.server_version = info.rows[0].v;
    result.source.database_size_bytes = Number(info.rows[0].size);
    if (sourceMajor <= target.major) add("version", "pass", `source PostgreSQL ${sourceMajor} can be restored into PostgreSQL ${target.major}`);
    else
      add(
        "version",
        "fail",
        `source is PostgreSQL ${sourceMajor}, newer than this platform's PostgreSQL ${target.major}: dumps do not restore into an older major version`,
      );

    const size = result.source.database_size_bytes;
    if (size <= project.storage_limit_bytes) add("size", "pass", `${size} bytes, within the project's limit of ${project.storage_limit_bytes}`);
    else
      add(
        "size",
        "fail",
        `source is ${size} bytes, over the project's storage limit of ${project.storage_limit_bytes} bytes: raise storage_limit_bytes or import less`,
      );

    const exts = await client.query<{ name: string; version: string }>(
      "SELECT extname AS name, extversion AS version FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1",
    );
    result.source.extensions = exts.rows;
    const missing = exts.rows.filter((e) => !target.available.has(e.name)).map((e) => e.name);
    const notAllowed = exts.rows
      .filter((e) => target.available.has(e.name) && !target.available.get(e.name) && !ctx.config.extensionAllowlist.includes(e.name))
      .map((e) => e.name);
    if (missing.length) add("extensions", "fail", `not available on this platform: ${missing.join(", ")}`);
    else if (notAllowed.length) add("extensions", "fail", `need superuser rights and are not allowed on this platform: ${notAllowed.join(", ")}`);
    else add("extensions", "pass", exts.rows.length ? `all available: ${exts.rows.map((e) => e.name).join(", ")}` : "no extensions to install");

    const unreadable = await client.query<{ name: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p', 'S', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
         AND (NOT has_schema_privilege(n.oid, 'USAGE') OR NOT has_table_privilege(c.oid, 'SELECT'))
       ORDER BY 1 LIMIT 20`,
    );
    if (unreadable.rows.length)
      add("permissions", "fail", `user "${parsed.user}" cannot read: ${unreadable.rows.map((r) => r.name).join(", ")}; grant SELECT or import as the owner`);
    else add("permissions", "pass", `user "${parsed.user}" can read every table`);
  } catch (err) {
    add("source", "fail", `reading the source failed: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => {});
  }
  const tables = await targetTableCount(ctx, project);
  if (tables === 0) add("target_empty", "pass", "the project's database is empty");
  else add("target_empty", "warn", `the project's database already has ${tables} table(s): importing replaces them (send "replace": true)`);
  return finish();
}

/** The preflight as the API shows it. */
export function toApiPreflight(r: PreflightResult) {
  return { checks: r.checks, ok: r.ok, source: r.source, storage_limit_bytes: r.storage_limit_bytes, target_version: r.target_version };
}
