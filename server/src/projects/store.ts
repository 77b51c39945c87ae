// The projects table: its row type, the states its queries select on, and every statement on it
// (one writer per table).
import type { Project } from "@capydb/api";
import type { Queryable } from "../platform/store/db.js";
import { listRows, type Listed, type Page } from "../http/pagination.js";

export interface ProjectRow {
  id: string;
  organization_id: string;
  name: string;
  slug: string;
  state: Project["state"];
  region: string;
  plan: string;
  environment: string;
  cluster_id: string;
  database_name: string;
  role_name: string;
  role_password_sealed: string;
  max_connections: number;
  statement_timeout: string;
  idle_transaction_timeout: string;
  storage_limit_bytes: number;
  latest_job_id: string | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  // from the cluster
  public_host: string;
  direct_port: number;
  pooled_port: number;
  ssl_mode: string;
}

export const SELECT_PROJECT = `SELECT p.*, c.public_host, c.direct_port, c.pooled_port, c.ssl_mode FROM projects p JOIN clusters c ON c.id = p.cluster_id`;

export async function loadProject(db: Queryable, id: string): Promise<ProjectRow | null> {
  const { rows } = await db.query<ProjectRow>({ name: "load_project", text: `${SELECT_PROJECT} WHERE p.id = $1`, values: [id] });
  return rows[0] ?? null;
}

/** Records the job now working on the project (shown as the project's latest_job_id). */
export async function recordLatestJob(db: Queryable, projectId: string, jobId: string): Promise<void> {
  await db.query("UPDATE projects SET latest_job_id = $2, updated_at = now() WHERE id = $1", [projectId, jobId]);
}

// States in WHERE clauses. Live: the project's database and role exist, or are being made.
const LIVE_STATES = "('provisioning', 'ready')";
// Retired: the project's role is no longer needed (the reconciler drops what is left of it).
const RETIRED_STATES = "('deleted', 'failed')";

/** Who may list which projects: one project, one organization's, or (platform admins) all. */
export type ProjectListScope = { projectId: string } | { organizationId: string } | Record<string, never>;

/** Projects not deleted, newest first: all of them, or one page (see http/pagination.ts). */
export async function listProjectRows(db: Queryable, scope: ProjectListScope, page: Page | null = null): Promise<Listed<ProjectRow>> {
  const where: string[] = ["p.state <> 'deleted'"];
  const params: unknown[] = [];
  if ("projectId" in scope) where.push(`p.id = $${params.push(scope.projectId)}`);
  else if ("organizationId" in scope) where.push(`p.organization_id = $${params.push(scope.organizationId)}`);
  return listRows<ProjectRow>(db, { base: SELECT_PROJECT, where, params, createdAt: "p.created_at", id: "p.id", idOrder: "ASC" }, page);
}

/** Projects of the organization that are not deleted (the projects_per_organization quota counts them). */
export async function countOrganizationProjects(db: Queryable, organizationId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM projects WHERE organization_id = $1 AND state <> 'deleted'", [organizationId]);
  return rows[0].n;
}

export interface NewProject {
  id: string;
  organizationId: string;
  name: string;
  slug: string;
  region: string;
  plan: string;
  environment: string;
  clusterId: string;
  databaseName: string;
  roleName: string;
  rolePasswordSealed: string;
  maxConnections: number;
  statementTimeout: string;
  idleTransactionTimeout: string;
  storageLimitBytes: number;
  latestJobId: string;
}

