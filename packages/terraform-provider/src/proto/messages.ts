// Descriptors of the messages in proto/*.proto, for the codec in codec.ts, plus TypeScript shapes
// of the ones the provider builds or reads. test/protocol.test.ts checks every descriptor against the
// .proto files (names, numbers, types), so the .proto files stay the single source of truth.
import type { FieldDescriptor, MessageDescriptor } from "./codec.js";

function message(name: string, fields: () => FieldDescriptor[]): MessageDescriptor {
  let cached: FieldDescriptor[] | undefined;
  return { name, fields: () => (cached ??= fields()) };
}

const f = (name: string, no: number, kind: FieldDescriptor["kind"], extra: Partial<FieldDescriptor> = {}): FieldDescriptor => ({ name, no, kind, ...extra });
const repeated = { repeated: true };
const mapOf = (value: MessageDescriptor): FieldDescriptor["kind"] => ({ map: { key: "string", value } });
const empty = (name: string) => message(name, () => []);

// ---------------------------------------------------------------- tfplugin6 shared types

export const DynamicValue = message("tfplugin6.DynamicValue", () => [f("msgpack", 1, "bytes"), f("json", 2, "bytes")]);

export const AttributePathStep = message("tfplugin6.AttributePath.Step", () => [
  f("attribute_name", 1, "string", { oneof: true }),
  f("element_key_string", 2, "string", { oneof: true }),
  f("element_key_int", 3, "int64", { oneof: true }),
]);

export const AttributePath = message("tfplugin6.AttributePath", () => [f("steps", 1, AttributePathStep, repeated)]);

export const Diagnostic = message("tfplugin6.Diagnostic", () => [
  f("severity", 1, "enum"),
  f("summary", 2, "string"),
  f("detail", 3, "string"),
  f("attribute", 4, AttributePath),
]);

export const SchemaAttribute = message("tfplugin6.Schema.Attribute", () => [
  f("name", 1, "string"),
  f("type", 2, "bytes"),
  f("nested_type", 10, SchemaObject),
  f("description", 3, "string"),
  f("required", 4, "bool"),
  f("optional", 5, "bool"),
  f("computed", 6, "bool"),
  f("sensitive", 7, "bool"),
  f("description_kind", 8, "enum"),
  f("deprecated", 9, "bool"),
]);

export const SchemaObject: MessageDescriptor = message("tfplugin6.Schema.Object", () => [
  f("attributes", 1, SchemaAttribute, repeated),
  f("nesting", 3, "enum"),
  f("min_items", 4, "int64"),
  f("max_items", 5, "int64"),
]);

export const SchemaBlock: MessageDescriptor = message("tfplugin6.Schema.Block", () => [
  f("version", 1, "int64"),
  f("attributes", 2, SchemaAttribute, repeated),
  f("block_types", 3, SchemaNestedBlock, repeated),
  f("description", 4, "string"),
  f("description_kind", 5, "enum"),
  f("deprecated", 6, "bool"),
]);

export const SchemaNestedBlock: MessageDescriptor = message("tfplugin6.Schema.NestedBlock", () => [
  f("type_name", 1, "string"),
  f("block", 2, SchemaBlock),
  f("nesting", 3, "enum"),
  f("min_items", 4, "int64"),
  f("max_items", 5, "int64"),
]);

export const Schema = message("tfplugin6.Schema", () => [f("version", 1, "int64"), f("block", 2, SchemaBlock)]);

export const ServerCapabilities = message("tfplugin6.ServerCapabilities", () => [
  f("plan_destroy", 1, "bool"),
  f("get_provider_schema_optional", 2, "bool"),
  f("move_resource_state", 3, "bool"),
]);

export const ClientCapabilities = message("tfplugin6.ClientCapabilities", () => [
  f("deferral_allowed", 1, "bool"),
  f("write_only_attributes_allowed", 2, "bool"),
]);

export const RawState = message("tfplugin6.RawState", () => [f("json", 1, "bytes"), f("flatmap", 2, { map: { key: "string", value: "string" } })]);

// ---------------------------------------------------------------- tfplugin6 RPC messages

const diagnostics = (no: number) => f("diagnostics", no, Diagnostic, repeated);

