// capydb_project: a logical database with its own login role on a CapyDB cluster.
// Create and delete wait for the server's job; settings the API can PATCH change in place;
// organization_id and region force a new project.
import type { Project } from "@capydb/api";
import type { ObjectValue } from "../cty/types.js";
import { UNKNOWN } from "../cty/types.js";
import { CreatedWithError, type ProviderContext, type Resource } from "../framework/resource.js";
import { timeoutMs, timeoutsBlock } from "../framework/timeouts.js";
import type { AttributeSpec } from "../schema/schema.js";
import { api, checkWithSchemas, isNotFound, knownFields, requireString } from "./common.js";
import { DiagnosticError } from "../framework/diagnostics.js";

const CREATE_TIMEOUT = "20m";
const DELETE_TIMEOUT = "20m";

/** Settings the API changes in place (PATCH /v1/projects/{id}). */
const PATCHABLE = ["name", "environment", "plan", "max_connections", "statement_timeout", "idle_transaction_timeout", "storage_limit_bytes"] as const;

/** The computed attributes of a project, shared with the capydb_project data source. */
export const PROJECT_COMPUTED: Record<string, AttributeSpec> = {
  slug: { type: "string", computed: true, description: "URL-safe name, unique in the platform." },
  state: { type: "string", computed: true, description: "provisioning, ready, failed, deleting or deleted. A failed project is replaced at the next apply." },
  cluster_id: { type: "string", computed: true, description: "The data-plane cluster that holds the database." },
  database_name: { type: "string", computed: true, description: "The PostgreSQL database of the project." },
  role_name: { type: "string", computed: true, description: "The project's PostgreSQL login role (owner of the database)." },
  public_host: { type: "string", computed: true, description: "Host applications connect to." },
  direct_port: { type: "number", computed: true, description: "PostgreSQL port (direct connections)." },
  pooled_port: { type: "number", computed: true, description: "PgBouncer port (pooled connections); 0 when no pooler is installed." },
  ssl_mode: { type: "string", computed: true, description: "The sslmode clients should use." },
  connection_uri: { type: "string", computed: true, sensitive: true, description: "postgresql:// URI with the role's password (direct port)." },
  pooled_connection_uri: {
    type: "string",
    computed: true,
    sensitive: true,
    description: "postgresql:// URI with the role's password through PgBouncer (transaction pooling); null when no pooler is installed (pooled_port 0).",
  },
  password: { type: "string", computed: true, sensitive: true, description: "The password of the project's login role (role_name)." },
};

/** What a project's state holds besides the API's project: its URIs (and the password in them). */
export interface ProjectSecrets {
  direct: string | null;
  pooled: string | null;
}

/** The password in a postgresql:// URI, decoded (null when there is none). */
export function passwordOf(uri: string | null): string | null {
  if (!uri) return null;
  try {
    const password = new URL(uri).password;
    return password ? decodeURIComponent(password) : null;
  } catch {
    return null;
  }
}

const attributes: Record<string, AttributeSpec> = {
  id: { type: "string", computed: true, description: "The project id (prj_...)." },
  name: { type: "string", required: true, description: "Display name: letters, digits, spaces, '.', '_' and '-'." },
  organization_id: {
    type: "string",
    optional: true,
    computed: true,
    requiresReplace: true,
    description:
      "Organization that owns the project. Defaults to the API key's organization (required with a platform-admin key). Changing it creates a new project.",
  },
  region: {
    type: "string",
    optional: true,
    computed: true,
    requiresReplace: true,
    description: "Region whose cluster holds the database (default: the server's default region). Changing it creates a new project.",
  },
  plan: { type: "string", optional: true, computed: true, description: "free, pro or enterprise (default free)." },
  environment: { type: "string", optional: true, computed: true, description: "production, staging or development (default production)." },
  max_connections: { type: "number", optional: true, computed: true, description: "Connection limit of the project's role, 1-10000 (default 100)." },
  statement_timeout: {
    type: "string",
    optional: true,
    computed: true,
    description: 'statement_timeout of the role, e.g. "30s", "5min" ("0" = none, the default).',
  },
  idle_transaction_timeout: {
    type: "string",
    optional: true,
    computed: true,
    description: 'idle_in_transaction_session_timeout of the role, e.g. "60s" ("0" = none, the default).',
  },
  storage_limit_bytes: { type: "number", optional: true, computed: true, description: "Storage limit in bytes, at least 1048576 (default 10 GiB)." },
  ...PROJECT_COMPUTED,
};