/** A new project, provisioning (its create job is latestJobId). */
export async function insertProject(db: Queryable, p: NewProject): Promise<void> {
  await db.query(
    `INSERT INTO projects (id, organization_id, name, slug, state, region, plan, environment, cluster_id, database_name, role_name,
       role_password_sealed, max_connections, statement_timeout, idle_transaction_timeout, storage_limit_bytes, latest_job_id)
     VALUES ($1, $2, $3, $4, 'provisioning', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
    [
      p.id,
      p.organizationId,
      p.name,
      p.slug,
      p.region,
      p.plan,
      p.environment,
      p.clusterId,
      p.databaseName,
      p.roleName,
      p.rolePasswordSealed,
      p.maxConnections,
      p.statementTimeout,
      p.idleTransactionTimeout,
      p.storageLimitBytes,
      p.latestJobId,
    ],
  );
}

/** The project's own row (no cluster columns), locked FOR UPDATE until `tx` ends. */
export async function lockProject(tx: Queryable, id: string): Promise<ProjectRow> {
  return (await tx.query<ProjectRow>("SELECT * FROM projects WHERE id = $1 FOR UPDATE", [id])).rows[0];
}

/** The project's state and latest job, its row locked FOR UPDATE until `tx` ends. */
export async function lockProjectState(tx: Queryable, id: string): Promise<{ state: string; latest_job_id: string | null }> {
  return (await tx.query<{ state: string; latest_job_id: string | null }>("SELECT state, latest_job_id FROM projects WHERE id = $1 FOR UPDATE", [id])).rows[0];
}

/** Fields left undefined keep their value; the role settings are always written. */
export async function updateProjectSettings(
  db: Queryable,
  id: string,
  fields: {
    name?: string;
    environment?: string;
    plan?: string;
    max_connections: number;
    statement_timeout: string;
    idle_transaction_timeout: string;
    storage_limit_bytes?: number;
  },
): Promise<void> {
  await db.query(
    `UPDATE projects SET name = coalesce($2, name), environment = coalesce($3, environment), plan = coalesce($4, plan),
       max_connections = $5, statement_timeout = $6, idle_transaction_timeout = $7,
       storage_limit_bytes = coalesce($8, storage_limit_bytes), updated_at = now()
     WHERE id = $1`,
    [
      id,
      fields.name ?? null,
      fields.environment ?? null,
      fields.plan ?? null,
      fields.max_connections,
      fields.statement_timeout,
      fields.idle_transaction_timeout,
      fields.storage_limit_bytes ?? null,
    ],
  );
}

/** Provisioning finished: the project is ready (unless it left provisioning meanwhile). */
export async function markProjectReady(db: Queryable, id: string): Promise<void> {
  await db.query("UPDATE projects SET state = 'ready', last_error = NULL, updated_at = now() WHERE id = $1 AND state = 'provisioning'", [id]);
}

export async function markProjectFailed(db: Queryable, id: string, error: string): Promise<void> {
  await db.query("UPDATE projects SET state = 'failed', last_error = $2, updated_at = now() WHERE id = $1", [id, error]);
}

/** A delete was asked for: its job (jobId) is the project's latest. */
export async function markProjectDeleting(db: Queryable, id: string, jobId: string): Promise<void> {
  await db.query("UPDATE projects SET state = 'deleting', latest_job_id = $2, updated_at = now() WHERE id = $1", [id, jobId]);
}

export async function markProjectDeleted(db: Queryable, id: string): Promise<void> {
  await db.query("UPDATE projects SET state = 'deleted', deleted_at = now(), updated_at = now() WHERE id = $1", [id]);
}

/** Records why the project's latest job failed, leaving its state as it is. */
export async function recordProjectError(db: Queryable, id: string | null, error: string): Promise<void> {
  await db.query("UPDATE projects SET last_error = $2, updated_at = now() WHERE id = $1", [id, error]);
}

/** Live project databases of a cluster, for the PgBouncer config. */
export async function projectDatabases(db: Queryable, clusterId: string): Promise<Array<{ database: string; role: string }>> {
  const { rows } = await db.query<{ database: string; role: string }>(
    `SELECT database_name AS database, role_name AS role FROM projects WHERE cluster_id = $1 AND state IN ${LIVE_STATES}`,
    [clusterId],
  );
  return rows;
}

/** Names of the live project databases of a cluster (the reconciler keeps them). */
export async function liveProjectDatabaseNames(db: Queryable, clusterId: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(`SELECT database_name AS name FROM projects WHERE cluster_id = $1 AND state IN ${LIVE_STATES}`, [
    clusterId,
  ]);
  return rows.map((r) => r.name);
}

/** Roles of the cluster's deleted and failed projects. */
export async function retiredProjectRoles(db: Queryable, clusterId: string): Promise<Array<{ role: string; projectId: string }>> {
  const { rows } = await db.query<{ role: string; project_id: string }>(
    `SELECT role_name AS role, id AS project_id FROM projects WHERE cluster_id = $1 AND state IN ${RETIRED_STATES}`,
    [clusterId],
  );
  return rows.map((r) => ({ role: r.role, projectId: r.project_id }));
}

/** Ready projects whose database still lets every role see others' sessions (made before template1 hid them), oldest first. */
export async function projectsWithSessionsShown(db: Queryable, batch: number): Promise<Array<{ id: string; cluster_id: string; database_name: string }>> {
  const { rows } = await db.query<{ id: string; cluster_id: string; database_name: string }>(
    "SELECT id, cluster_id, database_name FROM projects WHERE state = 'ready' AND NOT sessions_hidden ORDER BY created_at LIMIT $1",
    [batch],
  );
  return rows;
}

export async function markSessionsHidden(db: Queryable, id: string): Promise<void> {
  await db.query("UPDATE projects SET sessions_hidden = true WHERE id = $1", [id]);
}

/** The project's databases now live on another cluster (a move to an instance); only from the cluster it was on. */
export async function moveProjectToCluster(db: Queryable, projectId: string, from: string, to: string): Promise<void> {
  await db.query("UPDATE projects SET cluster_id = $3, updated_at = now() WHERE id = $1 AND cluster_id = $2", [projectId, from, to]);
}
