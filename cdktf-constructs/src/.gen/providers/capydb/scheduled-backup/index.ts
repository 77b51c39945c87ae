// https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/scheduled_backup
// generated from terraform resource schema

import { Construct } from 'constructs';
import * as cdktf from 'cdktf';

// Configuration

export interface ScheduledBackupConfig extends cdktf.TerraformMetaArguments {
  /**
  * The project to back up. Changing it creates a new schedule.
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/scheduled_backup#project_id ScheduledBackup#project_id}
  */
  readonly projectId: string;
  /**
  * Hour of the daily backup, 0-23 (UTC).
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/scheduled_backup#cron_hour ScheduledBackup#cron_hour}
  */
  readonly cronHour: number;
  /**
  * Minute of the daily backup, 0-59.
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/scheduled_backup#cron_minute ScheduledBackup#cron_minute}
  */
  readonly cronMinute: number;
  /**
  * Whether backups run (default true).
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/scheduled_backup#is_active ScheduledBackup#is_active}
  */
  readonly isActive?: boolean | cdktf.IResolvable;
  /**
  * Days a backup is kept, 1-365 (default: the server's, 7).
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/scheduled_backup#retention_days ScheduledBackup#retention_days}
  */
  readonly retentionDays?: number;
}

/**
* Represents a {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/scheduled_backup capydb_scheduled_backup}
*/
export class ScheduledBackup extends cdktf.TerraformResource {

  // =================
  // STATIC PROPERTIES
  // =================
  public static readonly tfResourceType = "capydb_scheduled_backup";

  // ==============
  // STATIC Methods
  // ==============
  /**
  * Generates CDKTF code for importing a ScheduledBackup resource upon running "cdktf plan <stack-name>"
  * @param scope The scope in which to define this construct
  * @param importToId The construct id used in the generated config for the ScheduledBackup to import
  * @param importFromId The id of the existing ScheduledBackup that should be imported. Refer to the {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/scheduled_backup#import import section} in the documentation of this resource for the id to use
  * @param provider? Optional instance of the provider where the ScheduledBackup to import is found
  */
  public static generateConfigForImport(scope: Construct, importToId: string, importFromId: string, provider?: cdktf.TerraformProvider) {
        return new cdktf.ImportableResource(scope, importToId, { terraformResourceType: "capydb_scheduled_backup", importId: importFromId, provider });
      }

  // ===========
  // INITIALIZER
  // ===========

  /**
  * Create a new {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/scheduled_backup capydb_scheduled_backup} Resource
  *
  * @param scope The scope in which to define this construct
  * @param id The scoped construct ID. Must be unique amongst siblings in the same scope
  * @param options ScheduledBackupConfig
  */
  public constructor(scope: Construct, id: string, config: ScheduledBackupConfig) {
    super(scope, id, {
      terraformResourceType: 'capydb_scheduled_backup',
      terraformGeneratorMetadata: {
        providerName: 'capydb',
        providerVersion: '0.1.0',
        providerVersionConstraint: '~> 0.1.0'
      },
      provider: config.provider,
      dependsOn: config.dependsOn,
      count: config.count,
      lifecycle: config.lifecycle,
      provisioners: config.provisioners,
      connection: config.connection,
      forEach: config.forEach
    });
    this._projectId = config.projectId;
    this._cronHour = config.cronHour;
    this._cronMinute = config.cronMinute;
    this._isActive = config.isActive;
    this._retentionDays = config.retentionDays;
  }

  // ==========
  // ATTRIBUTES
  // ==========

  // id - computed: true, optional: false, required: false
  public get id() {
    return this.getStringAttribute('id');
  }

  // project_id - computed: false, optional: false, required: true
  private _projectId?: string; 
  public get projectId() {
    return this.getStringAttribute('project_id');
  }
  public set projectId(value: string) {
    this._projectId = value;
  }
  // Temporarily expose input value. Use with caution.
  public get projectIdInput() {
    return this._projectId;
  }

  // cron_hour - computed: false, optional: false, required: true
  private _cronHour?: number; 
  public get cronHour() {
    return this.getNumberAttribute('cron_hour');
  }
  public set cronHour(value: number) {
    this._cronHour = value;
  }
  // Temporarily expose input value. Use with caution.
  public get cronHourInput() {
    return this._cronHour;
  }

  // cron_minute - computed: false, optional: false, required: true
  private _cronMinute?: number; 
  public get cronMinute() {
    return this.getNumberAttribute('cron_minute');
  }
  public set cronMinute(value: number) {
    this._cronMinute = value;
  }
  // Temporarily expose input value. Use with caution.
  public get cronMinuteInput() {
    return this._cronMinute;
  }

  // is_active - computed: true, optional: true, required: false
  private _isActive?: boolean | cdktf.IResolvable; 
  public get isActive() {
    return this.getBooleanAttribute('is_active');
  }
  public set isActive(value: boolean | cdktf.IResolvable) {
    this._isActive = value;
  }
  public resetIsActive() {
    this._isActive = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get isActiveInput() {
    return this._isActive;
  }

  // retention_days - computed: true, optional: true, required: false
  private _retentionDays?: number; 
  public get retentionDays() {
    return this.getNumberAttribute('retention_days');
  }
  public set retentionDays(value: number) {
    this._retentionDays = value;
  }
  public resetRetentionDays() {
    this._retentionDays = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get retentionDaysInput() {
    return this._retentionDays;
  }

  // last_run_at - computed: true, optional: false, required: false
  public get lastRunAt() {
    return this.getStringAttribute('last_run_at');
  }

  // =========
  // SYNTHESIS
  // =========

  protected synthesizeAttributes(): { [name: string]: any } {
    return {
      project_id: cdktf.stringToTerraform(this._projectId),
      cron_hour: cdktf.numberToTerraform(this._cronHour),
      cron_minute: cdktf.numberToTerraform(this._cronMinute),
      is_active: cdktf.booleanToTerraform(this._isActive),
      retention_days: cdktf.numberToTerraform(this._retentionDays),
    };
  }

  protected synthesizeHclAttributes(): { [name: string]: any } {
    const attrs = {
      project_id: {
        value: cdktf.stringToHclTerraform(this._projectId),
        isBlock: false,
        type: "simple",
        storageClassType: "string",
      },
      cron_hour: {
        value: cdktf.numberToHclTerraform(this._cronHour),
        isBlock: false,
        type: "simple",
        storageClassType: "number",
      },
      cron_minute: {
        value: cdktf.numberToHclTerraform(this._cronMinute),
        isBlock: false,
        type: "simple",
        storageClassType: "number",
      },
      is_active: {
        value: cdktf.booleanToHclTerraform(this._isActive),
        isBlock: false,
        type: "simple",
        storageClassType: "boolean",
      },
      retention_days: {
        value: cdktf.numberToHclTerraform(this._retentionDays),
        isBlock: false,
        type: "simple",
        storageClassType: "number",
      },
    };

    // remove undefined attributes
    return Object.fromEntries(Object.entries(attrs).filter(([_, value]) => value !== undefined && value.value !== undefined ))
  }
}
