// The wire formats, without Terraform: our protobuf descriptors against proto/*.proto (parsed by
// @grpc/proto-loader), cty msgpack, the TLS certificate, planning rules and diagnostics.
import crypto from "node:crypto";
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import * as protoLoader from "@grpc/proto-loader";
import { describe, expect, it } from "vitest";
import { decodeJsonValue, decodeValue, encodeValue } from "../src/cty/msgpack.js";
import { type CtyType, type ObjectValue, UNKNOWN, type Value } from "../src/cty/types.js";
import { attributePathFromMessage, errorToDiagnostic } from "../src/framework/diagnostics.js";
import { planResourceChange } from "../src/framework/resource.js";
import { parseDuration } from "../src/framework/timeouts.js";
import { makeServerCertificate } from "../src/plugin/certs.js";
import { SERVICES } from "../src/plugin/server.js";
import { type FieldDescriptor, type MessageDescriptor, decodeMessage, encodeMessage } from "../src/proto/codec.js";
import { ALL_MESSAGES } from "../src/proto/messages.js";
import * as m from "../src/proto/messages.js";
import { CapyProvider } from "../src/provider.js";
import { PROVIDER_VERSION, dataSources, resources } from "../src/registry.js";
import { projectResource } from "../src/resources/project.js";
import { previewDatabaseResource } from "../src/resources/preview-database.js";
import { extensionResource } from "../src/resources/extension.js";
import { maskingRulesResource, validateRules } from "../src/resources/masking-rules.js";
import { isNotFound } from "../src/resources/common.js";
import type { ProviderContext } from "../src/framework/resource.js";
import { CapyApiError } from "@capydb/api";
import { blockType, schemaToJson } from "../src/schema/schema.js";
import { createLogger } from "../src/plugin/log.js";

const PROTO_DIR = fileURLToPath(new URL("../proto", import.meta.url));
const loaded = protoLoader.loadSync(["tfplugin6.proto", "plugin.proto", "health.proto"], {
  includeDirs: [PROTO_DIR],
  keepCase: true,
  longs: Number,
  enums: Number,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
});

interface FieldProto {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
}

interface DescriptorProto {
  name: string;
  field: FieldProto[];
  nestedType: DescriptorProto[];
}

/** A message by full name; proto-loader lists top-level messages, nested ones live in nestedType. */
function protoFields(name: string): FieldProto[] {
  const parts = name.split(".");
  for (let i = parts.length; i > 0; i--) {
    const top = loaded[parts.slice(0, i).join(".")] as { type?: DescriptorProto } | undefined;
    if (!top?.type) continue;
    let type: DescriptorProto | undefined = top.type;
    for (const nested of parts.slice(i)) type = type?.nestedType.find((n) => n.name === nested);
    if (type) return type.field;
  }
  throw new Error(`${name} is not a message in proto/`);
}

function expectedType(f: FieldDescriptor): { type: string; typeName?: string } {
  const k = f.kind;
  if (typeof k === "string") return { type: `TYPE_${k.toUpperCase()}` };
  if ("map" in k) return { type: "TYPE_MESSAGE" };
  return { type: "TYPE_MESSAGE", typeName: `.${(k as MessageDescriptor).name}` };
}

