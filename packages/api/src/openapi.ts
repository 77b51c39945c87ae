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
        schema: { allOf: [errorRef, { type: "object", required: ["code"], properties: { code: { type: "string", enum: codes } } }] },
      },
    },
  };
}

export interface OpenApiOptions {
  serverUrl?: string;
  /** The server's limit on a JSON request body (CAPYDB_BODY_LIMIT_BYTES); documented when given. */
  bodyLimitBytes?: number;
  /** The server's limit on an uploaded dump (CAPYDB_UPLOAD_MAX_BYTES); documented when given. */
  uploadMaxBytes?: number;
}

/** Whether the server refuses the operation without a body: an absent body is read as {}, so by default required iff {} is invalid. */
export function bodyRequired(e: Endpoint): boolean {
  return e.body !== undefined && (e.bodyRequired ?? !e.body.safeParse({}).success);
}

/** The raw body of PUT /v1/uploads/{objectKey}: the dump itself, not JSON. */
function uploadOperation(op: Json, options: OpenApiOptions): void {
  const limit = options.uploadMaxBytes;
  const limitText = limit ? `at most ${limit} bytes (CAPYDB_UPLOAD_MAX_BYTES)` : "at most the server's CAPYDB_UPLOAD_MAX_BYTES (10 GiB by default)";
  op.description =
    "PUT the upload_url answered by createUpload as given: its path carries the object key (slashes and all) and its query the signature. " +
    `The body is the dump itself (pg_dump --format=custom or --format=tar), streamed, ${limitText}; any other content is refused (400), a larger one 413.`;
  const params = op.parameters as Json[];
  const key = params.find((p) => p.name === "objectKey");
  if (key) key.description = 'The object_key of the upload ("uploads/<projectID>/<hex>.dump"); not escaped';
  params.push(
    {
      name: "expires",
      in: "query",
      required: true,
      description: "From the upload_url: its expiry, in Unix seconds",
      schema: { type: "string", pattern: "^[0-9]+$" },
    },
    { name: "signature", in: "query", required: true, description: "From the upload_url: the URL's signature", schema: { type: "string" } },
  );
  const binary: Json = { type: "string", format: "binary", contentMediaType: "application/octet-stream" };
  if (limit) binary["x-capydb-max-bytes"] = limit;
  op.requestBody = {
    required: true,
    description: `The dump (custom or tar format), ${limitText}`,
    content: { "application/octet-stream": { schema: binary } },
  };
}

export function buildOpenApiDocument(options: OpenApiOptions = {}): Json {
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
      operationId: e.operationId,
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
      const required = bodyRequired(e);
      const limit = options.bodyLimitBytes ? `; at most ${options.bodyLimitBytes} bytes` : "";
      op.requestBody = {
        required,
        description: (required ? "Required" : "Optional: an absent body is the same as {}") + limit,
        content: { "application/json": { schema: toSchema(e.body, "input", components) } },
      };
    }
    if (e.operationId === "uploadDump") uploadOperation(op, options);
    (paths[e.path] ??= {})[e.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "CapyDB API",
      version: "1.0.0",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
      description:
        "Preview databases, verified backups, imports and operator-assisted cutovers for PostgreSQL. " +
        'Every error answers { "error": "<for a person>", "code": "<for a program>" }: each operation lists its error statuses and the codes each can carry; ' +
        `any request may also be refused before an operation is chosen (${connectionLevelCodes.map((c) => `${ERROR_CODES[c].status} ${c}`).join(", ")}). ` +
        "Lists take ?limit= and ?cursor=: with either, the answer is one page and carries next_cursor (null on the last page); with neither, the whole list as before. " +
        "Operation ids are the method names of the typed client (@capydb/api). A reference for people is served at /docs.",
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
