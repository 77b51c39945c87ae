// The closed set of error codes, and the OpenAPI document's error responses built from it.
import { describe, expect, it } from "vitest";
import { ERROR_CODES, errorCodes, genericCode, isErrorCode, type ErrorCode } from "../src/error-codes.js";
import { endpoints, errorCodesOf, type Endpoint } from "../src/endpoints.js";
import { buildOpenApiDocument } from "../src/openapi.js";

interface ErrorResponse {
  description: string;
  content: { "application/json": { schema: { allOf: [{ $ref: string }, { properties: { code: { enum: ErrorCode[] } } }] } } };
}
interface Document {
  paths: Record<string, Record<string, { responses: Record<string, ErrorResponse> }>>;
  components: { schemas: { Error: { required: string[]; properties: { code: { enum: string[] } } } } };
}

const endpoint = (method: Endpoint["method"], path: string) => {
  const e = endpoints.find((x) => x.method === method && x.path === path);
  if (!e) throw new Error(`no endpoint ${method} ${path}`);
  return e;
};

describe("the error codes", () => {
  it("are snake_case, each with one error status and a description", () => {
    for (const code of errorCodes) {
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(ERROR_CODES[code].status).toBeGreaterThanOrEqual(400);
      expect(ERROR_CODES[code].description.length).toBeGreaterThan(10);
    }
    expect(isErrorCode("preview_name_taken")).toBe(true);
    expect(isErrorCode("toString")).toBe(false);
    expect(isErrorCode(404)).toBe(false);
  });

  it("give every status the server answers a generic code of that status", () => {
    for (const status of [400, 401, 403, 404, 408, 409, 413, 414, 415, 431, 500, 501, 503]) {
      expect(ERROR_CODES[genericCode(status)].status, String(status)).toBe(status);
    }
    expect(genericCode(502)).toBe("unavailable");
    expect(genericCode(504)).toBe("unavailable");
    expect(genericCode(429)).toBe("bad_request");
  });
});

describe("each operation's error responses", () => {
  const doc = buildOpenApiDocument() as unknown as Document;

  it("are the Error schema with code narrowed to what that status can carry there", () => {
    const error = doc.components.schemas.Error;
    expect(error.required.sort()).toEqual(["code", "error"]);
    expect(error.properties.code.enum.sort()).toEqual([...errorCodes].sort());
    for (const e of endpoints) {
      const op = doc.paths[e.path][e.method.toLowerCase()];
      const statuses = Object.keys(op.responses).filter((s) => Number(s) >= 400);
      const declared = errorCodesOf(e);
      expect(statuses.map(Number), `${e.method} ${e.path}`).toEqual([...declared.keys()]);
      for (const status of statuses) {
        const schema = op.responses[status].content["application/json"].schema;
        expect(schema.allOf[0]).toEqual({ $ref: "#/components/schemas/Error" });
        const codes = schema.allOf[1].properties.code.enum;
        expect(codes).toEqual(declared.get(Number(status)));
        for (const code of codes) {
          expect(ERROR_CODES[code].status, `${e.method} ${e.path}: ${code}`).toBe(Number(status));
          expect(op.responses[status].description).toContain(`\`${code}\``);
        }
      }
    }
  });

  it("list what every authenticated endpoint can answer, and what only some can", () => {
    const codes = (e: Endpoint) => [...errorCodesOf(e).values()].flat();
    for (const e of endpoints.filter((x) => !x.public)) {
      expect(codes(e), `${e.method} ${e.path}`).toEqual(expect.arrayContaining(["validation_failed", "unauthorized", "internal", "unavailable"]));
      // 403: operator endpoints, and every one a GitHub Actions token may not call whatever its policy
      expect(codes(e).includes("forbidden"), `${e.method} ${e.path}`).toBe(
        Boolean(e.admin) || e.githubActions !== "read" || (e.errors ?? []).includes("forbidden"),
      );
      expect(codes(e).includes("payload_too_large"), `${e.method} ${e.path}`).toBe(e.method !== "GET");
    }
    expect([...errorCodesOf(endpoint("GET", "/v1/projects")).keys()]).toEqual([400, 401, 403, 500, 503]);
    expect([...errorCodesOf(endpoint("GET", "/v1/jobs/{jobID}")).keys()]).toEqual([400, 401, 404, 414, 500, 503]);
    expect(errorCodesOf(endpoint("GET", "/v1/projects/{projectID}")).get(404)).toEqual(["project_not_found"]);
    expect(errorCodesOf(endpoint("GET", "/v1/preview-databases/{previewID}")).get(404)).toEqual(["not_found"]);
    expect([...errorCodesOf(endpoint("GET", "/healthz")).keys()]).toEqual([500, 503]);
  });

  it("declare the specific codes the Action, the Terraform provider and the CLI decide on, on the operations they call", () => {
    const carries = (method: Endpoint["method"], path: string, code: ErrorCode) =>
      expect(errorCodesOf(endpoint(method, path)).get(ERROR_CODES[code].status), `${method} ${path}`).toContain(code);
    carries("POST", "/v1/projects/{projectID}/preview-databases", "preview_name_taken");
    carries("POST", "/v1/preview-databases/{previewID}/extend", "preview_lifetime_exceeded");
    carries("GET", "/v1/preview-databases/{previewID}/connection-uri", "pooling_unavailable");
    carries("GET", "/v1/projects/{projectID}", "project_not_found");
    carries("POST", "/v1/projects/{projectID}/cutover-requests", "cutover_already_open");
    carries("GET", "/v1/projects/{projectID}/extensions", "project_deleted");
    carries("POST", "/v1/cutover-requests/{cutoverID}/execute", "cutover_state_conflict");
    carries("POST", "/v1/cutover-requests/{cutoverID}/rollback", "rollback_window_passed");
  });
});
