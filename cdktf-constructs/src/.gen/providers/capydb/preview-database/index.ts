// https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/preview_database
// generated from terraform resource schema

import { Construct } from 'constructs';
import * as cdktf from 'cdktf';

// Configuration

export interface PreviewDatabaseConfig extends cdktf.TerraformMetaArguments {
  /**
  * The project the preview copies.
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/preview_database#project_id PreviewDatabase#project_id}
  */
  readonly projectId: string;
  /**
  * 1-40 lowercase letters, digits or dashes, unique among the project's live previews (default preview-<id>).
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/preview_database#name PreviewDatabase#name}
  */
  readonly name?: string;
  /**
  * project (a copy of the project's database, the default) or empty.
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/preview_database#source_kind PreviewDatabase#source_kind}
  */
  readonly sourceKind?: string;
  /**
  * full (schema and data, the default) or schema_only.
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/preview_database#mode PreviewDatabase#mode}
  */
  readonly mode?: string;
  /**
  * Lifetime in seconds, 60 to 2592000 (default 7 days). Changing it extends the preview to expire ttl_seconds from the apply.
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/preview_database#ttl_seconds PreviewDatabase#ttl_seconds}
  */
  readonly ttlSeconds?: number;
  /**
  * timeouts block
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/preview_database#timeouts PreviewDatabase#timeouts}
  */
  readonly timeouts?: PreviewDatabaseTimeouts;
}
export interface PreviewDatabaseTimeouts {
  /**
  * A duration such as "30s", "20m" or "1h" (default 20m).
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/preview_database#create PreviewDatabase#create}
  */
  readonly create?: string;
  /**
  * A duration such as "30s", "20m" or "1h" (default 10m).
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/preview_database#delete PreviewDatabase#delete}
  */
  readonly delete?: string;
}

export function previewDatabaseTimeoutsToTerraform(struct?: PreviewDatabaseTimeouts | cdktf.IResolvable): any {
  if (!cdktf.canInspect(struct) || cdktf.Tokenization.isResolvable(struct)) { return struct; }
  if (cdktf.isComplexElement(struct)) {
    throw new Error("A complex element was used as configuration, this is not supported: https://cdk.tf/complex-object-as-configuration");
  }
  return {
    create: cdktf.stringToTerraform(struct!.create),
    delete: cdktf.stringToTerraform(struct!.delete),
  }
}


export function previewDatabaseTimeoutsToHclTerraform(struct?: PreviewDatabaseTimeouts | cdktf.IResolvable): any {
  if (!cdktf.canInspect(struct) || cdktf.Tokenization.isResolvable(struct)) { return struct; }
  if (cdktf.isComplexElement(struct)) {
    throw new Error("A complex element was used as configuration, this is not supported: https://cdk.tf/complex-object-as-configuration");
  }
  const attrs = {
    create: {
      value: cdktf.stringToHclTerraform(struct!.create),
      isBlock: false,
      type: "simple",
      storageClassType: "string",
    },
    delete: {
      value: cdktf.stringToHclTerraform(struct!.delete),
      isBlock: false,
      type: "simple",
      storageClassType: "string",
    },
  };

  // remove undefined attributes
  return Object.fromEntries(Object.entries(attrs).filter(([_, value]) => value !== undefined && value.value !== undefined));
}

export class PreviewDatabaseTimeoutsOutputReference extends cdktf.ComplexObject {
  private isEmptyObject = false;
  private resolvableValue?: cdktf.IResolvable;

  /**
  * @param terraformResource The parent resource
  * @param terraformAttribute The attribute on the parent resource this class is referencing
  */
  public constructor(terraformResource: cdktf.IInterpolatingParent, terraformAttribute: string) {
    super(terraformResource, terraformAttribute, false);
  }

