// capydb_preview_database: a disposable copy of a project's database (or an empty one).
// ttl_seconds changes in place (the preview is extended to expire ttl_seconds from now); the
// other arguments force a new preview. Import id: the preview id (pdb_...).
import type { PreviewDatabase } from "@capydb/api";
import { type ObjectValue, UNKNOWN, valuesEqual } from "../cty/types.js";
import { DiagnosticError } from "../framework/diagnostics.js";
import { CreatedWithError, type ProviderContext, type Resource } from "../framework/resource.js";
import { timeoutMs, timeoutsBlock } from "../framework/timeouts.js";
import type { AttributeSpec } from "../schema/schema.js";
import { api, checkWithSchemas, isNotFound, knownFields, num, requireString, secondsBetween } from "./common.js";

const CREATE_TIMEOUT = "20m";
const DELETE_TIMEOUT = "10m";
const GONE_STATES = new Set(["deleting", "deleted", "promoted"]);

const attributes: Record<string, AttributeSpec> = {
  id: { type: "string", computed: true, description: "The preview id (pdb_...)." },
  project_id: { type: "string", required: true, requiresReplace: true, description: "The project the preview copies." },
  name: {
    type: "string",
    optional: true,
    computed: true,
    requiresReplace: true,
    description: "1-40 lowercase letters, digits or dashes, unique among the project's live previews (default preview-<id>).",
  },
  source_kind: {
    type: "string",
    optional: true,
    computed: true,
    requiresReplace: true,
    description: "project (a copy of the project's database, the default) or empty.",
  },
  mode: { type: "string", optional: true, computed: true, requiresReplace: true, description: "full (schema and data, the default) or schema_only." },
  ttl_seconds: {
    type: "number",
    optional: true,
    computed: true,
    description: "Lifetime in seconds, 60 to 2592000 (default 7 days). Changing it extends the preview to expire ttl_seconds from the apply.",
  },
  state: { type: "string", computed: true, description: "creating, ready, resetting, failed, deleting, deleted or promoted." },
  database_name: { type: "string", computed: true, description: "The preview's PostgreSQL database." },
  role_name: { type: "string", computed: true, description: "The preview's own login role." },
  public_host: { type: "string", computed: true, description: "Host applications connect to." },
  direct_port: { type: "number", computed: true, description: "PostgreSQL port (direct connections)." },
  pooled_port: { type: "number", computed: true, description: "PgBouncer port; 0 when no pooler is installed." },
  ssl_mode: { type: "string", computed: true, description: "The sslmode clients should use." },
  ttl_expires_at: { type: "string", computed: true, description: "When the server deletes the preview (RFC 3339)." },
  connection_uri: { type: "string", computed: true, sensitive: true, description: "postgresql:// URI with the preview role's password." },
};

/**
 * The API does not return ttl_seconds; the state keeps the configured one. When it is not known
 * (import, or no value configured) it is derived from the expiry: exact for a preview never extended.
 */
function previewState(p: PreviewDatabase, connectionUri: string | null, ttlSeconds: number | undefined): ObjectValue {
  return {
    id: p.id,
    project_id: p.project_id,
    name: p.name,
    source_kind: p.source_kind,
    mode: p.mode,
    ttl_seconds: ttlSeconds ?? secondsBetween(p.created_at, p.ttl_expires_at),
    state: p.state,
    database_name: p.database_name,
    role_name: p.role_name,
    public_host: p.public_host,
    direct_port: p.direct_port,
    pooled_port: p.pooled_port,
    ssl_mode: p.ssl_mode,
    ttl_expires_at: p.ttl_expires_at,
    connection_uri: connectionUri,
  };
}