describe("protobuf descriptors", () => {
  it.each(ALL_MESSAGES.map((d) => [d.name, d] as const))("%s matches proto/", (_name, desc) => {
    const fields = protoFields(desc.name);
    expect(
      desc
        .fields()
        .map((f) => f.name)
        .sort(),
    ).toEqual(fields.map((f) => f.name).sort());
    for (const ours of desc.fields()) {
      const theirs = fields.find((f) => f.name === ours.name)!;
      expect(ours.no, ours.name).toBe(theirs.number);
      const want = expectedType(ours);
      expect(theirs.type, ours.name).toBe(want.type);
      // proto-loader keeps type references as written in the .proto (relative to the scope).
      if (want.typeName) expect(want.typeName.endsWith(`.${theirs.typeName.replace(/^\./, "")}`), `${ours.name}: ${theirs.typeName}`).toBe(true);
      const repeated = theirs.label === "LABEL_REPEATED";
      expect(repeated, ours.name).toBe(Boolean(ours.repeated) || (typeof ours.kind === "object" && "map" in ours.kind));
    }
  });

  it("serves exactly the methods of the services in proto/, with their paths", () => {
    for (const [service, def] of [
      ["tfplugin6.Provider", SERVICES.provider],
      ["plugin.GRPCController", SERVICES.controller],
      ["plugin.GRPCStdio", SERVICES.stdio],
      ["grpc.health.v1.Health", SERVICES.health],
    ] as const) {
      const theirs = loaded[service] as Record<string, { path: string; responseStream: boolean }>;
      expect(Object.keys(def).sort()).toEqual(Object.keys(theirs).sort());
      for (const [name, method] of Object.entries(def)) {
        expect(method.path).toBe(theirs[name].path);
        expect(method.responseStream).toBe(theirs[name].responseStream);
      }
    }
  });

  it("encodes what protobufjs decodes, and decodes what it encodes", () => {
    const provider = loaded["tfplugin6.Provider"] as Record<string, protoLoader.MethodDefinition<object, object>>;
    const response = new CapyProvider(createLogger("test", () => {})).getProviderSchema();
    const viaThem = provider.GetProviderSchema.responseDeserialize(encodeMessage(m.GetProviderSchemaResponse, response)) as Record<string, unknown>;
    const schemas = viaThem.resource_schemas as Record<string, { block: { attributes: Array<{ name: string; type: Buffer; sensitive: boolean }> } }>;
    expect(Object.keys(schemas).sort()).toEqual(resources.map((r) => r.typeName).sort());
    const uri = schemas.capydb_project.block.attributes.find((a) => a.name === "connection_uri")!;
    expect(uri.sensitive).toBe(true);
    expect(uri.type.toString()).toBe('"string"');
    expect(Object.keys(viaThem.data_source_schemas as object).sort()).toEqual(dataSources.map((d) => d.typeName).sort());
    // A nested attribute: no type of its own, a LIST of objects whose attributes say what is required.
    const rules = (schemas.capydb_masking_rules.block.attributes as unknown as Array<Record<string, unknown>>).find((a) => a.name === "rules")!;
    expect((rules.type as Buffer).length).toBe(0);
    const nested = rules.nested_type as { nesting: number; attributes: Array<{ name: string; required: boolean; optional: boolean; type: Buffer }> };
    expect(nested.nesting).toBe(2);
    expect(nested.attributes.map((a) => [a.name, a.required, a.optional, a.type.toString()])).toEqual([
      ["table", true, false, '"string"'],
      ["column", true, false, '"string"'],
      ["strategy", true, false, '"string"'],
      ["value", false, true, '"string"'],
      ["days", false, true, '"number"'],
    ]);

    const request = {
      type_name: "capydb_project",
      prior_state: { msgpack: Buffer.from([0xc0]) },
      proposed_new_state: { msgpack: Buffer.from([0x80]) },
      config: { json: Buffer.from("{}") },
      prior_private: Buffer.from("p"),
    };
    const decoded = decodeMessage(m.PlanResourceChangeRequest, provider.PlanResourceChange.requestSerialize(request));
    expect(decoded).toMatchObject({ type_name: "capydb_project", prior_private: Buffer.from("p") });
    expect((decoded.prior_state as { msgpack: Buffer }).msgpack).toEqual(Buffer.from([0xc0]));
    expect((decoded.config as { json: Buffer }).json.toString()).toBe("{}");

    const path = { steps: [{ attribute_name: "backups" }, { element_key_int: 0 }, { element_key_string: "k" }] };
    const back = provider.PlanResourceChange.responseDeserialize(encodeMessage(m.PlanResourceChangeResponse, { requires_replace: [path] })) as {
      requires_replace: Array<{ steps: Array<Record<string, unknown>> }>;
    };
    expect(back.requires_replace[0].steps.map((s) => s.selector)).toEqual(["attribute_name", "element_key_int", "element_key_string"]);
    expect(back.requires_replace[0].steps[1].element_key_int).toBe(0);
  });
});