  public get internalValue(): PreviewDatabaseTimeouts | cdktf.IResolvable | undefined {
    if (this.resolvableValue) {
      return this.resolvableValue;
    }
    let hasAnyValues = this.isEmptyObject;
    const internalValueResult: any = {};
    if (this._create !== undefined) {
      hasAnyValues = true;
      internalValueResult.create = this._create;
    }
    if (this._delete !== undefined) {
      hasAnyValues = true;
      internalValueResult.delete = this._delete;
    }
    return hasAnyValues ? internalValueResult : undefined;
  }

  public set internalValue(value: PreviewDatabaseTimeouts | cdktf.IResolvable | undefined) {
    if (value === undefined) {
      this.isEmptyObject = false;
      this.resolvableValue = undefined;
      this._create = undefined;
      this._delete = undefined;
    }
    else if (cdktf.Tokenization.isResolvable(value)) {
      this.isEmptyObject = false;
      this.resolvableValue = value;
    }
    else {
      this.isEmptyObject = Object.keys(value).length === 0;
      this.resolvableValue = undefined;
      this._create = value.create;
      this._delete = value.delete;
    }
  }

  // create - computed: false, optional: true, required: false
  private _create?: string; 
  public get create() {
    return this.getStringAttribute('create');
  }
  public set create(value: string) {
    this._create = value;
  }
  public resetCreate() {
    this._create = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get createInput() {
    return this._create;
  }

  // delete - computed: false, optional: true, required: false
  private _delete?: string; 
  public get delete() {
    return this.getStringAttribute('delete');
  }
  public set delete(value: string) {
    this._delete = value;
  }
  public resetDelete() {
    this._delete = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get deleteInput() {
    return this._delete;
  }
}

/**
* Represents a {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/preview_database capydb_preview_database}
*/
export class PreviewDatabase extends cdktf.TerraformResource {

  // =================
  // STATIC PROPERTIES
  // =================
  public static readonly tfResourceType = "capydb_preview_database";

  // ==============
  // STATIC Methods
  // ==============
  /**
  * Generates CDKTF code for importing a PreviewDatabase resource upon running "cdktf plan <stack-name>"
  * @param scope The scope in which to define this construct
  * @param importToId The construct id used in the generated config for the PreviewDatabase to import
  * @param importFromId The id of the existing PreviewDatabase that should be imported. Refer to the {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/preview_database#import import section} in the documentation of this resource for the id to use
  * @param provider? Optional instance of the provider where the PreviewDatabase to import is found
  */
  public static generateConfigForImport(scope: Construct, importToId: string, importFromId: string, provider?: cdktf.TerraformProvider) {
        return new cdktf.ImportableResource(scope, importToId, { terraformResourceType: "capydb_preview_database", importId: importFromId, provider });
      }

  // ===========
  // INITIALIZER
  // ===========

  /**
  * Create a new {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/preview_database capydb_preview_database} Resource
  *
  * @param scope The scope in which to define this construct
  * @param id The scoped construct ID. Must be unique amongst siblings in the same scope
  * @param options PreviewDatabaseConfig
  */
  public constructor(scope: Construct, id: string, config: PreviewDatabaseConfig) {
    super(scope, id, {
      terraformResourceType: 'capydb_preview_database',
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
    this._name = config.name;
    this._sourceKind = config.sourceKind;
    this._mode = config.mode;
    this._ttlSeconds = config.ttlSeconds;
    this._timeouts.internalValue = config.timeouts;
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

  // name - computed: true, optional: true, required: false
  private _name?: string; 
  public get name() {
    return this.getStringAttribute('name');
  }
  public set name(value: string) {
    this._name = value;
  }
  public resetName() {
    this._name = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get nameInput() {
    return this._name;
  }

  // source_kind - computed: true, optional: true, required: false
  private _sourceKind?: string; 
  public get sourceKind() {
    return this.getStringAttribute('source_kind');
  }
  public set sourceKind(value: string) {
    this._sourceKind = value;
  }
  public resetSourceKind() {
    this._sourceKind = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get sourceKindInput() {
    return this._sourceKind;
  }

  // mode - computed: true, optional: true, required: false
  private _mode?: string; 
  public get mode() {
    return this.getStringAttribute('mode');
  }
  public set mode(value: string) {
    this._mode = value;
  }
  public resetMode() {
    this._mode = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get modeInput() {
    return this._mode;
  }

  // ttl_seconds - computed: true, optional: true, required: false
  private _ttlSeconds?: number; 
  public get ttlSeconds() {
    return this.getNumberAttribute('ttl_seconds');
  }
  public set ttlSeconds(value: number) {
    this._ttlSeconds = value;
  }
  public resetTtlSeconds() {
    this._ttlSeconds = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get ttlSecondsInput() {
    return this._ttlSeconds;
  }

  // state - computed: true, optional: false, required: false
  public get state() {
    return this.getStringAttribute('state');
  }

  // database_name - computed: true, optional: false, required: false
  public get databaseName() {
    return this.getStringAttribute('database_name');
  }

  // role_name - computed: true, optional: false, required: false
  public get roleName() {
    return this.getStringAttribute('role_name');
  }

  // public_host - computed: true, optional: false, required: false
  public get publicHost() {
    return this.getStringAttribute('public_host');
  }

  // direct_port - computed: true, optional: false, required: false
  public get directPort() {
    return this.getNumberAttribute('direct_port');
  }

  // pooled_port - computed: true, optional: false, required: false
  public get pooledPort() {
    return this.getNumberAttribute('pooled_port');
  }

  // ssl_mode - computed: true, optional: false, required: false
  public get sslMode() {
    return this.getStringAttribute('ssl_mode');
  }

  // ttl_expires_at - computed: true, optional: false, required: false
  public get ttlExpiresAt() {
    return this.getStringAttribute('ttl_expires_at');
  }

  // connection_uri - computed: true, optional: false, required: false
  public get connectionUri() {
    return this.getStringAttribute('connection_uri');
  }

  // timeouts - computed: false, optional: true, required: false
  private _timeouts = new PreviewDatabaseTimeoutsOutputReference(this, "timeouts");
  public get timeouts() {
    return this._timeouts;
  }
  public putTimeouts(value: PreviewDatabaseTimeouts) {
    this._timeouts.internalValue = value;
  }
  public resetTimeouts() {
    this._timeouts.internalValue = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get timeoutsInput() {
    return this._timeouts.internalValue;
  }

  // =========
  // SYNTHESIS
  // =========

  protected synthesizeAttributes(): { [name: string]: any } {
    return {
      project_id: cdktf.stringToTerraform(this._projectId),
      name: cdktf.stringToTerraform(this._name),
      source_kind: cdktf.stringToTerraform(this._sourceKind),
      mode: cdktf.stringToTerraform(this._mode),
      ttl_seconds: cdktf.numberToTerraform(this._ttlSeconds),
      timeouts: previewDatabaseTimeoutsToTerraform(this._timeouts.internalValue),
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
      name: {
        value: cdktf.stringToHclTerraform(this._name),
        isBlock: false,
        type: "simple",
        storageClassType: "string",
      },
      source_kind: {
        value: cdktf.stringToHclTerraform(this._sourceKind),
        isBlock: false,
        type: "simple",
        storageClassType: "string",
      },
      mode: {
        value: cdktf.stringToHclTerraform(this._mode),
        isBlock: false,
        type: "simple",
        storageClassType: "string",
      },
      ttl_seconds: {
        value: cdktf.numberToHclTerraform(this._ttlSeconds),
        isBlock: false,
        type: "simple",
        storageClassType: "number",
      },
      timeouts: {
        value: previewDatabaseTimeoutsToHclTerraform(this._timeouts.internalValue),
        isBlock: true,
        type: "struct",
        storageClassType: "PreviewDatabaseTimeouts",
      },
    };

    // remove undefined attributes
    return Object.fromEntries(Object.entries(attrs).filter(([_, value]) => value !== undefined && value.value !== undefined ))
  }
}
