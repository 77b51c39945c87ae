// Builds the OpenAPI 3.1 document from the endpoint catalogue and the zod schemas.
// OpenAPI 3.1 speaks JSON Schema 2020-12, which is what zod emits: named schemas
// (those with a meta id) become components and are referenced, not inlined.
import { z } from "zod";
import { endpoints, errorCodesOf, type Endpoint } from "./endpoints.js";
import { connectionLevelCodes, ERROR_CODES, type ErrorCode } from "./error-codes.js";
import { ErrorBody } from "./schemas.js";

type Json = Record<string, unknown>;

function toSchema(schema: z.ZodType, io: "input" | "output", components: Json): Json {
  const out = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" }) as Json;
  const defs = (out.$defs ?? {}) as Record<string, Json>;
  delete out.$defs;
  delete out.$schema;
  for (const [name, def] of Object.entries(defs)) {
    if (!components[name]) components[name] = rewriteRefs(def);
  }
  const id = (out.id ?? undefined) as string | undefined;
  if (id) {
    // A top-level named schema: register it and answer a reference.
    delete out.id;
    if (!components[id]) components[id] = rewriteRefs(out);
    return { $ref: `#/components/schemas/${id}` };
  }
  return rewriteRefs(out) as Json;
}

function rewriteRefs<T>(value: T): T {
  if (Array.isArray(value)) return value.map(rewriteRefs) as T;
  if (value && typeof value === "object") {
    const o: Json = {};
    for (const [k, v] of Object.entries(value as Json)) {
      if (k === "$ref" && typeof v === "string") o[k] = v.replace("#/$defs/", "#/components/schemas/");
      else if (k === "id" && typeof v === "string") continue;
      else o[k] = rewriteRefs(v);
    }
    return o as T;
  }
  return value;
}

function parameters(e: Endpoint, components: Json): Json[] {
  const params: Json[] = [];
  for (const m of e.path.matchAll(/\{(\w+)\}/g)) {
    params.push({ name: m[1], in: "path", required: true, schema: { type: "string" } });
  }
  if (e.query) {
    const q = toSchema(e.query, "input", components) as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      params.push({ name, in: "query", required: (q.required ?? []).includes(name), schema });
    }
  }
  return params;
}

/** One error status of an operation: the Error schema, with `code` narrowed to what this status can carry here. */
function errorResponse(errorRef: Json, codes: ErrorCode[]): Json {
  return {
    description: codes.map((c) => `\`${c}\`: ${ERROR_CODES[c].description}`).join("; "),
    content: {
      "application/json": {
        schema: { allOf: [errorRef, { type: "object", properties: { code: { enum: codes } } }] },
      },
    },
  };
}

export function buildOpenApiDocument(options: { serverUrl?: string } = {}): Json {
  const components: Json = {};
  const errorRef = toSchema(ErrorBody, "output", components);
  const paths: Record<string, Json> = {};
  for (const e of endpoints) {
    const responses: Json = {
      [String(e.status)]:
        e.status === 204
          ? { description: "Success (no body)" }
          : { description: "Success", content: { "application/json": { schema: toSchema(e.response, "output", components) } } },
    };
    for (const [status, codes] of errorCodesOf(e)) responses[String(status)] = errorResponse(errorRef, codes);
    const op: Json = {
      operationId: `${e.method.toLowerCase()}${e.path.replace(/\{(\w+)\}/g, "By_$1").replace(/[^a-zA-Z0-9_]+(.)?/g, (_m, c: string | undefined) => (c ?? "").toUpperCase())}`,
      summary: e.summary,
      tags: [e.tag],
      parameters: parameters(e, components),
      responses,
      "x-capydb-contract": e.contract,
    };
    if (e.admin) op["x-capydb-platform-admin"] = true;
    if (e.githubActions) op["x-capydb-github-actions"] = e.githubActions;
    if (!e.public) op.security = [{ bearer: [] }];
    else op.security = [];
    if (e.body) {
      op.requestBody = { required: false, content: { "application/json": { schema: toSchema(e.body, "input", components) } } };
    }
    (paths[e.path] ??= {})[e.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "CapyDB API",
      version: "1.0.0",
      description:
        "Preview databases, verified backups, imports and operator-assisted cutovers for PostgreSQL. " +
        'Every error answers { "error": "<for a person>", "code": "<for a program>" }: each operation lists its error statuses and the codes each can carry; ' +
        `any request may also be refused before an operation is chosen (${connectionLevelCodes.map((c) => `${ERROR_CODES[c].status} ${c}`).join(", ")}).`,
    },
    servers: options.serverUrl ? [{ url: options.serverUrl }] : [],
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "An API key (capy_live_...), a Clerk session token, or a GitHub Actions token (capy_oidc_...) from POST /v1/auth/github-oidc.",
        },
      },
    },
  };
}