describe("cty msgpack", () => {
  const t: CtyType = { object: { a: "string", n: "number", b: "bool", l: { list: "string" }, o: { object: { x: "number" } } } };

  it("writes unknown as d4 00 00, null as nil, and every attribute of an object", () => {
    expect(Buffer.from(encodeValue("string", UNKNOWN)).toString("hex")).toBe("d40000");
    expect(Buffer.from(encodeValue(t, null)).toString("hex")).toBe("c0");
    const bytes = Buffer.from(encodeValue(t, { a: "x", n: UNKNOWN } as ObjectValue));
    expect(bytes[0]).toBe(0x85); // a map of 5 entries: the missing ones as nil
    expect(decodeValue(t, bytes)).toEqual({ a: "x", n: UNKNOWN, b: null, l: null, o: null });
  });

  it("reads unknowns with refinements, numbers in any encoding, and JSON state", () => {
    // fixext 1 type 0 with a payload, and ext 8 type 0 with a refinement map
    expect(decodeValue("string", Buffer.from("d40001", "hex"))).toBe(UNKNOWN);
    expect(decodeValue("string", Buffer.from("c70300810101", "hex"))).toBe(UNKNOWN);
    expect(decodeValue("number", Buffer.from("a3313233", "hex"))).toBe(123); // "123"
    expect(decodeValue("number", Buffer.from("cb3ff8000000000000", "hex"))).toBe(1.5);
    expect(decodeValue("number", Buffer.from("cf0000000100000000", "hex"))).toBe(2 ** 32);
    expect(decodeJsonValue(t, Buffer.from('{"a":"x","n":2,"gone":true}'))).toEqual({ a: "x", n: 2, b: null, l: null, o: null });
  });

  it("round-trips every resource's state type", () => {
    for (const r of resources) {
      const type = blockType(r.schema.block);
      const value = decodeValue(type, encodeValue(type, { id: "x" }));
      expect(Object.keys(value as object).sort()).toEqual(Object.keys((type as { object: object }).object).sort());
    }
  });
});

describe("the plugin's TLS certificate", () => {
  it("is for localhost, for server auth, valid from a little in the past, self-signed", () => {
    const { der, keyPem } = makeServerCertificate();
    const x = new crypto.X509Certificate(der);
    expect(x.subjectAltName).toBe("DNS:localhost");
    expect(x.keyUsage).toContain("1.3.6.1.5.5.7.3.1");
    const from = Date.parse(x.validFrom);
    expect(from).toBeLessThan(Date.now());
    expect(from).toBeGreaterThan(Date.now() - 5 * 60_000);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.checkPrivateKey(crypto.createPrivateKey(keyPem))).toBe(true);
    expect(x.serialNumber).toMatch(/^[0-7]/); // positive
  });
});

describe("planning", () => {
  const config = (v: Record<string, unknown>): ObjectValue => ({ ...nulls(projectResource), ...v }) as ObjectValue;
  function nulls(r: typeof projectResource): Record<string, null> {
    return Object.fromEntries([...Object.keys(r.schema.block.attributes), ...Object.keys(r.schema.block.blocks ?? {})].map((k) => [k, null]));
  }

  it("plans computed attributes unknown on create, and an unchanged object as itself", async () => {
    const c = config({ name: "a", statement_timeout: "30s" });
    const created = await planResourceChange(projectResource, null, null, c, c);
    expect(created.planned).toMatchObject({ name: "a", statement_timeout: "30s", id: UNKNOWN, region: UNKNOWN, connection_uri: UNKNOWN });
    expect(created.requiresReplace).toEqual([]);

    const prior = config({ id: "prj_1", name: "a", statement_timeout: "30s", region: "local", state: "ready", connection_uri: "postgresql://x" });
    const same = await planResourceChange(projectResource, null, prior, prior, c);
    expect(same.planned).toEqual(prior);
  });

  it("asks for replacement when region changes, not when statement_timeout does", async () => {
    const prior = config({ id: "prj_1", name: "a", statement_timeout: "30s", region: "local", state: "ready" });
    const proposed = { ...prior, statement_timeout: "45s" };
    expect((await planResourceChange(projectResource, null, prior, proposed, config({ name: "a", statement_timeout: "45s" }))).requiresReplace).toEqual([]);
    const moved = { ...prior, region: "eu" };
    expect((await planResourceChange(projectResource, null, prior, moved, config({ name: "a", region: "eu" }))).requiresReplace).toEqual(["region"]);
  });

  it("makes the expiry unknown when a preview's ttl changes", async () => {
    const base = Object.fromEntries(Object.keys(previewDatabaseResource.schema.block.attributes).map((k) => [k, null])) as ObjectValue;
    const prior: ObjectValue = {
      ...base,
      timeouts: null,
      id: "pdb_1",
      project_id: "prj_1",
      ttl_seconds: 3600,
      ttl_expires_at: "2030-01-01T00:00:00Z",
      state: "ready",
    };
    const plan = await planResourceChange(
      previewDatabaseResource,
      null,
      prior,
      { ...prior, ttl_seconds: 7200 },
      { ...base, timeouts: null, project_id: "prj_1", ttl_seconds: 7200 },
    );
    expect(plan.planned.ttl_expires_at).toBe(UNKNOWN);
    expect(plan.requiresReplace).toEqual([]);
  });
});

