// Projects: rows, API objects, and the operations the routes call.
import type { Project, CreateProjectRequest, UpdateProjectRequest } from "@capydb/api";
import type { AppContext } from "../context.js";
import { tenantConnectionUri } from "../platform/dataplane/connection-uri.js";
import type { Principal } from "../http/auth.js";
import { canAccess } from "../http/auth.js";
import { badRequest, conflict, forbidden, notFound } from "../http/errors.js";
import { inTransaction, type Queryable } from "../platform/store/db.js";
import { newId, newPassword } from "../platform/secrets.js";
import { enqueueJob } from "../platform/jobs/sql/enqueue.js";
import type { JobRow } from "../platform/jobs/types.js";
import { applyRoleSettings } from "../platform/dataplane/provision.js";

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

export const PROJECT_DEFAULTS = {
  plan: "free",
  environment: "production",
  max_connections: 100,
  statement_timeout: "0",
  idle_transaction_timeout: "0",
  storage_limit_bytes: 10 * 1024 ** 3,
};

const SELECT_PROJECT = `SELECT p.*, c.public_host, c.direct_port, c.pooled_port, c.ssl_mode FROM projects p JOIN clusters c ON c.id = p.cluster_id`;

export function toApiProject(row: ProjectRow): Project {
  return {
    id: row.id,
    organization_id: row.organization_id,
    name: row.name,
    slug: row.slug,
    state: row.state,
    region: row.region,
    plan: row.plan,
    environment: row.environment,
    cluster_id: row.cluster_id,
    database_name: row.database_name,
    role_name: row.role_name,
    public_host: row.public_host,
    direct_port: row.direct_port,
    pooled_port: row.pooled_port,
    ssl_mode: row.ssl_mode,
    max_connections: row.max_connections,
    statement_timeout: row.statement_timeout,
    idle_transaction_timeout: row.idle_transaction_timeout,
    storage_limit_bytes: row.storage_limit_bytes,
    latest_job_id: row.latest_job_id,
    last_error: row.last_error,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export async function loadProject(db: Queryable, id: string): Promise<ProjectRow | null> {
  const { rows } = await db.query<ProjectRow>({ name: "load_project", text: `${SELECT_PROJECT} WHERE p.id = $1`, values: [id] });
  return rows[0] ?? null;
}

/** The project if the principal may see it; otherwise 404, so existence is not leaked. */
export async function projectFor(ctx: AppContext, principal: Principal, id: string): Promise<ProjectRow> {
  const row = await loadProject(ctx.db, id);
  if (!row || !canAccess(principal, row.organization_id, row.id)) throw notFound(`project ${id} not found`);
  return row;
}

export async function listProjects(ctx: AppContext, principal: Principal, organizationId?: string): Promise<ProjectRow[]> {
  const where: string[] = ["p.state <> 'deleted'"];
  const params: unknown[] = [];
  if (principal.kind === "admin") {
    if (organizationId) where.push(`p.organization_id = $${params.push(organizationId)}`);
  } else if (principal.kind === "project") {
    where.push(`p.id = $${params.push(principal.projectId)}`);
  } else {
    where.push(`p.organization_id = $${params.push(principal.organizationId)}`);
  }
  const { rows } = await ctx.db.query<ProjectRow>(`${SELECT_PROJECT} WHERE ${where.join(" AND ")} ORDER BY p.created_at DESC, p.id`, params);
  return rows;
}

function slugify(name: string): string {
  const ascii = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 30)
    .replace(/-+$/, "");
  return ascii || "project";
}

export async function createProject(ctx: AppContext, principal: Principal, body: CreateProjectRequest): Promise<{ project: ProjectRow; job: JobRow }> {
  let organizationId: string;
  if (principal.kind === "admin") {
    if (!body.organization_id) throw badRequest("organization_id: is required for platform-admin keys (the organization to create the project in)");
    organizationId = body.organization_id;
    const org = await ctx.db.query("SELECT 1 FROM organizations WHERE id = $1", [organizationId]);
    if (!org.rowCount) throw badRequest(`organization_id: organization ${organizationId} does not exist`);
  } else if (principal.kind === "project") {
    throw forbidden("a project-scoped API key cannot create projects: use an organization key");
  } else {
    if (body.organization_id && body.organization_id !== principal.organizationId) {
      throw badRequest("organization_id: must be omitted or be your own organization");
    }
    organizationId = principal.organizationId;
  }
  const region = body.region ?? ctx.config.defaultRegion;
  const cluster = await ctx.clusters.forRegion(region);
  if (!cluster) throw badRequest(`region: no cluster serves region "${region}"`);

  const id = newId("prj");
  const short = id.slice(4, 12);
  const slug = `${slugify(body.name)}-${short}`;
  const databaseName = slug.replace(/-/g, "_");
  const roleName = `${databaseName}_owner`;
  return inTransaction(ctx.db, async (tx) => {
    const jobId = newId("job");
    await tx.query(
      `INSERT INTO projects (id, organization_id, name, slug, state, region, plan, environment, cluster_id, database_name, role_name,
         role_password_sealed, max_connections, statement_timeout, idle_transaction_timeout, storage_limit_bytes, latest_job_id)
       VALUES ($1, $2, $3, $4, 'provisioning', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
      [
        id, organizationId, body.name, slug, region,
        body.plan ?? PROJECT_DEFAULTS.plan,
        body.environment ?? PROJECT_DEFAULTS.environment,
        cluster.id, databaseName, roleName, ctx.box.seal(newPassword()),
        body.max_connections ?? PROJECT_DEFAULTS.max_connections,
        body.statement_timeout ?? PROJECT_DEFAULTS.statement_timeout,
        body.idle_transaction_timeout ?? PROJECT_DEFAULTS.idle_transaction_timeout,
        body.storage_limit_bytes ?? PROJECT_DEFAULTS.storage_limit_bytes,
        jobId,
      ],
    );
    const job = await enqueueJob(tx, {
      id: jobId, type: "project.create", organizationId, projectId: id, clusterId: cluster.id,
      lockedResource: `project:${id}`, maxAttempts: ctx.config.jobMaxAttempts,
    });
    const project = (await loadProject(tx, id))!;
    return { project, job };
  });
}

/** Settings are applied to Postgres at once (ALTER ROLE), then recorded. */
export async function updateProject(ctx: AppContext, project: ProjectRow, body: UpdateProjectRequest): Promise<ProjectRow> {
  const touchesRole = body.max_connections !== undefined || body.statement_timeout !== undefined || body.idle_transaction_timeout !== undefined;
  if (touchesRole && project.state !== "ready") throw conflict(`project is ${project.state}: settings can be changed once it is ready`);
  if (project.state === "deleting" || project.state === "deleted") throw conflict(`project is ${project.state}`);
  const next = {
    max_connections: body.max_connections ?? project.max_connections,
    statement_timeout: body.statement_timeout ?? project.statement_timeout,
    idle_transaction_timeout: body.idle_transaction_timeout ?? project.idle_transaction_timeout,
  };
  if (touchesRole) await applyRoleSettings(await ctx.clusters.pool(project.cluster_id), project.role_name, next);
  await ctx.db.query(
    `UPDATE projects SET name = coalesce($2, name), environment = coalesce($3, environment), plan = coalesce($4, plan),
       max_connections = $5, statement_timeout = $6, idle_transaction_timeout = $7,
       storage_limit_bytes = coalesce($8, storage_limit_bytes), updated_at = now()
     WHERE id = $1`,
    [project.id, body.name ?? null, body.environment ?? null, body.plan ?? null, next.max_connections, next.statement_timeout, next.idle_transaction_timeout, body.storage_limit_bytes ?? null],
  );
  return (await loadProject(ctx.db, project.id))!;
}

export async function deleteProject(ctx: AppContext, project: ProjectRow): Promise<JobRow> {
  return inTransaction(ctx.db, async (tx) => {
    const locked = await tx.query<{ state: string; latest_job_id: string | null }>("SELECT state, latest_job_id FROM projects WHERE id = $1 FOR UPDATE", [project.id]);
    const state = locked.rows[0].state;
    if (state === "deleting" || state === "deleted") {
      // A client retrying its DELETE gets the delete job that is (or was) running.
      const { rows } = await tx.query<JobRow>("SELECT * FROM jobs WHERE project_id = $1 AND type = 'project.delete' ORDER BY created_at DESC LIMIT 1", [project.id]);
      if (rows[0]) return rows[0];
    }
    const jobId = newId("job");
    await tx.query("UPDATE projects SET state = 'deleting', latest_job_id = $2, updated_at = now() WHERE id = $1", [project.id, jobId]);
    return enqueueJob(tx, {
      id: jobId, type: "project.delete", organizationId: project.organization_id, projectId: project.id, clusterId: project.cluster_id,
      lockedResource: `project:${project.id}`, maxAttempts: ctx.config.jobMaxAttempts,
    });
  });
}

export function connectionUri(ctx: AppContext, project: ProjectRow, pooled: boolean): string {
  return tenantConnectionUri(ctx.box, project, pooled);
}

/** Live project databases of a cluster, for the PgBouncer config. */
export async function projectDatabases(db: Queryable, clusterId: string): Promise<Array<{ database: string; role: string }>> {
  const { rows } = await db.query<{ database: string; role: string }>(
    "SELECT database_name AS database, role_name AS role FROM projects WHERE cluster_id = $1 AND state IN ('provisioning', 'ready')",
    [clusterId],
  );
  return rows;
}
