// What a resource or data source implements, and the planning every resource shares.
import type { CapyClient } from "@capydb/api";
import type { DiagnosticMsg } from "../proto/messages.js";
import { type ObjectValue, type Value, UNKNOWN, valuesEqual } from "../cty/types.js";
import type { SchemaSpec } from "../schema/schema.js";
import type { Logger } from "../plugin/log.js";

export interface ProviderContext {
  client: CapyClient;
  /** Aborted when Terraform calls StopProvider (Ctrl-C). */
  signal: AbortSignal;
  log: Logger;
}

export interface PlanArgs {
  ctx: ProviderContext | null;
  prior: ObjectValue | null;
  planned: ObjectValue;
  config: ObjectValue;
  /** Attribute names whose change forces replacement; a resource may add to it. */
  requiresReplace: Set<string>;
  /** Whether a configurable attribute differs from the prior state (always true on create). */
  changed: boolean;
}

export interface Resource {
  typeName: string;
  schema: SchemaSpec;
  /** Computed attributes whose value may move when the resource is updated: unknown in such a plan. */
  unknownOnUpdate?: readonly string[];
  /** Checks of the configuration alone (values may be UNKNOWN: skip those). */
  validate?(config: ObjectValue): DiagnosticMsg[] | Promise<DiagnosticMsg[]>;
  /** Resource-specific planning after the shared rules; may edit `planned` and `requiresReplace`. */
  modifyPlan?(args: PlanArgs): Promise<DiagnosticMsg[]> | DiagnosticMsg[];
  /** Creates and answers the new state. Throw CreatedWithError when the server object exists but the create failed. */
  create(ctx: ProviderContext, planned: ObjectValue): Promise<ObjectValue>;
  /** The current state, or null when the object is gone. */
  read(ctx: ProviderContext, state: ObjectValue): Promise<ObjectValue | null>;
  update(ctx: ProviderContext, prior: ObjectValue, planned: ObjectValue): Promise<ObjectValue>;
  delete(ctx: ProviderContext, prior: ObjectValue): Promise<void>;
  /** The state of an existing object from the id given to `terraform import`. */
  importState(ctx: ProviderContext, id: string): Promise<ObjectValue>;
}

export interface DataSource {
  typeName: string;
  schema: SchemaSpec;
  validate?(config: ObjectValue): DiagnosticMsg[] | Promise<DiagnosticMsg[]>;
  read(ctx: ProviderContext, config: ObjectValue): Promise<ObjectValue>;
}

/**
 * The server made the object but the create did not finish (its job failed or timed out, or
 * Terraform interrupted us). Apply answers this state together with the error, so Terraform
 * records the object as tainted and replaces it next time instead of forgetting it.
 */
export class CreatedWithError extends Error {
  constructor(
    readonly state: ObjectValue,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/**
 * The shared planning rules:
 * - a computed attribute the configuration leaves null is planned as its default when it has
 *   one, as unknown on create, and as its prior value (Terraform's proposal) on update;
 * - on update, an attribute marked requiresReplace that changes forces replacement, and any
 *   change makes the resource's `unknownOnUpdate` attributes unknown.
 */
export async function planResourceChange(
  resource: Resource,
  ctx: ProviderContext | null,
  prior: ObjectValue | null,
  proposed: ObjectValue,
  config: ObjectValue,
): Promise<{ planned: ObjectValue; requiresReplace: string[]; diagnostics: DiagnosticMsg[] }> {
  const attributes = resource.schema.block.attributes;
  const planned: ObjectValue = { ...proposed };
  for (const [name, a] of Object.entries(attributes)) {
    if (!a.computed || config[name] !== null) continue;
    if (a.optional && a.default !== undefined) planned[name] = a.default;
    else if (prior === null) planned[name] = UNKNOWN;
  }

  const requiresReplace = new Set<string>();
  let changed = prior === null;
  if (prior !== null) {
    for (const [name, a] of Object.entries(attributes)) {
      if (!a.optional && !a.required) continue;
      if (valuesEqual(prior[name] as Value, planned[name] as Value)) continue;
      changed = true;
      if (a.requiresReplace) requiresReplace.add(name);
    }
    if (changed) for (const name of resource.unknownOnUpdate ?? []) planned[name] = UNKNOWN;
  }
  const diagnostics = (await resource.modifyPlan?.({ ctx, prior, planned, config, requiresReplace, changed })) ?? [];
  return { planned, requiresReplace: [...requiresReplace], diagnostics };
}

/** Whether anything but the timeouts block differs between two states. */
export function differsBeyondTimeouts(a: ObjectValue, b: ObjectValue): boolean {
  return Object.keys(a).some((k) => k !== "timeouts" && !valuesEqual(a[k] as Value, b[k] as Value));
}
