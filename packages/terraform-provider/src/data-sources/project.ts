// data "capydb_project": a project looked up by id.
import { DiagnosticError } from "../framework/diagnostics.js";
import type { DataSource } from "../framework/resource.js";
import type { AttributeSpec } from "../schema/schema.js";
import { requireString } from "../resources/common.js";
import { PROJECT_COMPUTED, liveProject, projectState, projectUris } from "../resources/project.js";

const attributes: Record<string, AttributeSpec> = {
  id: { type: "string", required: true, description: "The project id (prj_...)." },
  name: { type: "string", computed: true, description: "Display name." },
  organization_id: { type: "string", computed: true, description: "Organization that owns the project." },
  region: { type: "string", computed: true, description: "Region whose cluster holds the database." },
  plan: { type: "string", computed: true, description: "free, pro or enterprise." },
  environment: { type: "string", computed: true, description: "production, staging or development." },
  max_connections: { type: "number", computed: true, description: "Connection limit of the project's role." },
  statement_timeout: { type: "string", computed: true, description: "statement_timeout of the role." },
  idle_transaction_timeout: { type: "string", computed: true, description: "idle_in_transaction_session_timeout of the role." },
  storage_limit_bytes: { type: "number", computed: true, description: "Storage limit in bytes." },
  ...PROJECT_COMPUTED,
};

export const projectDataSource: DataSource = {
  typeName: "capydb_project",
  schema: { version: 0, block: { description: "Reads a CapyDB project by id.", attributes } },

  async read(ctx, config) {
    const id = requireString(config, "id");
    const project = await liveProject(ctx, id);
    if (!project) throw new DiagnosticError("Project not found", `Project ${id} does not exist (or is deleted) for this API key.`, ["id"]);
    return projectState(project, await projectUris(ctx, project));
  },
};
