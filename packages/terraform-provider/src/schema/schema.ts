// Schemas as we declare them, and the two forms Terraform wants: the protocol's Schema message
// (GetProviderSchema) and the JSON of `terraform providers schema -json` (our `schema` command,
// the input of @cdktf/provider-generator).
import type { SchemaAttributeMsg, SchemaBlockMsg, SchemaMsg } from "../proto/messages.js";
import { type CtyType, type ObjectValue, type Value, typeToJson } from "../cty/types.js";

export interface AttributeSpec {
  type: CtyType;
  description: string;
  required?: boolean;
  optional?: boolean;
  computed?: boolean;
  sensitive?: boolean;
  /** Changing it destroys and re-creates the resource. */
  requiresReplace?: boolean;
  /** Planned when the configuration leaves the attribute null (optional + computed only). */
  default?: Value;
  /**
   * A nested attribute (protocol 6): a list of objects whose own attributes may be required or
   * optional, written `rules = [{ ... }]`. Make it with listNested(), which sets `type` to match.
   */
  nested?: { nesting: "list"; attributes: Record<string, AttributeSpec> };
}

/** The `type` and `nested` of a list nested attribute with these attributes. */
export function listNested(attributes: Record<string, AttributeSpec>): Pick<AttributeSpec, "type" | "nested"> {
  const object: Record<string, CtyType> = {};
  for (const [name, a] of Object.entries(attributes)) object[name] = a.type;
  return { type: { list: { object } }, nested: { nesting: "list", attributes } };
}

export interface NestedBlockSpec {
  /** Only SINGLE nesting is used (the `timeouts` block). */
  nesting: "single";
  block: BlockSpec;
}

export interface BlockSpec {
  description?: string;
  attributes: Record<string, AttributeSpec>;
  blocks?: Record<string, NestedBlockSpec>;
}

export interface SchemaSpec {
  version: number;
  block: BlockSpec;
}

/** The cty object type of a block's value (a SINGLE nested block is an object attribute). */
export function blockType(block: BlockSpec): CtyType {
  const object: Record<string, CtyType> = {};
  for (const [name, a] of Object.entries(block.attributes)) object[name] = a.type;
  for (const [name, b] of Object.entries(block.blocks ?? {})) object[name] = blockType(b.block);
  return { object };
}

/** A value of the block's type with every attribute null. */
export function nullObject(block: BlockSpec): ObjectValue {
  const out: ObjectValue = {};
  for (const name of Object.keys(block.attributes)) out[name] = null;
  for (const name of Object.keys(block.blocks ?? {})) out[name] = null;
  return out;
}

const NESTING_SINGLE = 1;
/** Schema.Object.NestingMode LIST. */
const OBJECT_NESTING_LIST = 2;

function attributeToProto(name: string, a: AttributeSpec): SchemaAttributeMsg {
  return {
    name,
    // A nested attribute has no type of its own: Terraform derives it from nested_type.
    type: a.nested ? Buffer.alloc(0) : Buffer.from(JSON.stringify(typeToJson(a.type))),
    ...(a.nested
      ? { nested_type: { attributes: Object.entries(a.nested.attributes).map(([n, x]) => attributeToProto(n, x)), nesting: OBJECT_NESTING_LIST } }
      : {}),
    description: a.description,
    description_kind: 0,
    required: a.required ?? false,
    optional: a.optional ?? false,
    computed: a.computed ?? false,
    sensitive: a.sensitive ?? false,
  };
}

function blockToProto(block: BlockSpec): SchemaBlockMsg {
  return {
    version: 0,
    description: block.description ?? "",
    description_kind: 0,
    attributes: Object.entries(block.attributes).map(([name, a]) => attributeToProto(name, a)),
    block_types: Object.entries(block.blocks ?? {}).map(([name, b]) => ({
      type_name: name,
      block: blockToProto(b.block),
      nesting: NESTING_SINGLE,
    })),
  };
}

export function schemaToProto(schema: SchemaSpec): SchemaMsg {
  return { version: schema.version, block: blockToProto(schema.block) };
}

/** One attribute in the format of `terraform providers schema -json`. */
function attributeToJson(a: AttributeSpec): Record<string, unknown> {
  const attr: Record<string, unknown> = a.nested
    ? {
        nested_type: {
          attributes: Object.fromEntries(Object.entries(a.nested.attributes).map(([n, x]) => [n, attributeToJson(x)])),
          nesting_mode: a.nested.nesting,
        },
      }
    : { type: typeToJson(a.type) };
  if (a.description) attr.description = a.description;
  attr.description_kind = "plain";
  if (a.required) attr.required = true;
  if (a.optional) attr.optional = true;
  if (a.computed) attr.computed = true;
  if (a.sensitive) attr.sensitive = true;
  return attr;
}

/** One block in the format of `terraform providers schema -json`. */
export function blockToJson(block: BlockSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const attributes = Object.entries(block.attributes);
  if (attributes.length) out.attributes = Object.fromEntries(attributes.map(([name, a]) => [name, attributeToJson(a)]));
  const blocks = Object.entries(block.blocks ?? {});
  if (blocks.length) {
    out.block_types = Object.fromEntries(blocks.map(([name, b]) => [name, { nesting_mode: b.nesting, block: blockToJson(b.block) }]));
  }
  if (block.description) out.description = block.description;
  out.description_kind = "plain";
  return out;
}

export function schemaToJson(schema: SchemaSpec): Record<string, unknown> {
  return { version: schema.version, block: blockToJson(schema.block) };
}
