// CapyMaskingRules: how a project's personal data is masked in its previews.
import { type IResolvable, type TerraformProvider, Token, Tokenization } from "cdktf";
import { Construct } from "constructs";
import { MaskingRules } from "./.gen/providers/capydb/masking-rules/index.js";
import type { CapyProject } from "./project.js";
import { type Problem, isToken, maskingRuleProblems, nonEmpty, propName, validateAtSynth } from "./validation.js";

/** The masking strategies the server knows. */
export const MASKING_STRATEGIES = ["email", "name", "phone", "hash", "redact", "null", "constant", "date_shift"] as const;
export type CapyMaskingStrategy = (typeof MASKING_STRATEGIES)[number];

/** How one column is masked. */
export interface CapyMaskingRule {
  /** The table: `"users"` (schema `public`) or `"schema.name"`. */
  readonly table: string;

  /** The column. A column has one rule. */
  readonly column: string;

  /**
   * `"email"`, `"name"`, `"phone"`, `"hash"`, `"redact"` (text columns), `"null"`,
   * `"constant"` (every row gets `value`) or `"date_shift"` (date and timestamp columns move by a
   * stable shift of 1 to `days` days, either way).
   */
  readonly strategy: CapyMaskingStrategy;

  /**
   * The value every row gets: required with strategy `"constant"`, not allowed with the others.
   *
   * @default - none
   */
  readonly value?: string;

  /**
   * The largest shift, 1-36500 days: required with strategy `"date_shift"`, not allowed with the
   * others.
   *
   * @default - none
   */
  readonly days?: number;
}

/** A project's masking rules (`CapyProject`'s `masking` prop). */
export interface MaskingOptions {
  /**
   * The rules, one per column. `[]` masks nothing. May be a token, e.g. a `TerraformVariable`'s
   * `value` of type `list(object({ table = string, column = string, strategy = string, value =
   * optional(string), days = optional(number) }))`: Terraform checks it then.
   */
  readonly rules: CapyMaskingRule[] | IResolvable;

  /**
   * Refuse masked previews while columns that look personal have no rule (the server lists them
   * in `uncovered_columns`).
   *
   * @default false
   */
  readonly requireCoverage?: boolean;
}

export interface CapyMaskingRulesProps extends MaskingOptions {
  /**
   * The project: a `CapyProject`, or a project id (`prj_...`) or a token of one. Changing it
   * clears the rules of the old project and sets them on the new one.
   */
  readonly project: CapyProject | string;

  /**
   * The capydb provider configuration to use.
   *
   * @default - the stack's default (unaliased) capydb provider
   */
  readonly provider?: TerraformProvider;
}

/**
 * The masking rules of a project (`capydb_masking_rules`): how personal data is rewritten in the
 * copies its previews are made from. A project has one set of rules: declare it once per project.
 * For a project declared with `CapyProject`, its `masking` prop is shorter.
 *
 * ```ts
 * new CapyMaskingRules(this, "masking", {
 *   project: db,
 *   rules: [
 *     { table: "users", column: "email", strategy: "email" },
 *     { table: "public.users", column: "born_on", strategy: "date_shift", days: 30 },
 *   ],
 * });
 * ```
 *
 * The server checks the rules against the project's tables when they are applied: the tables and
 * columns must exist by then (apply the rules after the migration that creates them). Every change
 * applies in place; destroying the construct clears the rules.
 */
export class CapyMaskingRules extends Construct {
  /** The generated L1 resource, for anything these props do not cover. */
  readonly resource: MaskingRules;
  /** When the rules were last set, RFC 3339 (a token). */
  readonly updatedAt: string;

  constructor(scope: Construct, id: string, props: CapyMaskingRulesProps) {
    super(scope, id);
    const projectId = typeof props.project === "string" ? props.project : props.project?.projectId;
    this.resource = new MaskingRules(this, "Resource", {
      projectId,
      // A list token (a variable's listValue) is one value to Terraform, not a list of rules.
      rules: Array.isArray(props.rules) && isToken(props.rules) ? Token.asAny(props.rules) : props.rules,
      requireCoverage: props.requireCoverage ?? false,
      provider: props.provider,
    });
    this.updatedAt = this.resource.updatedAt;
    validateAtSynth(this, (): Problem[] => [
      nonEmpty(propName(this, "project"), projectId ?? ""),
      ...(isToken(props.rules) || Tokenization.isResolvable(props.rules)
        ? []
        : maskingRuleProblems((prop) => propName(this, prop), props.rules, MASKING_STRATEGIES)),
    ]);
  }

  /**
   * Columns that look personal and have no rule, as the server found them at the last apply or
   * refresh (a token: a list of `{ table, column, reason }`).
   */
  get uncoveredColumns() {
    return this.resource.uncoveredColumns;
  }
}
