// Projects: rows, API objects, and the operations the routes call.
import type { Project, CreateProjectRequest, UpdateProjectRequest } from "@capydb/api";
import { jobs } from "../jobs/catalogue.js";
import { enqueue } from "../platform/jobs/define.js";
import { names } from "../platform/dataplane/names.js";
import type { AppContext } from "../context.js";
import { tenantConnectionUri } from "../platform/dataplane/connection-uri.js";
import type { Principal } from "../http/auth.js";
import { canAccess } from "../http/auth.js";
import { badRequest, conflict, forbidden, notFound, projectStateConflict, unavailable } from "../http/errors.js";
import type { Listed, Page } from "../http/pagination.js";
import { inTransaction, type Queryable } from "../platform/store/db.js";
import { organizationExists, lockOrganization } from "../organizations/store.js";
import {
  countOrganizationProjects,
  insertProject,
  listProjectRows,
  loadProject,
  lockProject,
  lockProjectState,
  markProjectDeleting,
  updateProjectSettings,
  type ProjectRow,
} from "./store.js";
import { newId, newPassword } from "../platform/secrets.js";
import type { JobRow } from "../platform/jobs/types.js";
import { applyRoleSettings, type RoleSettings } from "../platform/dataplane/provision.js";
import { ceilingsFor, defaultSettings, settingsOverCeilings, whereSet } from "../platform/quotas.js";
import { InstanceLimitError } from "../platform/dataplane/instances/registry.js";
import { clusterSlots, lockClusterSlots, noRoomFor, type ClusterSlots } from "../platform/connection-slots.js";

/** Tenants create projects on this plan; only a platform admin puts one on another. */
export const DEFAULT_PLAN = "free";
const DEFAULT_ENVIRONMENT = "production";

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

/** The project if the principal may see it; otherwise 404, so existence is not leaked. */
export async function projectFor(ctx: AppContext, principal: Principal, id: string): Promise<ProjectRow> {
  const row = await loadProject(ctx.db, id);
  if (!row || !canAccess(principal, row.organization_id, row.id)) throw notFound(`project ${id} not found`, "project_not_found");
  return row;
}