describe("capydb_masking_rules", () => {
  const nulls = Object.fromEntries(Object.keys(maskingRulesResource.schema.block.attributes).map((k) => [k, null])) as ObjectValue;
  const rule = (r: Record<string, unknown>): ObjectValue =>
    ({ table: "users", column: "email", strategy: "email", value: null, days: null, ...r }) as ObjectValue;

  it("declares rules as a list nested attribute in `terraform providers schema -json` form", () => {
    const json = schemaToJson(maskingRulesResource.schema) as { block: { attributes: Record<string, Record<string, unknown>> } };
    const rules = json.block.attributes.rules;
    expect(rules.type).toBeUndefined();
    expect(rules).toMatchObject({ required: true, nested_type: { nesting_mode: "list" } });
    const nested = (rules.nested_type as { attributes: Record<string, Record<string, unknown>> }).attributes;
    expect(nested.days).toMatchObject({ type: "number", optional: true });
    expect(nested.strategy).toMatchObject({ type: "string", required: true });
    expect(json.block.attributes.uncovered_columns).toMatchObject({
      type: ["list", ["object", { table: "string", column: "string", reason: "string" }]],
      computed: true,
    });
    expect(json.block.attributes.require_coverage).toMatchObject({ type: "bool", optional: true, computed: true });
  });

  it("accepts every strategy with its argument, and leaves unknown values alone", async () => {
    const ok: Value[] = [
      ...["email", "name", "phone", "hash", "redact", "null"].map((strategy, i) => rule({ column: `c${i}`, strategy })),
      rule({ column: "plan", strategy: "constant", value: "free" }),
      rule({ column: "born", strategy: "date_shift", days: 36500 }),
      rule({ table: "app.users", column: "born", strategy: "date_shift", days: 1 }),
      rule({ column: "x", strategy: UNKNOWN }),
      rule({ column: "y", strategy: "constant", value: UNKNOWN }),
      UNKNOWN,
    ];
    expect(await validateRules(ok)).toEqual([]);
    expect(await validateRules(UNKNOWN)).toEqual([]);
    expect(await validateRules(null)).toEqual([]);
  });

  it("refuses bad strategies, value and days with a diagnostic naming the field, at the rule's element", async () => {
    const diags = await validateRules([
      rule({ strategy: "emial" }),
      rule({ column: "plan", strategy: "constant" }),
      rule({ column: "born", strategy: "date_shift" }),
      rule({ column: "born2", strategy: "date_shift", days: 36501 }),
      rule({ column: "born3", strategy: "date_shift", days: 1.5 }),
      rule({ column: "a", strategy: "name", value: "x" }),
      rule({ column: "b", strategy: "hash", days: 2 }),
      rule({ table: "public.users", column: "email", strategy: "hash" }),
      rule({ table: "a.b.c", column: "z" }),
      rule({ table: " users", column: "zz" }),
      rule({ table: "users", column: "" }),
    ]);
    expect(diags.map((d) => d.detail)).toEqual([
      'rules[0].strategy: must be one of "email", "name", "phone", "hash", "redact", "null", "constant", "date_shift" (got "emial")',
      'rules[1].value: is required with strategy "constant"',
      'rules[2].days: is required with strategy "date_shift"',
      "rules[3].days: must be a whole number of days from 1 to 36500 (got 36501)",
      "rules[4].days: must be a whole number of days from 1 to 36500 (got 1.5)",
      'rules[5].value: is only allowed with strategy "constant" (this rule\'s is "name")',
      'rules[6].days: is only allowed with strategy "date_shift" (this rule\'s is "hash")',
      "rules[7].column: public.users.email already has a rule (rules[0])",
      'rules[8].table: must be "name" or "schema.name" (got "a.b.c")',
      'rules[9].table: must not start or end with whitespace (got " users")',
      expect.stringMatching(/^rules\[10\]\.column: .* \(got ""\)$/),
    ]);
    expect(diags.every((d) => d.summary === "Invalid masking rule")).toBe(true);
    expect(diags[3].attribute).toEqual({ steps: [{ attribute_name: "rules" }, { element_key_int: 3 }] });
  });

  it("plans updated_at and uncovered_columns unknown on a change, require_coverage false by default", async () => {
    const config = { ...nulls, project_id: "prj_1", rules: [rule({})] };
    const created = await planResourceChange(maskingRulesResource, null, null, config, config);
    expect(created.planned).toMatchObject({ require_coverage: false, id: UNKNOWN, updated_at: UNKNOWN, uncovered_columns: UNKNOWN });
    const prior: ObjectValue = { ...config, id: "prj_1", require_coverage: false, updated_at: "2030-01-01T00:00:00Z", uncovered_columns: [] };
    const same = await planResourceChange(maskingRulesResource, null, prior, prior, config);
    expect(same.planned).toEqual(prior);
    const changed = { ...prior, rules: [rule({ strategy: "hash" })] };
    const plan = await planResourceChange(maskingRulesResource, null, prior, changed, { ...config, rules: changed.rules });
    expect(plan.planned).toMatchObject({ updated_at: UNKNOWN, uncovered_columns: UNKNOWN, id: "prj_1" });
    expect(plan.requiresReplace).toEqual([]);
    const moved = await planResourceChange(maskingRulesResource, null, prior, { ...prior, project_id: "prj_2" }, { ...config, project_id: "prj_2" });
    expect(moved.requiresReplace).toEqual(["project_id"]);
  });
});

