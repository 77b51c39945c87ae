// capydb_scheduled_backup: the project's daily backup schedule (PUT .../scheduled-backups/default).
// Every change is a PUT in place; the API has no DELETE for it, so destroy deactivates it.
// Import id: the project id (a project has one default schedule).
import type { ScheduledBackup } from "@capydb/api";
import type { ObjectValue } from "../cty/types.js";
import { DiagnosticError } from "../framework/diagnostics.js";
import type { ProviderContext, Resource } from "../framework/resource.js";
import type { AttributeSpec } from "../schema/schema.js";
import { api, checkWithSchemas, num, requireString } from "./common.js";
import { liveProject } from "./project.js";

const attributes: Record<string, AttributeSpec> = {
  id: { type: "string", computed: true, description: "The schedule id (sbk_...)." },
  project_id: { type: "string", required: true, requiresReplace: true, description: "The project to back up. Changing it creates a new schedule." },
  cron_hour: { type: "number", required: true, description: "Hour of the daily backup, 0-23 (UTC)." },
  cron_minute: { type: "number", required: true, description: "Minute of the daily backup, 0-59." },
  is_active: { type: "bool", optional: true, computed: true, default: true, description: "Whether backups run (default true)." },
  retention_days: { type: "number", optional: true, computed: true, description: "Days a backup is kept, 1-365 (default: the server's, 7)." },
  last_run_at: { type: "string", computed: true, description: "When the schedule last enqueued a backup (RFC 3339), null before the first run." },
};

function scheduleState(s: ScheduledBackup): ObjectValue {
  return {
    id: s.id,
    project_id: s.project_id,
    cron_hour: s.cron_hour,
    cron_minute: s.cron_minute,
    is_active: s.is_active,
    retention_days: s.retention_days,
    last_run_at: s.last_run_at,
  };
}

async function readSchedule(ctx: ProviderContext, projectId: string, scheduleId: string | null): Promise<ObjectValue | null> {
  if (!(await liveProject(ctx, projectId))) return null;
  const { scheduled_backups } = await ctx.client.listScheduledBackups(projectId);
  const found = scheduleId ? scheduled_backups.find((s) => s.id === scheduleId) : scheduled_backups[0];
  return found ? scheduleState(found) : null;
}

async function put(ctx: ProviderContext, planned: ObjectValue, isActive: boolean): Promise<ObjectValue> {
  const projectId = requireString(planned, "project_id");
  const retention = num(planned.retention_days);
  const { scheduled_backup } = await ctx.client.putDefaultScheduledBackup(projectId, {
    cron_hour: num(planned.cron_hour)!,
    cron_minute: num(planned.cron_minute)!,
    is_active: isActive,
    ...(retention !== undefined ? { retention_days: retention } : {}),
  });
  return scheduleState(scheduled_backup);
}

export const scheduledBackupResource: Resource = {
  typeName: "capydb_scheduled_backup",
  schema: {
    version: 0,
    block: { description: "The daily backup schedule of a project (backups are verified by restore).", attributes },
  },
  // The server may record a run between plan and apply.
  unknownOnUpdate: ["last_run_at"],

  async validate(config) {
    const { PutScheduledBackupRequest } = await api();
    const { cron_hour, cron_minute, retention_days } = PutScheduledBackupRequest.shape;
    return checkWithSchemas(config, { cron_hour, cron_minute, retention_days });
  },

  create: (ctx, planned) => put(ctx, planned, planned.is_active !== false),
  update: (ctx, _prior, planned) => put(ctx, planned, planned.is_active !== false),

  read(ctx, state) {
    return readSchedule(ctx, requireString(state, "project_id"), typeof state.id === "string" ? state.id : null);
  },

  async delete(ctx, prior) {
    const projectId = requireString(prior, "project_id");
    if (!(await liveProject(ctx, projectId))) return; // the project took its schedule with it
    await put(ctx, prior, false);
  },

  async importState(ctx, id) {
    const projectId = id.split("/")[0];
    const state = await readSchedule(ctx, projectId, id.includes("/") ? id.split("/")[1] : null);
    if (!state)
      throw new DiagnosticError(
        "Cannot import scheduled backup",
        `Project ${projectId} has no backup schedule (or does not exist). Import with the project id.`,
      );
    return state;
  },
};