export async function listProjects(ctx: AppContext, principal: Principal, organizationId?: string, page: Page | null = null): Promise<Listed<ProjectRow>> {
  if (principal.kind === "admin") return listProjectRows(ctx.db, organizationId ? { organizationId } : {}, page);
  if (principal.kind === "project") return listProjectRows(ctx.db, { projectId: principal.projectId }, page);
  return listProjectRows(ctx.db, { organizationId: principal.organizationId }, page);
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
    if (!(await organizationExists(ctx.db, organizationId))) throw badRequest(`organization_id: organization ${organizationId} does not exist`);
  } else if (principal.kind === "project") {
    throw forbidden("a project-scoped API key cannot create projects: use an organization key");
  } else {
    if (body.organization_id && body.organization_id !== principal.organizationId) {
      throw badRequest("organization_id: must be omitted or be your own organization");
    }
    organizationId = principal.organizationId;
  }
  const tenant = principal.kind !== "admin";
  const plan = body.plan ?? DEFAULT_PLAN;
  if (tenant && plan !== DEFAULT_PLAN) {
    throw forbidden(
      `plan: only a platform operator can put a project on plan ${plan}; projects start on plan ${DEFAULT_PLAN} (ask your platform operator to change it)`,
    );
  }
  const ceilings = await ceilingsFor(ctx.db, ctx.config.plans, organizationId, plan);
  if (tenant) {
    const problems = settingsOverCeilings(ceilings, body);
    if (problems.length) throw badRequest(problems.join("; "), "plan_ceiling_exceeded");
  }
  const defaults = defaultSettings(ceilings);
  const settings = {
    max_connections: body.max_connections ?? defaults.max_connections,
    statement_timeout: body.statement_timeout ?? defaults.statement_timeout,
    idle_transaction_timeout: body.idle_transaction_timeout ?? defaults.idle_transaction_timeout,
    storage_limit_bytes: body.storage_limit_bytes ?? defaults.storage_limit_bytes,
  };
  const region = body.region ?? ctx.config.defaultRegion;
  const cluster = await ctx.clusters.forRegion(region);
  if (!cluster) throw badRequest(`region: no cluster serves region "${region}"`);
  const slots = await slotsOf(ctx, cluster.id);

  const id = newId("prj");
  const short = id.slice(4, 12);
  const slug = `${slugify(body.name)}-${short}`;
  // Names other tenants can read (pg_database and pg_roles are visible to every role of a
  // shared cluster) carry nothing a tenant wrote: derived from the id, not the name.
  const databaseName = names.projectDatabase(id);
  const roleName = names.ownerRole(databaseName);
  return inTransaction(ctx.db, async (tx) => {
    if (tenant) {
      // Creates in one organization take turns, so the count holds under concurrency.
      await lockOrganization(tx, organizationId);
      const count = await countOrganizationProjects(tx, organizationId);
      const most = ceilings.quotas.projects_per_organization;
      if (count >= most) {
        throw conflict(
          `projects_per_organization: the organization has ${count} projects, at most ${most} ${whereSet(ceilings, "projects_per_organization")}: delete one first`,
          "project_limit_reached",
        );
      }
    }
    // The instance engine gives the project a PostgreSQL instance of its own (on the host's
    // cluster): its slots are its own, sized for the plan's ceiling, so admission is the host's.
    let clusterId = cluster.id;
    if (ctx.instances && cluster.id === ctx.instances.hostCluster.id) {
      const instance = await allocateOrRefuse(() =>
        ctx.instances!.allocate(
          tx,
          id,
          "production",
          Math.max(ceilings.quotas.max_connections, settings.max_connections) + ctx.config.clusterConnectionReserve,
        ),
      );
      clusterId = instance.cluster_id;
    } else {
      await admitConnections(tx, slots, cluster.id, settings.max_connections, `max_connections: ${settings.max_connections} connections for this project`);
    }
    const jobId = newId("job");
    await insertProject(tx, {
      id,
      organizationId,
      name: body.name,
      slug,
      region,
      plan,
      environment: body.environment ?? DEFAULT_ENVIRONMENT,
      clusterId,
      databaseName,
      roleName,
      rolePasswordSealed: ctx.box.seal(newPassword()),
      maxConnections: settings.max_connections,
      statementTimeout: settings.statement_timeout,
      idleTransactionTimeout: settings.idle_transaction_timeout,
      storageLimitBytes: settings.storage_limit_bytes,
      latestJobId: jobId,
    });
    const job = await enqueue(tx, jobs.projectCreate, { organizationId, projectId: id, clusterId }, {}, { id: jobId, maxAttempts: ctx.config.jobMaxAttempts });
    const project = (await loadProject(tx, id))!;
    return { project, job };
  });
}

/** An instance for a new project or preview; 409 when the host has no room for one. */
export async function allocateOrRefuse<T>(allocate: () => Promise<T>): Promise<T> {
  try {
    return await allocate();
  } catch (err) {
    if (err instanceof InstanceLimitError) throw conflict(err.message, "instance_capacity_exceeded");
    throw err;
  }
}

/** The cluster's connection slots; 503 when it cannot be reached (and was never read). */
export async function slotsOf(ctx: AppContext, clusterId: string): Promise<ClusterSlots> {
  try {
    return await clusterSlots(await ctx.clusters.pool(clusterId), clusterId, ctx.config.clusterConnectionReserve);
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message, cluster_id: clusterId }, "cannot read the cluster's connection capacity");
    throw unavailable(`cluster ${clusterId} cannot be reached to check its connection capacity; retry shortly`);
  }
}

/**
 * Refuses (409) `asked` connections that do not fit in what the cluster has left for
 * tenants; `what` says whose they are. Takes the cluster's admission lock until `tx` ends.
 */
export async function admitConnections(
  tx: Queryable,
  slots: ClusterSlots,
  clusterId: string,
  asked: number,
  what: string,
  exceptProjectId: string | null = null,
): Promise<void> {
  await lockClusterSlots(tx, clusterId);
  const why = await noRoomFor(tx, slots, clusterId, asked, exceptProjectId);
  if (why)
    throw conflict(`${what} do not fit: ${why}. Lower it, delete a preview or project, or ask the platform operator for room`, "connection_capacity_exceeded");
}

/**
 * All or nothing: every field is checked first (the plan's ceilings for tenants, the
 * cluster's room for a higher connection limit), then the row is updated and the role's
 * settings applied in one control-plane transaction that commits only once they were.
 */
