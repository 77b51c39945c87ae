// CapyProvider: the capydb provider block, from props or from the environment Terraform runs in.
import { Annotations, Token } from "cdktf";
import type { Construct } from "constructs";
import { CapydbProvider } from "./.gen/providers/capydb/provider/index.js";
import { httpUrl, nonEmpty, validateAtSynth } from "./validation.js";

export interface CapyProviderProps {
  /**
   * Base URL of the CapyDB API, e.g. `https://capydb.example.com`.
   *
   * @default - not written into the configuration: the provider reads `CAPYDB_API_URL` from the
   * environment of `terraform plan` / `apply` (or `cdktf deploy`).
   */
  readonly apiUrl?: string;

  /**
   * An organization API key (`capy_live_...`).
   *
   * Prefer a token (a sensitive `TerraformVariable`'s `stringValue`) or the environment: a literal
   * string is written in clear text into the synthesized `cdk.tf.json`, and the construct adds a
   * warning annotation when given one.
   *
   * @default - not written into the configuration: the provider reads `CAPYDB_API_KEY` from the
   * environment of `terraform plan` / `apply`.
   */
  readonly apiKey?: string;

  /**
   * Alias of this provider configuration, for a second CapyDB server or organization in one
   * stack; pass the provider as `provider` to the constructs that should use it.
   *
   * @default - the default (unaliased) capydb provider configuration
   */
  readonly alias?: string;
}

/**
 * The `capydb` provider (`registry.terraform.io/capydb/capydb`, bindings generated from its
 * schema). With no props it configures nothing and the provider reads `CAPYDB_API_URL` and
 * `CAPYDB_API_KEY` when Terraform runs, which keeps the key out of the synthesized files.
 *
 * ```ts
 * new CapyProvider(this, "capydb");                                          // environment
 * new CapyProvider(this, "capydb", { apiUrl: "https://capydb.example.com", apiKey: key.stringValue });
 * ```
 */
export class CapyProvider extends CapydbProvider {
  constructor(scope: Construct, id: string, props: CapyProviderProps = {}) {
    super(scope, id, { apiUrl: props.apiUrl, apiKey: props.apiKey, alias: props.alias });
    validateAtSynth(this, () => [httpUrl("apiUrl", props.apiUrl), nonEmpty("apiKey", props.apiKey), nonEmpty("alias", props.alias)]);
    if (props.apiKey !== undefined && !Token.isUnresolved(props.apiKey)) {
      Annotations.of(this).addWarning(
        "apiKey is a literal string: it is written in clear text into cdk.tf.json. Pass a sensitive TerraformVariable's value, or leave apiKey unset and export CAPYDB_API_KEY where Terraform runs.",
      );
    }
  }
}