async function livePreview(ctx: ProviderContext, id: string): Promise<PreviewDatabase | null> {
  try {
    const { preview } = await ctx.client.getPreview(id);
    return GONE_STATES.has(preview.state) ? null : preview;
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

async function readPreview(ctx: ProviderContext, id: string, ttlSeconds: number | undefined): Promise<ObjectValue | null> {
  const preview = await livePreview(ctx, id);
  if (!preview) return null;
  const uri = preview.state === "failed" ? null : await ctx.client.getPreviewConnectionUri(id);
  return previewState(preview, uri, ttlSeconds);
}

export const previewDatabaseResource: Resource = {
  typeName: "capydb_preview_database",
  schema: {
    version: 0,
    block: {
      description: "A preview database: a disposable copy of a project's database with its own role, deleted by the server when its TTL runs out.",
      attributes,
      blocks: { timeouts: timeoutsBlock(["create", "delete"], { create: CREATE_TIMEOUT, delete: DELETE_TIMEOUT }) },
    },
  },

  async validate(config) {
    const { CreatePreviewRequest } = await api();
    const { name, source_kind, mode, ttl_seconds } = CreatePreviewRequest.shape;
    const diagnostics = checkWithSchemas(config, { name, source_kind, mode, ttl_seconds });
    if (config.source_kind === "backup") {
      diagnostics.push({
        severity: 1,
        summary: "Invalid attribute value",
        detail: 'source_kind: "backup" previews need a backup id and are not managed by this resource; use "project" or "empty".',
        attribute: { steps: [{ attribute_name: "source_kind" }] },
      });
    }
    return diagnostics;
  },

  modifyPlan({ prior, planned, requiresReplace }) {
    if (prior === null) return [];
    if (prior.state === "failed") {
      planned.state = UNKNOWN;
      requiresReplace.add("state");
    } else if (!valuesEqual(prior.ttl_seconds, planned.ttl_seconds)) {
      planned.ttl_expires_at = UNKNOWN;
    }
    return [];
  },

  async create(ctx, planned) {
    const projectId = requireString(planned, "project_id");
    const body = knownFields(planned, ["name", "source_kind", "mode", "ttl_seconds"]);
    const { job, preview } = await ctx.client.createPreview(projectId, body);
    const ttl = num(planned.ttl_seconds);
    try {
      await ctx.client.waitForJob(job.id, { timeoutMs: timeoutMs(planned, "create", CREATE_TIMEOUT), signal: ctx.signal });
    } catch (err) {
      const now = await readPreview(ctx, preview.id, ttl).catch(() => null);
      throw new CreatedWithError(now ?? previewState(preview, null, ttl), err);
    }
    const state = await readPreview(ctx, preview.id, ttl);
    if (!state) throw new CreatedWithError(previewState(preview, null, ttl), new Error(`preview ${preview.id} disappeared right after it was created`));
    return state;
  },

  read(ctx, state) {
    return readPreview(ctx, requireString(state, "id"), num(state.ttl_seconds));
  },

  async update(ctx, prior, planned) {
    const id = requireString(prior, "id");
    const ttl = num(planned.ttl_seconds);
    if (ttl !== undefined && ttl !== prior.ttl_seconds) await ctx.client.extendPreview(id, { ttl_seconds: ttl });
    const state = await readPreview(ctx, id, ttl);
    if (!state) throw new DiagnosticError("Preview is gone", `Preview ${id} was deleted (or expired) while it was being updated.`);
    return state;
  },

  async delete(ctx, prior) {
    const id = requireString(prior, "id");
    if (!(await livePreview(ctx, id))) return;
    let jobId: string;
    try {
      jobId = (await ctx.client.deletePreview(id)).job.id;
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    await ctx.client.waitForJob(jobId, { timeoutMs: timeoutMs(prior, "delete", DELETE_TIMEOUT), signal: ctx.signal });
  },

  async importState(ctx, id) {
    const state = await readPreview(ctx, id, undefined);
    if (!state) throw new DiagnosticError("Cannot import preview database", `Preview ${id} does not exist, or is deleted or promoted.`);
    return state;
  },
};
