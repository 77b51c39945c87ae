// https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/trust_policy
// generated from terraform resource schema

import { Construct } from 'constructs';
import * as cdktf from 'cdktf';

// Configuration

export interface TrustPolicyConfig extends cdktf.TerraformMetaArguments {
  /**
  * The project whose previews the workflows may manage. Changing it creates a new policy.
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/trust_policy#project_id TrustPolicy#project_id}
  */
  readonly projectId: string;
  /**
  * Who issues the workflows' ID tokens: "github" (GitHub Actions, the default and only one so far).
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/trust_policy#oidc_provider TrustPolicy#oidc_provider}
  */
  readonly oidcProvider?: string;
  /**
  * The GitHub repository whose workflows are trusted, "owner/repo" (matched without regard to case, as GitHub does).
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/trust_policy#repository TrustPolicy#repository}
  */
  readonly repository: string;
  /**
  * GitHub's numeric id of the repository: a repository deleted and recreated under the same name has another, and is not trusted. Left out, the server pins the id of the first token exchanged (shown here after the next refresh).
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/trust_policy#repository_id TrustPolicy#repository_id}
  */
  readonly repositoryId?: string;
  /**
  * Refs the run must be on, e.g. ["refs/heads/main", "refs/pull/* /merge"]; "*" stands for one whole path segment. Left out: any ref.
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/trust_policy#refs TrustPolicy#refs}
   *
  * Note: The above comment contained a comment block ending sequence (* followed by /). We have introduced a space between to prevent syntax errors. Please ignore the space.
  */
  readonly refs?: string[];
  /**
  * GitHub environments the job must name (without regard to case). Left out: any environment, or none.
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/trust_policy#environments TrustPolicy#environments}
  */
  readonly environments?: string[];
  /**
  * Workflow events (event_name), e.g. ["pull_request", "push"]. Left out: any event.
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/trust_policy#events TrustPolicy#events}
  */
  readonly events?: string[];
  /**
  * What the workflows' tokens may do: create, reset, delete, extend, check, cutover. Left out: all of them.
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/trust_policy#commands TrustPolicy#commands}
  */
  readonly commands?: string[];
  /**
  * Trust pull_request_target and workflow_run runs, through which a fork's code can hold the repository's token (default false).
  *
  * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/trust_policy#allow_forks TrustPolicy#allow_forks}
  */
  readonly allowForks?: boolean | cdktf.IResolvable;
}

/**
* Represents a {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/trust_policy capydb_trust_policy}
*/
export class TrustPolicy extends cdktf.TerraformResource {

  // =================
  // STATIC PROPERTIES
  // =================
  public static readonly tfResourceType = "capydb_trust_policy";

  // ==============
  // STATIC Methods
  // ==============
  /**
  * Generates CDKTF code for importing a TrustPolicy resource upon running "cdktf plan <stack-name>"
  * @param scope The scope in which to define this construct
  * @param importToId The construct id used in the generated config for the TrustPolicy to import
  * @param importFromId The id of the existing TrustPolicy that should be imported. Refer to the {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/trust_policy#import import section} in the documentation of this resource for the id to use
  * @param provider? Optional instance of the provider where the TrustPolicy to import is found
  */
  public static generateConfigForImport(scope: Construct, importToId: string, importFromId: string, provider?: cdktf.TerraformProvider) {
        return new cdktf.ImportableResource(scope, importToId, { terraformResourceType: "capydb_trust_policy", importId: importFromId, provider });
      }

  // ===========
  // INITIALIZER
  // ===========

