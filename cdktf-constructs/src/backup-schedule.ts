// CapyBackupSchedule: a project's daily backup schedule.
import type { TerraformProvider } from "cdktf";
import { Construct } from "constructs";
import { ScheduledBackup } from "./.gen/providers/capydb/scheduled-backup/index.js";
import { integerInRange, nonEmpty, propName, validateAtSynth } from "./validation.js";

/** When a project is backed up, and for how long backups are kept. */
export interface BackupScheduleOptions {
  /** Hour of the daily backup, 0-23, in UTC. */
  readonly hour: number;

  /** Minute of the daily backup, 0-59. */
  readonly minute: number;

  /**
   * Days each backup is kept, 1-365; older ones are pruned by the server.
   *
   * @default 7 (the server's default)
   */
  readonly retentionDays?: number;

  /**
   * Whether the schedule runs. `false` keeps the schedule (and the backups already taken) but
   * enqueues no new backup.
   *
   * @default true
   */
  readonly enabled?: boolean;
}

export interface CapyBackupScheduleProps extends BackupScheduleOptions {
  /**
   * The project to back up: a project id (`prj_...`) or a token such as `CapyProject.projectId`.
   * Changing it creates a new schedule.
   */
  readonly projectId: string;

  /**
   * The capydb provider configuration to use.
   *
   * @default - the stack's default (unaliased) capydb provider
   */
  readonly provider?: TerraformProvider;
}

/**
 * The daily backup schedule of a project (`capydb_scheduled_backup`), for a project declared
 * anywhere (by id). A project has one schedule: declare it once per project. For a project
 * declared with `CapyProject`, its `backupSchedule` prop or `addBackupSchedule()` is shorter.
 *
 * Every change (hour, minute, retention, enabled) applies in place. The API has no way to delete
 * a schedule, so destroying this construct deactivates it; destroying the project removes it.
 */
export class CapyBackupSchedule extends Construct {
  /** The generated L1 resource, for anything these props do not cover. */
  readonly resource: ScheduledBackup;
  /** The schedule's id, `sbk_...` (a token). */
  readonly scheduleId: string;
  /** When the schedule last enqueued a backup, RFC 3339 (a token; empty before the first run). */
  readonly lastRunAt: string;

  constructor(scope: Construct, id: string, props: CapyBackupScheduleProps) {
    super(scope, id);
    this.resource = new ScheduledBackup(this, "Resource", {
      projectId: props.projectId,
      cronHour: props.hour,
      cronMinute: props.minute,
      retentionDays: props.retentionDays,
      isActive: props.enabled ?? true,
      provider: props.provider,
    });
    this.scheduleId = this.resource.id;
    this.lastRunAt = this.resource.lastRunAt;
    validateAtSynth(this, () => [
      nonEmpty(propName(this, "projectId"), props.projectId ?? ""),
      integerInRange(propName(this, "hour"), props.hour, 0, 23, "(UTC)"),
      integerInRange(propName(this, "minute"), props.minute, 0, 59),
      integerInRange(propName(this, "retentionDays"), props.retentionDays, 1, 365, "(days)"),
    ]);
  }
}
