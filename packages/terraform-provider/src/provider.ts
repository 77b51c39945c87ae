// The tfplugin6 Provider service: decodes Terraform's requests, runs the resource or data source,
// and answers in the protocol's shapes. Everything protocol-generic lives here; what a CapyDB
// object is lives in resources/ and data-sources/.
import type { CapyClient } from "@capydb/api";
import { decodeJsonValue, decodeValue, encodeValue } from "./cty/msgpack.js";
import { type CtyType, type ObjectValue, type Value, isUnknown, isWhollyKnown, unknownsToNull } from "./cty/types.js";
import { DiagnosticError, errorDiagnostic, errorToDiagnostic } from "./framework/diagnostics.js";
import { CreatedWithError, type DataSource, type ProviderContext, type Resource, differsBeyondTimeouts, planResourceChange } from "./framework/resource.js";
import { parseDuration } from "./framework/timeouts.js";
import type { Logger } from "./plugin/log.js";
import type { Message } from "./proto/codec.js";
import type { DiagnosticMsg, DynamicValueMsg } from "./proto/messages.js";
import { type SchemaSpec, blockType, schemaToProto } from "./schema/schema.js";
import { PROVIDER_SCHEMA, PROVIDER_VERSION, dataSources, resources } from "./registry.js";

type Req = Message;

function fromDynamic(t: CtyType, dv: unknown): Value {
  const v = dv as DynamicValueMsg | undefined;
  if (v?.msgpack && v.msgpack.length > 0) return decodeValue(t, v.msgpack);
  if (v?.json && v.json.length > 0) return decodeJsonValue(t, v.json);
  return null;
}

function toDynamic(t: CtyType, value: Value): DynamicValueMsg {
  return { msgpack: encodeValue(t, value) };
}

/** The state with the timeouts block of `from` (the API knows nothing of it). */
function withTimeouts(state: ObjectValue, from: ObjectValue | null): ObjectValue {
  const out: ObjectValue = { ...state };
  out.timeouts = from?.timeouts ?? null;
  return out;
}

function typeOf(schema: SchemaSpec): CtyType {
  return blockType(schema.block);
}

function attributeNames(schema: SchemaSpec): string[] {
  return Object.keys(schema.block.attributes);
}

/** Timeouts given in the configuration must parse as durations. */
function validateTimeouts(config: ObjectValue): DiagnosticMsg[] {
  const block = config.timeouts;
  if (!block || isUnknown(block) || typeof block !== "object" || Array.isArray(block)) return [];
  const out: DiagnosticMsg[] = [];
  for (const [name, v] of Object.entries(block)) {
    if (typeof v === "string" && parseDuration(v) === undefined) {
      out.push(errorDiagnostic("Invalid timeout", `${name}: "${v}" is not a duration such as "30s", "20m" or "1h30m"`, ["timeouts", name]));
    }
  }
  return out;
}

export class CapyProvider {
  readonly resources = new Map<string, Resource>(resources.map((r) => [r.typeName, r]));
  readonly dataSources = new Map<string, DataSource>(dataSources.map((d) => [d.typeName, d]));
  #client: CapyClient | null = null;
  #stop = new AbortController();

  constructor(readonly log: Logger) {}

  #context(): ProviderContext {
    if (!this.#client) throw new DiagnosticError("Provider not configured", "Terraform did not call ConfigureProvider before using a resource.");
    return { client: this.#client, signal: this.#stop.signal, log: this.log };
  }

  #resource(typeName: unknown): Resource {
    const r = this.resources.get(String(typeName));
    if (!r) throw new DiagnosticError("Unknown resource type", `This provider has no resource type "${typeName}".`);
    return r;
  }