export function projectState(p: Project, uris: ProjectSecrets | null): ObjectValue {
  return {
    id: p.id,
    name: p.name,
    organization_id: p.organization_id,
    region: p.region,
    plan: p.plan,
    environment: p.environment,
    max_connections: p.max_connections,
    statement_timeout: p.statement_timeout,
    idle_transaction_timeout: p.idle_transaction_timeout,
    storage_limit_bytes: p.storage_limit_bytes,
    slug: p.slug,
    state: p.state,
    cluster_id: p.cluster_id,
    database_name: p.database_name,
    role_name: p.role_name,
    public_host: p.public_host,
    direct_port: p.direct_port,
    pooled_port: p.pooled_port,
    ssl_mode: p.ssl_mode,
    connection_uri: uris?.direct ?? null,
    pooled_connection_uri: uris?.pooled ?? null,
    password: passwordOf(uris?.direct ?? null),
  };
}

/** The project if it exists and is not being deleted, else null. */
export async function liveProject(ctx: ProviderContext, id: string): Promise<Project | null> {
  try {
    const { project } = await ctx.client.getProject(id);
    return project.state === "deleted" || project.state === "deleting" ? null : project;
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** The project's URIs: the direct one, and the pooled one when PgBouncer is in front of its cluster. */
export async function projectUris(ctx: ProviderContext, project: Project): Promise<ProjectSecrets> {
  const [direct, pooled] = await Promise.all([
    ctx.client.getConnectionUri(project.id),
    project.pooled_port ? ctx.client.getConnectionUri(project.id, { pooled: true }) : Promise.resolve(null),
  ]);
  return { direct, pooled };
}

async function readProject(ctx: ProviderContext, id: string): Promise<ObjectValue | null> {
  const project = await liveProject(ctx, id);
  if (!project) return null;
  return projectState(project, await projectUris(ctx, project));
}

export const projectResource: Resource = {
  typeName: "capydb_project",
  schema: {
    version: 0,
    block: {
      description: "A CapyDB project: a PostgreSQL database and its login role, with backups, previews and extensions.",
      attributes,
      blocks: { timeouts: timeoutsBlock(["create", "delete"], { create: CREATE_TIMEOUT, delete: DELETE_TIMEOUT }) },
    },
  },

  async validate(config) {
    const { CreateProjectRequest } = await api();
    const { name, organization_id, region, environment, plan, max_connections, statement_timeout, idle_transaction_timeout, storage_limit_bytes } =
      CreateProjectRequest.shape;
    return checkWithSchemas(config, {
      name,
      organization_id,
      region,
      environment,
      plan,
      max_connections,
      statement_timeout,
      idle_transaction_timeout,
      storage_limit_bytes,
    });
  },

  modifyPlan({ prior, planned, requiresReplace }) {
    // A project whose provisioning failed holds no database: replace it.
    if (prior?.state === "failed") {
      planned.state = UNKNOWN;
      requiresReplace.add("state");
    }
    return [];
  },

  async create(ctx, planned) {
    const body = knownFields(planned, ["name", "organization_id", "region", ...PATCHABLE.filter((n) => n !== "name")]);
    const { job, project } = await ctx.client.createProject(body as { name: string });
    try {
      await ctx.client.waitForJob(job.id, { timeoutMs: timeoutMs(planned, "create", CREATE_TIMEOUT), signal: ctx.signal });
    } catch (err) {
      const now = await readProject(ctx, project.id).catch(() => null);
      throw new CreatedWithError(now ?? projectState(project, null), err);
    }
    const state = await readProject(ctx, project.id);
    if (!state) throw new CreatedWithError(projectState(project, null), new Error(`project ${project.id} disappeared right after it was created`));
    return state;
  },

  async read(ctx, state) {
    return readProject(ctx, requireString(state, "id"));
  },

  async update(ctx, prior, planned) {
    const id = requireString(prior, "id");
    const changes = Object.fromEntries(Object.entries(knownFields(planned, PATCHABLE)).filter(([k, v]) => prior[k] !== v));
    if (Object.keys(changes).length) await ctx.client.updateProject(id, changes);
    const state = await readProject(ctx, id);
    if (!state) throw new DiagnosticError("Project is gone", `Project ${id} was deleted while it was being updated.`);
    return state;
  },

  async delete(ctx, prior) {
    const id = requireString(prior, "id");
    let jobId: string;
    try {
      jobId = (await ctx.client.deleteProject(id)).job.id;
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    await ctx.client.waitForJob(jobId, { timeoutMs: timeoutMs(prior, "delete", DELETE_TIMEOUT), signal: ctx.signal });
  },

  async importState(ctx, id) {
    const state = await readProject(ctx, id);
    if (!state) throw new DiagnosticError("Cannot import project", `Project ${id} does not exist (or is deleted) for this API key.`);
    return state;
  },
};
