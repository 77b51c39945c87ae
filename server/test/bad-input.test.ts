// Hostile and malformed requests: always a clear 4xx with { error }, never a 500, nothing created.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../test/harness/server.js";

let t: TestServer;
let orgId: string;
let key: string;

async function send(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const res = await fetch(t.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body,
  });
  const text = await res.text();
  let json: { error?: string } = {};
  try {
    json = JSON.parse(text);
  } catch {
    // leave empty: the assertion on error below reports it
  }
  return { status: res.status, error: json.error, text };
}

// Other test files share the cluster, so "nothing created" is judged on this server's
// control plane: no project row, and no job (databases are only ever made by jobs).
const jobCount = async () => Number((await t.server.ctx.db.query("select count(*) from jobs")).rows[0].count);
const projectCount = async () => Number((await t.server.ctx.db.query("select count(*) from projects")).rows[0].count);

beforeAll(async () => {
  t = await startTestServer();
  orgId = (await t.admin.createOrganization({ name: "Input" })).organization.id;
  key = (await t.admin.createApiKey(orgId, { name: "k" })).secret;
});
afterAll(async () => t?.stop());

describe("bad input", () => {
  it("answers a clear 4xx naming the field, and creates nothing", async () => {
    const jobsBefore = await jobCount();
    const projectsBefore = await projectCount();
    const cases: Array<[string, string, string | undefined, number, RegExp]> = [
      ["POST", "/v1/projects", JSON.stringify({ name: 5 }), 400, /^name: /],
      ["POST", "/v1/projects", JSON.stringify({}), 400, /^name: is required/],
      ["POST", "/v1/projects", JSON.stringify({ name: "ok", bogus: true }), 400, /^bogus: unknown field/],
      ["POST", "/v1/projects", JSON.stringify({ name: "ok", max_connections: "10" }), 400, /^max_connections: /],
      ["POST", "/v1/projects", JSON.stringify({ name: "ok", max_connections: 1.5 }), 400, /^max_connections: /],
      ["POST", "/v1/projects", JSON.stringify({ name: "ok", statement_timeout: "1; DROP ROLE x" }), 400, /^statement_timeout: /],
      ["POST", "/v1/projects", JSON.stringify({ name: "ok", region: "mars" }), 400, /^region: /],
      ["POST", "/v1/projects", JSON.stringify({ name: "x'; DROP DATABASE postgres; --" }), 400, /^name: /],
      ["POST", "/v1/projects", JSON.stringify({ name: 'a"b' }), 400, /^name: /],
      ["POST", "/v1/projects", JSON.stringify({ name: "semi;colon" }), 400, /^name: /],
      ["POST", "/v1/projects", JSON.stringify({ name: "emoji \u{1F4A5}" }), 400, /^name: /],
      ["POST", "/v1/projects", JSON.stringify({ name: "nul\u0000byte" }), 400, /^name: /],
      ["POST", "/v1/projects", JSON.stringify({ name: "x".repeat(64) }), 400, /^name: .*63/],
      ["POST", "/v1/projects", JSON.stringify([{ name: "array" }]), 400, /^body: /],
      ["POST", "/v1/projects", JSON.stringify("string"), 400, /^body: /],
      ["POST", "/v1/projects", "{not json", 400, /^body: is not valid JSON/],
      ["POST", "/v1/projects", JSON.stringify({ name: "x".repeat(2 * 1024 * 1024) }), 413, /^body: larger than/],
      ["POST", "/v1/projects", '{"name":"ok","__proto__":{"organization_id":"org_x"}}', 400, /^__proto__: unknown field/],
      ["GET", "/v1/projects?organization_id=org_x&extra=1", undefined, 400, /^extra: unknown field/],
      ["GET", "/v1/projects/..%2F..%2Fetc%2Fpasswd", undefined, 404, /not found/],
      ["GET", "/v1/projects/prj_" + "a".repeat(5000), undefined, 414, /too long/i],
      ["GET", "/v1/projects/prj_'%3B--", undefined, 404, /not found/],
      ["PATCH", "/v1/projects/prj_nothere", JSON.stringify({ plan: "pro" }), 404, /not found/],
      ["GET", "/v1/jobs/job_'or'1'='1", undefined, 404, /not found/],
      ["POST", "/v1/organizations", JSON.stringify({ name: "x" }), 403, /platform/],
      ["GET", "/v1/nope", undefined, 404, /no such endpoint/],
    ];
    for (const [method, path, body, status, error] of cases) {
      const res = await send(method, path, body);
      expect({ method, path: path.slice(0, 60), body: body?.slice(0, 60), status: res.status }).toEqual({
        method,
        path: path.slice(0, 60),
        body: body?.slice(0, 60),
        status,
      });
      expect(res.error, res.text.slice(0, 200)).toMatch(error);
    }
    const wrongType = await send("POST", "/v1/projects", "name=x", { "content-type": "application/x-www-form-urlencoded" });
    expect(wrongType.status).toBe(415);
    expect(wrongType.error).toMatch(/Content-Type/);
    // text is not JSON either: Fastify would parse it as a string and validation answer 400
    const text = await send("POST", "/v1/projects", '{"name":"x"}', { "content-type": "text/plain" });
    expect(text.status).toBe(415);
    expect(text.error).toMatch(/Content-Type/);
    expect(await projectCount()).toBe(projectsBefore);
    expect(await jobCount()).toBe(jobsBefore);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  it("accepts unicode letters in display names; generated identifiers carry none of the name", async () => {
    const res = await send("POST", "/v1/projects", JSON.stringify({ name: "Café Münster" }));
    expect(res.status).toBe(201);
    const project = JSON.parse(res.text).project;
    expect(project.name).toBe("Café Münster");
    expect(project.slug).toMatch(/^cafe-munster-[a-z0-9]{8}$/);
    expect(project.database_name).toBe(`capy_${project.id.slice(4, 12)}`);
    expect(project.role_name).toBe(`capy_${project.id.slice(4, 12)}_owner`);
    await t.admin.waitForJob(JSON.parse(res.text).job.id, { timeoutMs: 30_000 });
  });
});