export async function updateProject(ctx: AppContext, principal: Principal, project: ProjectRow, body: UpdateProjectRequest): Promise<ProjectRow> {
  const tenant = principal.kind !== "admin";
  if (tenant && body.plan !== undefined && body.plan !== project.plan) {
    throw forbidden(`plan: only a platform operator can change a project's plan (it is on plan ${project.plan}; ask your platform operator)`);
  }
  const touchesRole = body.max_connections !== undefined || body.statement_timeout !== undefined || body.idle_transaction_timeout !== undefined;
  if (touchesRole && project.state !== "ready")
    throw projectStateConflict(project.state, `project is ${project.state}: settings can be changed once it is ready`);
  if (project.state === "deleting" || project.state === "deleted") throw projectStateConflict(project.state, `project is ${project.state}`);
  if (tenant) {
    const ceilings = await ceilingsFor(ctx.db, ctx.config.plans, project.organization_id, project.plan);
    const problems = settingsOverCeilings(ceilings, body, project);
    if (problems.length) throw badRequest(problems.join("; "), "plan_ceiling_exceeded");
  }
  const raises = body.max_connections !== undefined && body.max_connections > project.max_connections;
  const slots = raises ? await slotsOf(ctx, project.cluster_id) : null;

  const client = await ctx.db.connect();
  let applied: { previous: RoleSettings } | null = null;
  try {
    await client.query("BEGIN");
    const current = await lockProject(client, project.id);
    if (touchesRole && current.state !== "ready")
      throw projectStateConflict(current.state, `project is ${current.state}: settings can be changed once it is ready`);
    if (current.state === "deleting" || current.state === "deleted") throw projectStateConflict(current.state, `project is ${current.state}`);
    const previous = {
      max_connections: current.max_connections,
      statement_timeout: current.statement_timeout,
      idle_transaction_timeout: current.idle_transaction_timeout,
    };
    const next = {
      max_connections: body.max_connections ?? current.max_connections,
      statement_timeout: body.statement_timeout ?? current.statement_timeout,
      idle_transaction_timeout: body.idle_transaction_timeout ?? current.idle_transaction_timeout,
    };
    if (slots && next.max_connections > current.max_connections) {
      await admitConnections(
        client,
        slots,
        project.cluster_id,
        next.max_connections,
        `max_connections: ${next.max_connections} connections for this project`,
        project.id,
      );
    }
    await updateProjectSettings(client, project.id, {
      name: body.name,
      environment: body.environment,
      plan: body.plan,
      ...next,
      storage_limit_bytes: body.storage_limit_bytes,
    });
    if (touchesRole) {
      await applyRoleSettings(await ctx.clusters.pool(project.cluster_id), project.role_name, next);
      applied = { previous };
      ctx.faults.check("project.update.after_role");
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    // The role changed but the record did not (the commit failed): put the role back.
    if (applied) {
      await applyRoleSettings(await ctx.clusters.pool(project.cluster_id), project.role_name, applied.previous).catch((undo) =>
        ctx.log.error({ err: (undo as Error).message, project_id: project.id }, "could not put the role's settings back after a failed update"),
      );
    }
    throw err;
  } finally {
    client.release();
  }
  return (await loadProject(ctx.db, project.id))!;
}

export async function deleteProject(ctx: AppContext, project: ProjectRow): Promise<JobRow> {
  return inTransaction(ctx.db, async (tx) => {
    const { state } = await lockProjectState(tx, project.id);
    if (state === "deleting" || state === "deleted") {
      // A client retrying its DELETE gets the delete job that is (or was) running.
      const { rows } = await tx.query<JobRow>("SELECT * FROM jobs WHERE project_id = $1 AND type = 'project.delete' ORDER BY created_at DESC LIMIT 1", [
        project.id,
      ]);
      if (rows[0]) return rows[0];
    }
    const jobId = newId("job");
    await markProjectDeleting(tx, project.id, jobId);
    return enqueue(
      tx,
      jobs.projectDelete,
      { organizationId: project.organization_id, projectId: project.id, clusterId: project.cluster_id },
      {},
      {
        id: jobId,
        maxAttempts: ctx.config.jobMaxAttempts,
      },
    );
  });
}

export function connectionUri(ctx: AppContext, project: ProjectRow, pooled: boolean): string {
  return tenantConnectionUri(ctx.box, project, pooled);
}

// server.ts imports it from here.
