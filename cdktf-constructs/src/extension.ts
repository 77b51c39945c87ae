// CapyExtension: one PostgreSQL extension enabled in a project's database.
import type { TerraformProvider } from "cdktf";
import { Construct } from "constructs";
import { Extension } from "./.gen/providers/capydb/extension/index.js";
import { extensionName, nonEmpty, propName, validateAtSynth } from "./validation.js";

export interface CapyExtensionProps {
  /**
   * The project whose database gets the extension: a project id (`prj_...`) or a token such as
   * `CapyProject.projectId` or a `TerraformVariable`'s value. Changing it replaces the extension.
   */
  readonly projectId: string;

  /**
   * The extension, as `CREATE EXTENSION` names it: `"pgcrypto"`, `"citext"`, `"pg_trgm"`...
   * Lowercase letters, digits, `_` and `-`, at most 63 characters; the server refuses extensions
   * its clusters do not offer. Changing it replaces the extension.
   */
  readonly name: string;

  /**
   * The capydb provider configuration to use.
   *
   * @default - the stack's default (unaliased) capydb provider
   */
  readonly provider?: TerraformProvider;
}

/**
 * A PostgreSQL extension enabled in a project's database (`capydb_extension`), for a project
 * declared anywhere: in this stack, another stack, or outside Terraform (by id). For a project
 * declared with `CapyProject`, its `extensions` prop or `addExtension()` is shorter.
 *
 * Destroying it runs `DROP EXTENSION` in the project's database.
 */
export class CapyExtension extends Construct {
  /** The generated L1 resource, for anything these props do not cover (timeouts, lifecycle). */
  readonly resource: Extension;
  /** The extension's name as given. */
  readonly extensionName: string;
  /** The id Terraform imports it by, `"<project_id>/<name>"` (a token). */
  readonly extensionId: string;
  /** The installed version, e.g. `"1.3"` (a token: known after apply). */
  readonly version: string;

  constructor(scope: Construct, id: string, props: CapyExtensionProps) {
    super(scope, id);
    this.extensionName = props.name;
    this.resource = new Extension(this, "Resource", { projectId: props.projectId, name: props.name, provider: props.provider });
    this.extensionId = this.resource.id;
    this.version = this.resource.version;
    validateAtSynth(this, () => [nonEmpty(propName(this, "projectId"), props.projectId ?? ""), extensionName(propName(this, "name"), props.name)]);
  }
}