export const GetProviderSchemaRequest = empty("tfplugin6.GetProviderSchema.Request");
export const GetProviderSchemaResponse = message("tfplugin6.GetProviderSchema.Response", () => [
  f("provider", 1, Schema),
  f("resource_schemas", 2, mapOf(Schema)),
  f("data_source_schemas", 3, mapOf(Schema)),
  diagnostics(4),
  f("provider_meta", 5, Schema),
  f("server_capabilities", 6, ServerCapabilities),
]);

export const ValidateProviderConfigRequest = message("tfplugin6.ValidateProviderConfig.Request", () => [f("config", 1, DynamicValue)]);
export const ValidateProviderConfigResponse = message("tfplugin6.ValidateProviderConfig.Response", () => [diagnostics(2)]);

export const ValidateResourceConfigRequest = message("tfplugin6.ValidateResourceConfig.Request", () => [
  f("type_name", 1, "string"),
  f("config", 2, DynamicValue),
  f("client_capabilities", 3, ClientCapabilities),
]);
export const ValidateResourceConfigResponse = message("tfplugin6.ValidateResourceConfig.Response", () => [diagnostics(1)]);

export const ValidateDataResourceConfigRequest = message("tfplugin6.ValidateDataResourceConfig.Request", () => [
  f("type_name", 1, "string"),
  f("config", 2, DynamicValue),
]);
export const ValidateDataResourceConfigResponse = message("tfplugin6.ValidateDataResourceConfig.Response", () => [diagnostics(1)]);

export const UpgradeResourceStateRequest = message("tfplugin6.UpgradeResourceState.Request", () => [
  f("type_name", 1, "string"),
  f("version", 2, "int64"),
  f("raw_state", 3, RawState),
]);
export const UpgradeResourceStateResponse = message("tfplugin6.UpgradeResourceState.Response", () => [f("upgraded_state", 1, DynamicValue), diagnostics(2)]);

export const ConfigureProviderRequest = message("tfplugin6.ConfigureProvider.Request", () => [
  f("terraform_version", 1, "string"),
  f("config", 2, DynamicValue),
  f("client_capabilities", 3, ClientCapabilities),
]);
export const ConfigureProviderResponse = message("tfplugin6.ConfigureProvider.Response", () => [diagnostics(1)]);

export const ReadResourceRequest = message("tfplugin6.ReadResource.Request", () => [
  f("type_name", 1, "string"),
  f("current_state", 2, DynamicValue),
  f("private", 3, "bytes"),
  f("provider_meta", 4, DynamicValue),
  f("client_capabilities", 5, ClientCapabilities),
]);
export const ReadResourceResponse = message("tfplugin6.ReadResource.Response", () => [
  f("new_state", 1, DynamicValue),
  diagnostics(2),
  f("private", 3, "bytes"),
]);

export const PlanResourceChangeRequest = message("tfplugin6.PlanResourceChange.Request", () => [
  f("type_name", 1, "string"),
  f("prior_state", 2, DynamicValue),
  f("proposed_new_state", 3, DynamicValue),
  f("config", 4, DynamicValue),
  f("prior_private", 5, "bytes"),
  f("provider_meta", 6, DynamicValue),
  f("client_capabilities", 7, ClientCapabilities),
]);
export const PlanResourceChangeResponse = message("tfplugin6.PlanResourceChange.Response", () => [
  f("planned_state", 1, DynamicValue),
  f("requires_replace", 2, AttributePath, repeated),
  f("planned_private", 3, "bytes"),
  diagnostics(4),
]);

export const ApplyResourceChangeRequest = message("tfplugin6.ApplyResourceChange.Request", () => [
  f("type_name", 1, "string"),
  f("prior_state", 2, DynamicValue),
  f("planned_state", 3, DynamicValue),
  f("config", 4, DynamicValue),
  f("planned_private", 5, "bytes"),
  f("provider_meta", 6, DynamicValue),
]);
export const ApplyResourceChangeResponse = message("tfplugin6.ApplyResourceChange.Response", () => [
  f("new_state", 1, DynamicValue),
  f("private", 2, "bytes"),
  diagnostics(3),
]);

export const ImportResourceStateRequest = message("tfplugin6.ImportResourceState.Request", () => [
  f("type_name", 1, "string"),
  f("id", 2, "string"),
  f("client_capabilities", 3, ClientCapabilities),
]);
export const ImportedResource = message("tfplugin6.ImportResourceState.ImportedResource", () => [
  f("type_name", 1, "string"),
  f("state", 2, DynamicValue),
  f("private", 3, "bytes"),
]);
export const ImportResourceStateResponse = message("tfplugin6.ImportResourceState.Response", () => [
  f("imported_resources", 1, ImportedResource, repeated),
  diagnostics(2),
]);