  /**
  * Create a new {@link https://registry.terraform.io/providers/capydb/capydb/0.1.0/docs/resources/trust_policy capydb_trust_policy} Resource
  *
  * @param scope The scope in which to define this construct
  * @param id The scoped construct ID. Must be unique amongst siblings in the same scope
  * @param options TrustPolicyConfig
  */
  public constructor(scope: Construct, id: string, config: TrustPolicyConfig) {
    super(scope, id, {
      terraformResourceType: 'capydb_trust_policy',
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
    this._oidcProvider = config.oidcProvider;
    this._repository = config.repository;
    this._repositoryId = config.repositoryId;
    this._refs = config.refs;
    this._environments = config.environments;
    this._events = config.events;
    this._commands = config.commands;
    this._allowForks = config.allowForks;
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

  // oidc_provider - computed: true, optional: true, required: false
  private _oidcProvider?: string; 
  public get oidcProvider() {
    return this.getStringAttribute('oidc_provider');
  }
  public set oidcProvider(value: string) {
    this._oidcProvider = value;
  }
  public resetOidcProvider() {
    this._oidcProvider = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get oidcProviderInput() {
    return this._oidcProvider;
  }

  // repository - computed: false, optional: false, required: true
  private _repository?: string; 
  public get repository() {
    return this.getStringAttribute('repository');
  }
  public set repository(value: string) {
    this._repository = value;
  }
  // Temporarily expose input value. Use with caution.
  public get repositoryInput() {
    return this._repository;
  }

  // repository_id - computed: true, optional: true, required: false
  private _repositoryId?: string; 
  public get repositoryId() {
    return this.getStringAttribute('repository_id');
  }
  public set repositoryId(value: string) {
    this._repositoryId = value;
  }
  public resetRepositoryId() {
    this._repositoryId = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get repositoryIdInput() {
    return this._repositoryId;
  }

  // refs - computed: false, optional: true, required: false
  private _refs?: string[]; 
  public get refs() {
    return this.getListAttribute('refs');
  }
  public set refs(value: string[]) {
    this._refs = value;
  }
  public resetRefs() {
    this._refs = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get refsInput() {
    return this._refs;
  }

  // environments - computed: false, optional: true, required: false
  private _environments?: string[]; 
  public get environments() {
    return this.getListAttribute('environments');
  }
  public set environments(value: string[]) {
    this._environments = value;
  }
  public resetEnvironments() {
    this._environments = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get environmentsInput() {
    return this._environments;
  }

  // events - computed: false, optional: true, required: false
  private _events?: string[]; 
  public get events() {
    return this.getListAttribute('events');
  }
  public set events(value: string[]) {
    this._events = value;
  }
  public resetEvents() {
    this._events = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get eventsInput() {
    return this._events;
  }

  // commands - computed: true, optional: true, required: false
  private _commands?: string[]; 
  public get commands() {
    return this.getListAttribute('commands');
  }
  public set commands(value: string[]) {
    this._commands = value;
  }
  public resetCommands() {
    this._commands = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get commandsInput() {
    return this._commands;
  }

  // allow_forks - computed: true, optional: true, required: false
  private _allowForks?: boolean | cdktf.IResolvable; 
  public get allowForks() {
    return this.getBooleanAttribute('allow_forks');
  }
  public set allowForks(value: boolean | cdktf.IResolvable) {
    this._allowForks = value;
  }
  public resetAllowForks() {
    this._allowForks = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get allowForksInput() {
    return this._allowForks;
  }

  // created_at - computed: true, optional: false, required: false
  public get createdAt() {
    return this.getStringAttribute('created_at');
  }

  // =========
  // SYNTHESIS
  // =========

  protected synthesizeAttributes(): { [name: string]: any } {
    return {
      project_id: cdktf.stringToTerraform(this._projectId),
      oidc_provider: cdktf.stringToTerraform(this._oidcProvider),
      repository: cdktf.stringToTerraform(this._repository),
      repository_id: cdktf.stringToTerraform(this._repositoryId),
      refs: cdktf.listMapper(cdktf.stringToTerraform, false)(this._refs),
      environments: cdktf.listMapper(cdktf.stringToTerraform, false)(this._environments),
      events: cdktf.listMapper(cdktf.stringToTerraform, false)(this._events),
      commands: cdktf.listMapper(cdktf.stringToTerraform, false)(this._commands),
      allow_forks: cdktf.booleanToTerraform(this._allowForks),
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
      oidc_provider: {
        value: cdktf.stringToHclTerraform(this._oidcProvider),
        isBlock: false,
        type: "simple",
        storageClassType: "string",
      },
      repository: {
        value: cdktf.stringToHclTerraform(this._repository),
        isBlock: false,
        type: "simple",
        storageClassType: "string",
      },
      repository_id: {
        value: cdktf.stringToHclTerraform(this._repositoryId),
        isBlock: false,
        type: "simple",
        storageClassType: "string",
      },
      refs: {
        value: cdktf.listMapperHcl(cdktf.stringToHclTerraform, false)(this._refs),
        isBlock: false,
        type: "list",
        storageClassType: "stringList",
      },
      environments: {
        value: cdktf.listMapperHcl(cdktf.stringToHclTerraform, false)(this._environments),
        isBlock: false,
        type: "list",
        storageClassType: "stringList",
      },
      events: {
        value: cdktf.listMapperHcl(cdktf.stringToHclTerraform, false)(this._events),
        isBlock: false,
        type: "list",
        storageClassType: "stringList",
      },
      commands: {
        value: cdktf.listMapperHcl(cdktf.stringToHclTerraform, false)(this._commands),
        isBlock: false,
        type: "list",
        storageClassType: "stringList",
      },
      allow_forks: {
        value: cdktf.booleanToHclTerraform(this._allowForks),
        isBlock: false,
        type: "simple",
        storageClassType: "boolean",
      },
    };

    // remove undefined attributes
    return Object.fromEntries(Object.entries(attrs).filter(([_, value]) => value !== undefined && value.value !== undefined ))
  }
}
