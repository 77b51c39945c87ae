// The OpenAPI document as generators read it: operation ids that are the typed client's method
// names, request bodies marked required when the server refuses the call without one, the
// upload's raw body, the license.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapyClient } from "../src/client.js";
import { endpoints, errorCodesOf, type Endpoint } from "../src/endpoints.js";
import { bodyRequired, buildOpenApiDocument } from "../src/openapi.js";

type Op = {
  operationId: string;
  parameters: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: { required: boolean; content: Record<string, { schema: Record<string, unknown> }> };
};
const doc = buildOpenApiDocument({ bodyLimitBytes: 1_048_576, uploadMaxBytes: 5_000_000 }) as unknown as {
  info: { license: { name: string; identifier: string } };
  paths: Record<string, Record<string, Op>>;
};
const op = (e: Endpoint) => doc.paths[e.path][e.method.toLowerCase()];
const endpoint = (id: string) => endpoints.find((e) => e.operationId === id)!;

/** Matches a request's path against the catalogue's templates (most literal segments first). */
function endpointOf(method: string, path: string): Endpoint | undefined {
  const matches = endpoints.filter((e) => {
    if (e.method !== method) return false;
    const re = new RegExp("^" + e.path.replace(/\{\w+\}/g, e.route?.endsWith("*") ? "(.+)" : "([^/]+)") + "$");
    return re.test(path);
  });
  return matches.sort((a, b) => b.path.replace(/\{\w+\}/g, "").length - a.path.replace(/\{\w+\}/g, "").length)[0];
}

describe("operation ids", () => {
  // A server that records what each client method sends, and answers anything with {}.
  let server: http.Server;
  let base: string;
  const seen: { method: string; path: string }[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        seen.push({ method: req.method!, path: new URL(req.url!, "http://x").pathname });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ uri: "postgres://x" }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("are unique lowerCamelCase names", () => {
    const ids = endpoints.map((e) => e.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z][a-zA-Z0-9]*$/);
    for (const e of endpoints) expect(op(e).operationId).toBe(e.operationId);
  });

  it("are the names of the typed client's methods for the same endpoint", async () => {
    const client = new CapyClient({ baseUrl: base, apiKey: "capy_live_test", retries: 0, validateResponses: false });
    const notEndpoints = new Set(["constructor", "close", "request", "waitForJob"]);
    const methods = Object.getOwnPropertyNames(CapyClient.prototype).filter((m) => !notEndpoints.has(m));
    expect(methods.length).toBeGreaterThan(40);
    const called: string[] = [];
    try {
      for (const m of methods) {
        seen.length = 0;
        // path parameters first, then (at most) a body or options object: strings do for both here
        await (client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[m]("id_one", "id_two");
        expect(seen, m).toHaveLength(1);
        const e = endpointOf(seen[0].method, seen[0].path);
        expect(e, `${m}: ${seen[0].method} ${seen[0].path}`).toBeDefined();
        expect(e!.operationId, `${m} sends ${e!.method} ${e!.path}`).toBe(m);
        called.push(m);
      }
    } finally {
      await client.close();
    }
    // the endpoints the client has no method for yet
    const without = endpoints.map((e) => e.operationId).filter((id) => !called.includes(id));
    expect(without.sort()).toEqual(["deleteBackup", "getOrganizationQuotas", "putOrganizationQuotas", "uploadDump"]);
  });
});

describe("request bodies", () => {
  it("are required exactly when the server refuses the call without one", () => {
    for (const e of endpoints.filter((x) => x.body)) {
      expect(op(e).requestBody!.required, `${e.method} ${e.path}`).toBe(e.bodyRequired ?? !e.body!.safeParse({}).success);
      expect(op(e).requestBody!.required).toBe(bodyRequired(e));
    }
    for (const id of ["createProject", "createCutoverRequest", "enableExtension", "createImport", "preflightImport", "createApiKey", "rejectCutoverRequest"]) {
      expect(op(endpoint(id)).requestBody!.required, id).toBe(true);
    }
    for (const id of ["createPreview", "resetPreview", "extendPreview", "createBackup", "acknowledgeCutoverRequest", "executeCutoverRequest"]) {
      expect(op(endpoint(id)).requestBody!.required, id).toBe(false);
    }
    for (const e of endpoints.filter((x) => !x.body && x.operationId !== "uploadDump")) expect(op(e).requestBody, e.operationId).toBeUndefined();
  });

  it("describe the upload's raw body: the dump as bytes, with its size limit, and the signed URL's query", () => {
    const upload = op(endpoint("uploadDump"));
    expect(upload.requestBody!.required).toBe(true);
    expect(Object.keys(upload.requestBody!.content)).toEqual(["application/octet-stream"]);
    const schema = upload.requestBody!.content["application/octet-stream"].schema;
    expect(schema).toMatchObject({ type: "string", format: "binary", "x-capydb-max-bytes": 5_000_000 });
    const query = upload.parameters.filter((p) => p.in === "query");
    expect(query.map((p) => [p.name, p.required])).toEqual([
      ["expires", true],
      ["signature", true],
    ]);
  });
});

describe("error responses", () => {
  const codes = (id: string) => Object.fromEntries([...errorCodesOf(endpoint(id))].map(([status, c]) => [status, c]));

  it("are each operation's own: few operations share one list", () => {
    const lists = new Set(endpoints.map((e) => JSON.stringify([...errorCodesOf(e)])));
    expect(lists.size).toBeGreaterThan(endpoints.length / 2);
  });

  it("name what the server answers where it answers it", () => {
    // a project's path: the project is unknown; any other id: not_found
    expect(codes("getProject")[404]).toEqual(["project_not_found"]);
    expect(codes("getBackup")[404]).toEqual(["not_found"]);
    // a preview of another project named in the body is not found, the project's is project_not_found
    expect(codes("createCutoverRequest")[404]).toEqual(["project_not_found", "not_found"]);
    // a masked preview cannot be promoted in mode data: a plain conflict
    expect(codes("createCutoverRequest")[409]).toContain("conflict");
    // masking rules are read from production's database, which a deleted project no longer has
    expect(codes("getMaskingRules")[409]).toEqual(["project_not_ready", "project_deleted"]);
    expect(codes("putMaskingRules")[409]).toEqual(["project_not_ready", "project_deleted"]);
    // reads a GitHub Actions token may make answer no 403; its other calls can
    expect(codes("getPreview")[403]).toBeUndefined();
    expect(codes("createPreview")[403]).toEqual(["forbidden"]);
    // the upload is public: no 401, but its signature is checked
    expect(codes("uploadDump")[401]).toBeUndefined();
    expect(codes("uploadDump")[403]).toEqual(["forbidden", "upload_url_expired"]);
    // no body, no 413/415
    expect(codes("listProjects")[413]).toBeUndefined();
  });
});

describe("info", () => {
  it("names the license with its SPDX identifier", () => {
    expect(doc.info.license).toEqual({ name: "Apache-2.0", identifier: "Apache-2.0" });
  });
});