  #dataSource(typeName: unknown): DataSource {
    const d = this.dataSources.get(String(typeName));
    if (!d) throw new DiagnosticError("Unknown data source", `This provider has no data source "${typeName}".`);
    return d;
  }

  // ---------------------------------------------------------------- schema and configuration

  getProviderSchema(): Message {
    return {
      provider: schemaToProto(PROVIDER_SCHEMA),
      resource_schemas: Object.fromEntries([...this.resources].map(([name, r]) => [name, schemaToProto(r.schema)])),
      data_source_schemas: Object.fromEntries([...this.dataSources].map(([name, d]) => [name, schemaToProto(d.schema)])),
      diagnostics: [],
      server_capabilities: { plan_destroy: false, get_provider_schema_optional: true, move_resource_state: false },
    };
  }

  validateProviderConfig(req: Req): Message {
    const config = fromDynamic(typeOf(PROVIDER_SCHEMA), req.config) as ObjectValue;
    const diagnostics: DiagnosticMsg[] = [];
    const url = config?.api_url;
    if (typeof url === "string" && !/^https?:\/\/[^/]/.test(url)) {
      diagnostics.push(errorDiagnostic("Invalid api_url", `api_url must be an http(s) URL such as "https://capydb.example.com", got "${url}".`, ["api_url"]));
    }
    return { diagnostics };
  }

  async configureProvider(req: Req): Promise<Message> {
    const config = fromDynamic(typeOf(PROVIDER_SCHEMA), req.config) as ObjectValue;
    const pick = (name: "api_url" | "api_key", env: string): string | null | "unknown" => {
      const v = config?.[name];
      if (isUnknown(v)) return "unknown";
      if (typeof v === "string" && v !== "") return v;
      const fromEnv = process.env[env];
      return fromEnv ? fromEnv : null;
    };
    const url = pick("api_url", "CAPYDB_API_URL");
    const key = pick("api_key", "CAPYDB_API_KEY");
    const diagnostics: DiagnosticMsg[] = [];
    for (const [name, value, env] of [
      ["api_url", url, "CAPYDB_API_URL"],
      ["api_key", key, "CAPYDB_API_KEY"],
    ] as const) {
      if (value === "unknown")
        diagnostics.push(
          errorDiagnostic(`${name} is not known yet`, `The provider needs ${name} to plan; it cannot depend on a resource that is not created yet.`, [name]),
        );
      else if (value === null)
        diagnostics.push(errorDiagnostic(`Missing ${name}`, `Set ${name} in the provider "capydb" block or the ${env} environment variable.`, [name]));
    }
    if (diagnostics.length) return { diagnostics };
    try {
      const { CapyClient } = await import("@capydb/api");
      const version = String(req.terraform_version || "unknown");
      this.#client = new CapyClient({
        baseUrl: url as string,
        apiKey: key as string,
        userAgent: `terraform-provider-capydb/${PROVIDER_VERSION} (terraform ${version}; node ${process.versions.node})`,
      });
    } catch (err) {
      // The client's messages never include the key.
      return { diagnostics: [errorDiagnostic("Invalid provider configuration", (err as Error).message)] };
    }
    this.log.debug("configured", { api_url: url });
    return { diagnostics: [] };
  }

  async validateResourceConfig(req: Req): Promise<Message> {
    try {
      const r = this.#resource(req.type_name);
      const config = fromDynamic(typeOf(r.schema), req.config) as ObjectValue;
      return { diagnostics: [...validateTimeouts(config), ...((await r.validate?.(config)) ?? [])] };
    } catch (err) {
      return { diagnostics: [errorToDiagnostic(err)] };
    }
  }

  async validateDataResourceConfig(req: Req): Promise<Message> {
    try {
      const d = this.#dataSource(req.type_name);
      const config = fromDynamic(typeOf(d.schema), req.config) as ObjectValue;
      return { diagnostics: (await d.validate?.(config)) ?? [] };
    } catch (err) {
      return { diagnostics: [errorToDiagnostic(err)] };
    }
  }

  upgradeResourceState(req: Req): Message {
    try {
      const r = this.#resource(req.type_name);
      const t = typeOf(r.schema);
      const raw = req.raw_state as { json?: Uint8Array; flatmap?: Record<string, string> } | undefined;
      if (!raw?.json || raw.json.length === 0) {
        if (raw?.flatmap && Object.keys(raw.flatmap).length) {
          throw new DiagnosticError(
            "Unsupported state format",
            "This state was written by Terraform 0.11 or older (flatmap); this provider never wrote such state.",
          );
        }
        return { upgraded_state: toDynamic(t, null), diagnostics: [] };
      }
      // Version 0 is the only schema version so far: the JSON already has our attributes;
      // conform() drops attributes we no longer have and adds new ones as null.
      return { upgraded_state: toDynamic(t, decodeJsonValue(t, raw.json)), diagnostics: [] };
    } catch (err) {
      return { diagnostics: [errorToDiagnostic(err)] };
    }
  }

  // ---------------------------------------------------------------- managed resources

  async readResource(req: Req): Promise<Message> {
    let r: Resource;
    try {
      r = this.#resource(req.type_name);
    } catch (err) {
      return { diagnostics: [errorToDiagnostic(err)] };
    }
    const t = typeOf(r.schema);
    const current = fromDynamic(t, req.current_state) as ObjectValue | null;
    if (current === null) return { new_state: toDynamic(t, null), private: req.private, diagnostics: [] };
    try {
      const fresh = await r.read(this.#context(), current);
      if (fresh === null) this.log.info("object is gone: planning to create it again", { type: r.typeName, id: String(current.id ?? "") });
      const next = fresh === null ? null : withTimeouts(fresh, current);
      return { new_state: toDynamic(t, next), private: req.private, diagnostics: [] };
    } catch (err) {
      return { new_state: toDynamic(t, current), private: req.private, diagnostics: [errorToDiagnostic(err, attributeNames(r.schema))] };
    }
  }

  async planResourceChange(req: Req): Promise<Message> {
    let r: Resource;
    try {
      r = this.#resource(req.type_name);
    } catch (err) {
      return { diagnostics: [errorToDiagnostic(err)] };
    }
    const t = typeOf(r.schema);
    try {
      const prior = fromDynamic(t, req.prior_state) as ObjectValue | null;
      const proposed = fromDynamic(t, req.proposed_new_state) as ObjectValue | null;
      const config = fromDynamic(t, req.config) as ObjectValue | null;
      if (proposed === null || config === null) {
        // Destroy: nothing to plan (we do not ask for plan_destroy).
        return { planned_state: toDynamic(t, null), planned_private: req.prior_private, requires_replace: [], diagnostics: [] };
      }
      const ctx = this.#client ? this.#context() : null;
      const { planned, requiresReplace, diagnostics } = await planResourceChange(r, ctx, prior, proposed, config);
      return {
        planned_state: toDynamic(t, planned),
        requires_replace: requiresReplace.map((name) => ({ steps: [{ attribute_name: name }] })),
        planned_private: req.prior_private,
        diagnostics,
      };
    } catch (err) {
      return { diagnostics: [errorToDiagnostic(err, attributeNames(r.schema))] };
    }
  }

  async applyResourceChange(req: Req): Promise<Message> {
    let r: Resource;
    try {
      r = this.#resource(req.type_name);
    } catch (err) {
      return { diagnostics: [errorToDiagnostic(err)] };
    }
    const t = typeOf(r.schema);
    const names = attributeNames(r.schema);
    const prior = fromDynamic(t, req.prior_state) as ObjectValue | null;
    const planned = fromDynamic(t, req.planned_state) as ObjectValue | null;
    const answer = (state: ObjectValue | null, diagnostics: DiagnosticMsg[] = []) => ({
      new_state: toDynamic(t, state === null ? null : (unknownsToNull(state) as ObjectValue)),
      private: req.planned_private,
      diagnostics,
    });
    let ctx: ProviderContext;
    try {
      ctx = this.#context();
    } catch (err) {
      return answer(prior, [errorToDiagnostic(err)]);
    }

    if (planned === null) {
      if (prior === null) return answer(null);
      try {
        await r.delete(ctx, prior);
        return answer(null);
      } catch (err) {
        return answer(prior, [errorToDiagnostic(err, names)]);
      }
    }

    if (prior === null) {
      try {
        const created = withTimeouts(await r.create(ctx, planned), planned);
        this.#checkConsistency(r, planned, created);
        return answer(created);
      } catch (err) {
        if (err instanceof CreatedWithError) {
          return answer(withTimeouts(err.state, planned), [errorToDiagnostic(err.cause, names)]);
        }
        return answer(null, [errorToDiagnostic(err, names)]);
      }
    }

    try {
      if (!differsBeyondTimeouts(prior, planned) && isWhollyKnown(planned)) return answer(planned);
      const updated = withTimeouts(await r.update(ctx, prior, planned), planned);
      this.#checkConsistency(r, planned, updated);
      return answer(updated);
    } catch (err) {
      return answer(prior, [errorToDiagnostic(err, names)]);
    }
  }

  /** Logs (never hides) a value that differs from what the plan promised: Terraform will reject it. */
  #checkConsistency(r: Resource, planned: ObjectValue, actual: ObjectValue): void {
    for (const name of Object.keys(r.schema.block.attributes)) {
      const p = planned[name];
      if (isWhollyKnown(p as Value) && JSON.stringify(p) !== JSON.stringify(actual[name])) {
        this.log.warn("applied value differs from the planned one", { type: r.typeName, attribute: name });
      }
    }
  }

  async importResourceState(req: Req): Promise<Message> {
    try {
      const r = this.#resource(req.type_name);
      const id = String(req.id ?? "").trim();
      if (!id) throw new DiagnosticError("Missing import id", `terraform import needs the id of the ${r.typeName} to import.`);
      const state = withTimeouts(await r.importState(this.#context(), id), null);
      return {
        imported_resources: [{ type_name: r.typeName, state: toDynamic(typeOf(r.schema), state), private: Buffer.alloc(0) }],
        diagnostics: [],
      };
    } catch (err) {
      return { imported_resources: [], diagnostics: [errorToDiagnostic(err)] };
    }
  }

  // ---------------------------------------------------------------- data sources

  async readDataSource(req: Req): Promise<Message> {
    try {
      const d = this.#dataSource(req.type_name);
      const t = typeOf(d.schema);
      const config = fromDynamic(t, req.config) as ObjectValue;
      return { state: toDynamic(t, await d.read(this.#context(), config)), diagnostics: [] };
    } catch (err) {
      return { diagnostics: [errorToDiagnostic(err, [])] };
    }
  }

  // ---------------------------------------------------------------- lifecycle

  stopProvider(): Message {
    this.log.info("StopProvider: interrupting operations in flight");
    this.#stop.abort(Object.assign(new Error("interrupted by Terraform"), { name: "AbortError" }));
    this.#stop = new AbortController();
    return { Error: "" };
  }

  async close(): Promise<void> {
    await this.#client?.close().catch(() => {});
  }
}