describe("diagnostics and settings", () => {
  it("points an API error at the attribute it names", () => {
    const err = Object.assign(new Error('name: extension "x" is not available on this cluster'), {
      name: "CapyApiError",
      status: 400,
      code: "validation_failed",
      method: "POST",
      path: "/v1/projects/prj_1/extensions",
    });
    const d = errorToDiagnostic(err, ["project_id", "name"]);
    expect(d.summary).toBe("CapyDB API error (HTTP 400)");
    expect(d.detail).toContain('name: extension "x" is not available on this cluster');
    expect(d.detail).toContain("(POST /v1/projects/prj_1/extensions: validation_failed)");
    expect(d.attribute).toEqual({ steps: [{ attribute_name: "name" }] });
    expect(errorToDiagnostic(err, ["project_id"]).attribute).toBeUndefined();
    // A message about an element of a nested attribute points at that element.
    expect(attributePathFromMessage("rules[2].column: column public.users.emial does not exist", ["rules"])).toEqual(["rules", 2]);
    expect(attributePathFromMessage("rules: must have at most 500 rules", ["rules"])).toEqual(["rules"]);
    expect(attributePathFromMessage("rules[2].column: x", ["project_id"])).toBeUndefined();
  });

  it("tells a gone object from other API errors by the error's code, whatever its text", async () => {
    const apiError = (status: number, error: string, code: string) => new CapyApiError(status, error, "GET", "/v1/x", { error, code });
    expect(isNotFound(apiError(404, "preview database pdb_1 not found", "not_found"))).toBe(true);
    expect(isNotFound(apiError(404, "project prj_1 not found", "project_not_found"))).toBe(true);
    // a server without the endpoint says nothing about the object: not a reason to forget it
    expect(isNotFound(apiError(404, "no such endpoint: GET /v1/x", "endpoint_not_found"))).toBe(false);
    expect(isNotFound(apiError(409, "project is deleting", "project_deleted"))).toBe(false);

    // An extension's project: being deleted means the extension is gone; not ready yet is an error.
    const reading = (err: unknown) => {
      const client = { listExtensions: () => Promise.reject(err) };
      return extensionResource.read({ client, signal: new AbortController().signal } as unknown as ProviderContext, { project_id: "prj_1", name: "citext" });
    };
    expect(await reading(apiError(409, "the project went away (reworded)", "project_deleted"))).toBeNull();
    await expect(reading(apiError(409, "project is deleting (but the code says otherwise)", "project_not_ready"))).rejects.toThrow(/code says otherwise/);
  });

  it("parses Go durations", () => {
    expect(parseDuration("20m")).toBe(1_200_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("1.5s")).toBe(1500);
    expect(parseDuration("20")).toBeUndefined();
    expect(parseDuration("soon")).toBeUndefined();
  });

  it("states the version of package.json", () => {
    const pkg = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    expect(PROVIDER_VERSION).toBe(pkg.version);
  });
});
