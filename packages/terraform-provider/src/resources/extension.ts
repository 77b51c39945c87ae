// capydb_extension: a PostgreSQL extension enabled in a project's database.
// Both attributes force replacement (there is nothing to update); enable and disable wait for the
// server's job. Import id: "<project_id>/<extension name>".
import type { ObjectValue } from "../cty/types.js";
import { errorDiagnostic } from "../framework/diagnostics.js";
import { CreatedWithError, type ProviderContext, type Resource } from "../framework/resource.js";
import { timeoutMs, timeoutsBlock } from "../framework/timeouts.js";
import { DiagnosticError } from "../framework/diagnostics.js";
import type { AttributeSpec } from "../schema/schema.js";
import { api, apiErrorCode, checkWithSchemas, isNotFound, requireString } from "./common.js";
import { liveProject } from "./project.js";

const CREATE_TIMEOUT = "10m";
const DELETE_TIMEOUT = "10m";

const attributes: Record<string, AttributeSpec> = {
  id: { type: "string", computed: true, description: 'The import id, "<project_id>/<name>".' },
  project_id: { type: "string", required: true, requiresReplace: true, description: "The project whose database gets the extension." },
  name: { type: "string", required: true, requiresReplace: true, description: 'The extension, e.g. "pgcrypto", "citext", "pg_trgm".' },
  version: { type: "string", computed: true, description: "The extension's version (the cluster's default version)." },
};

/** The project is being or has been deleted (the extension list needs a ready project). */
function projectGoneConflict(err: unknown): boolean {
  return apiErrorCode(err) === "project_deleted";
}

async function readExtension(ctx: ProviderContext, projectId: string, name: string): Promise<ObjectValue | null> {
  // One call, not two: the list answers 404 for a missing project and 409 for a deleted one.
  let extensions;
  try {
    ({ extensions } = await ctx.client.listExtensions(projectId));
  } catch (err) {
    if (isNotFound(err) || projectGoneConflict(err)) return null;
    throw err;
  }
  const found = extensions.find((e) => e.name === name && e.enabled);
  return found ? { id: `${projectId}/${name}`, project_id: projectId, name, version: found.default_version } : null;
}

export const extensionResource: Resource = {
  typeName: "capydb_extension",
  schema: {
    version: 0,
    block: {
      description: "A PostgreSQL extension enabled in a project's database (trusted extensions, or those on the platform's allowlist).",
      attributes,
      blocks: { timeouts: timeoutsBlock(["create", "delete"], { create: CREATE_TIMEOUT, delete: DELETE_TIMEOUT }) },
    },
  },

  async validate(config) {
    const { ExtensionName } = await api();
    return checkWithSchemas(config, { name: ExtensionName });
  },

  async modifyPlan({ ctx, prior, planned }) {
    // Say at plan time, not halfway through apply, that the cluster has no such extension.
    const projectId = planned.project_id;
    const name = planned.name;
    if (prior !== null || !ctx || typeof projectId !== "string" || typeof name !== "string") return [];
    let available: string[];
    try {
      available = (await ctx.client.listExtensions(projectId)).extensions.map((e) => e.name);
    } catch {
      return []; // the project may not be ready yet: apply will tell
    }
    if (available.includes(name)) return [];
    return [errorDiagnostic("Unknown extension", `name: extension "${name}" is not available on this cluster`, ["name"])];
  },

  async create(ctx, planned) {
    const projectId = requireString(planned, "project_id");
    const name = requireString(planned, "name");
    const { job } = await ctx.client.enableExtension(projectId, name);
    const pending: ObjectValue = { id: `${projectId}/${name}`, project_id: projectId, name, version: null };
    try {
      await ctx.client.waitForJob(job.id, { timeoutMs: timeoutMs(planned, "create", CREATE_TIMEOUT), signal: ctx.signal });
    } catch (err) {
      throw new CreatedWithError(pending, err);
    }
    return (await readExtension(ctx, projectId, name)) ?? pending;
  },

  read(ctx, state) {
    return readExtension(ctx, requireString(state, "project_id"), requireString(state, "name"));
  },

  update(_ctx, prior) {
    // Both arguments force replacement: only the timeouts block can change in place.
    return Promise.resolve(prior);
  },

  async delete(ctx, prior) {
    const projectId = requireString(prior, "project_id");
    if (!(await liveProject(ctx, projectId))) return;
    let jobId: string;
    try {
      jobId = (await ctx.client.disableExtension(projectId, requireString(prior, "name"))).job.id;
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    await ctx.client.waitForJob(jobId, { timeoutMs: timeoutMs(prior, "delete", DELETE_TIMEOUT), signal: ctx.signal });
  },

  async importState(ctx, id) {
    const slash = id.indexOf("/");
    if (slash <= 0 || slash === id.length - 1) {
      throw new DiagnosticError("Invalid import id", `Import a capydb_extension as "<project_id>/<name>", e.g. prj_abc123/pgcrypto; got "${id}".`);
    }
    const state = await readExtension(ctx, id.slice(0, slash), id.slice(slash + 1));
    if (!state) throw new DiagnosticError("Cannot import extension", `Extension ${id.slice(slash + 1)} is not enabled in project ${id.slice(0, slash)}.`);
    return state;
  },
};