export const ReadDataSourceRequest = message("tfplugin6.ReadDataSource.Request", () => [
  f("type_name", 1, "string"),
  f("config", 2, DynamicValue),
  f("provider_meta", 3, DynamicValue),
  f("client_capabilities", 4, ClientCapabilities),
]);
export const ReadDataSourceResponse = message("tfplugin6.ReadDataSource.Response", () => [f("state", 1, DynamicValue), diagnostics(2)]);

export const StopProviderRequest = empty("tfplugin6.StopProvider.Request");
export const StopProviderResponse = message("tfplugin6.StopProvider.Response", () => [f("Error", 1, "string")]);

// ---------------------------------------------------------------- go-plugin and gRPC health

export const PluginEmpty = empty("plugin.Empty");
export const StdioData = message("plugin.StdioData", () => [f("channel", 1, "enum"), f("data", 2, "bytes")]);
export const HealthCheckRequest = message("grpc.health.v1.HealthCheckRequest", () => [f("service", 1, "string")]);
export const HealthCheckResponse = message("grpc.health.v1.HealthCheckResponse", () => [f("status", 1, "enum")]);

/** Every descriptor above, for the test that compares them with the .proto files. */
export const ALL_MESSAGES: MessageDescriptor[] = [
  DynamicValue,
  AttributePathStep,
  AttributePath,
  Diagnostic,
  SchemaAttribute,
  SchemaObject,
  SchemaBlock,
  SchemaNestedBlock,
  Schema,
  ServerCapabilities,
  ClientCapabilities,
  RawState,
  GetProviderSchemaRequest,
  GetProviderSchemaResponse,
  ValidateProviderConfigRequest,
  ValidateProviderConfigResponse,
  ValidateResourceConfigRequest,
  ValidateResourceConfigResponse,
  ValidateDataResourceConfigRequest,
  ValidateDataResourceConfigResponse,
  UpgradeResourceStateRequest,
  UpgradeResourceStateResponse,
  ConfigureProviderRequest,
  ConfigureProviderResponse,
  ReadResourceRequest,
  ReadResourceResponse,
  PlanResourceChangeRequest,
  PlanResourceChangeResponse,
  ApplyResourceChangeRequest,
  ApplyResourceChangeResponse,
  ImportResourceStateRequest,
  ImportedResource,
  ImportResourceStateResponse,
  ReadDataSourceRequest,
  ReadDataSourceResponse,
  StopProviderRequest,
  StopProviderResponse,
  PluginEmpty,
  StdioData,
  HealthCheckRequest,
  HealthCheckResponse,
];

// ---------------------------------------------------------------- TypeScript shapes

export interface DynamicValueMsg {
  msgpack?: Uint8Array;
  json?: Uint8Array;
}

export interface AttributePathStepMsg {
  attribute_name?: string;
  element_key_string?: string;
  element_key_int?: number;
}

export interface AttributePathMsg {
  steps: AttributePathStepMsg[];
}

export const Severity = { ERROR: 1, WARNING: 2 } as const;
export type Severity = (typeof Severity)[keyof typeof Severity];

export interface DiagnosticMsg {
  severity: Severity;
  summary: string;
  detail?: string;
  attribute?: AttributePathMsg;
}

export interface SchemaAttributeMsg {
  name: string;
  type: Uint8Array;
  nested_type?: SchemaObjectMsg;
  description?: string;
  required?: boolean;
  optional?: boolean;
  computed?: boolean;
  sensitive?: boolean;
  description_kind?: number;
  deprecated?: boolean;
}

export interface SchemaObjectMsg {
  attributes: SchemaAttributeMsg[];
  nesting: number;
}

export interface SchemaBlockMsg {
  version?: number;
  attributes: SchemaAttributeMsg[];
  block_types: SchemaNestedBlockMsg[];
  description?: string;
  description_kind?: number;
}

export interface SchemaNestedBlockMsg {
  type_name: string;
  block: SchemaBlockMsg;
  nesting: number;
  min_items?: number;
  max_items?: number;
}

export interface SchemaMsg {
  version: number;
  block: SchemaBlockMsg;
}
