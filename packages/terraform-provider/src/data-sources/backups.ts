// data "capydb_backups": the backups of a project, newest first (as the API lists them).
import type { CtyType } from "../cty/types.js";
import { DiagnosticError } from "../framework/diagnostics.js";
import type { DataSource } from "../framework/resource.js";
import type { AttributeSpec } from "../schema/schema.js";
import { requireString } from "../resources/common.js";
import { liveProject } from "../resources/project.js";

const backupType: CtyType = {
  object: {
    id: "string",
    label: "string",
    state: "string",
    database_name: "string",
    backup_key: "string",
    size_bytes: "number",
    verification_state: "string",
    verification_error: "string",
    verified_at: "string",
    created_at: "string",
  },
};

const attributes: Record<string, AttributeSpec> = {
  id: { type: "string", computed: true, description: "The project id (the data source's id)." },
  project_id: { type: "string", required: true, description: "The project whose backups to list." },
  backups: {
    type: { list: backupType },
    computed: true,
    description:
      "The backups: id, label, state (pending, running, completed, failed), database_name, backup_key, size_bytes, verification_state (pending, verified, failed), verification_error, verified_at, created_at.",
  },
};

export const backupsDataSource: DataSource = {
  typeName: "capydb_backups",
  schema: { version: 0, block: { description: "Lists a project's backups.", attributes } },

  async read(ctx, config) {
    const projectId = requireString(config, "project_id");
    if (!(await liveProject(ctx, projectId))) {
      throw new DiagnosticError("Project not found", `Project ${projectId} does not exist (or is deleted) for this API key.`, ["project_id"]);
    }
    const { backups } = await ctx.client.listBackups(projectId);
    return {
      id: projectId,
      project_id: projectId,
      backups: backups.map((b) => ({
        id: b.id,
        label: b.label,
        state: b.state,
        database_name: b.database_name,
        backup_key: b.backup_key,
        size_bytes: b.size_bytes,
        verification_state: b.verification_state,
        verification_error: b.verification_error,
        verified_at: b.verified_at,
        created_at: b.created_at,
      })),
    };
  },
};
