// The codes clients decide on, answered by a real server: each with its status, sent in the body
// (not the client's fallback), and listed in the OpenAPI document for the operation that
// answered it. The server runs without PgBouncer so that a pooled URL is refused.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CapyApiError, CapyClient, ERROR_CODES, endpoints, errorCodesOf, type ErrorCode, type Project } from "@capydb/api";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { organization, readyProject } from "../../test/harness/tenants.js";
import { psqlAsync } from "../../test/harness/sql.js";

const execFileAsync = promisify(execFile);

let t: TestServer;
let orgId: string;
let org: CapyClient;
let project: Project;
let uri: string;

const LIFETIME = 3600; // the longest a preview of the tested organization may live (set by the operator below)

/** The operation of the catalogue a concrete request path belongs to. */
function operation(method: string, path: string) {
  const bare = path.split("?")[0];
  const e = endpoints.find((x) => x.method === method && new RegExp(`^${x.path.replace(/\{\w+\}/g, "[^/]+")}$`).test(bare));
  if (!e) throw new Error(`no catalogued endpoint for ${method} ${bare}`);
  return e;
}

/** Awaits a refusal and checks its status, the code in the body, and that the operation declares it. */
async function refused(call: Promise<unknown>, code: ErrorCode): Promise<CapyApiError> {
  const err = await call.then(
    () => {
      throw new Error(`expected ${code}, the call succeeded`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CapyApiError);
  const apiErr = err as CapyApiError;
  expect({ status: apiErr.status, sent: (apiErr.body as { code?: unknown }).code }, apiErr.message).toEqual({ status: ERROR_CODES[code].status, sent: code });
  expect(apiErr.code).toBe(code);
  const declared = errorCodesOf(operation(apiErr.method, apiErr.path)).get(apiErr.status) ?? [];
  expect(declared, `${apiErr.method} ${apiErr.path} does not list ${code}`).toContain(code);
  return apiErr;
}

beforeAll(async () => {
  t = await startTestServer({ CAPYDB_PGBOUNCER: "false", CAPYDB_PREVIEW_LIMIT: "2", CAPYDB_IMPORT_ALLOWED_CIDRS: "127.0.0.0/8" });
  ({ orgId, client: org } = await organization(t, "Codes"));
  await t.admin.request("PUT", `/v1/organizations/${orgId}/quotas`, { body: { max_preview_lifetime_seconds: LIFETIME } });
  ({ project, uri } = await readyProject(org, "codes"));
}, 120_000);

afterAll(async () => {
  await org?.close();
  await t?.stop();
});

describe("error codes", () => {
  it("generic codes: validation, credentials, operator endpoints, unknown ids and endpoints", async () => {
    const err = await refused(org.createPreview(project.id, { name: "" }), "validation_failed");
    expect(err.message).toMatch(/^name: /);
    const stranger = new CapyClient({ baseUrl: t.url, apiKey: "capy_live_not_a_key", retries: 0 });
    await refused(stranger.listProjects(), "unauthorized");
    await stranger.close();
    await refused(org.listOrganizations(), "forbidden");
    await refused(org.getPreview("pdb_doesnotexist"), "not_found");
    await refused(org.getProject("prj_doesnotexist"), "project_not_found");
    // a malformed project id is as unknown as a well-formed one
    await refused(org.getProject("not-a-project-id"), "project_not_found");
    // another tenant's project too
    const other = await organization(t, "Other");
    await refused(other.client.listExtensions(project.id), "project_not_found");
    await other.client.close();
    const res = await fetch(`${t.url}/v1/no-such-thing`, { headers: { authorization: `Bearer ${t.adminKey}` } });
    expect({ status: res.status, body: await res.json() }).toEqual({
      status: 404,
      body: { error: "no such endpoint: GET /v1/no-such-thing", code: "endpoint_not_found" },
    });
  });

  it("previews: a taken name, the plan's lifetime, the preview limit, no PgBouncer", async () => {
    const first = await org.createPreview(project.id, { name: "pr-1", source_kind: "empty", ttl_seconds: LIFETIME });
    await refused(org.createPreview(project.id, { name: "pr-1", source_kind: "empty" }), "preview_name_taken");
    await refused(org.createPreview(project.id, { name: "pr-long", source_kind: "empty", ttl_seconds: LIFETIME + 60 }), "preview_lifetime_exceeded");
    await org.waitForJob(first.job.id, { timeoutMs: 60_000 });
    // made with the whole lifetime, it cannot be extended by as much again
    const err = await refused(org.extendPreview(first.preview.id, { ttl_seconds: LIFETIME }), "preview_lifetime_exceeded");
    expect(err.message).toMatch(/^ttl_seconds: /);
    await refused(org.getPreviewConnectionUri(first.preview.id, { pooled: true }), "pooling_unavailable");
    await refused(org.getConnectionUri(project.id, { pooled: true }), "pooling_unavailable");
    expect(await org.getPreviewConnectionUri(first.preview.id, { pooled: false })).toMatch(/^postgres/);

    const second = await org.createPreview(project.id, { name: "pr-2", source_kind: "empty" });
    await refused(org.createPreview(project.id, { name: "pr-3", source_kind: "empty" }), "preview_limit_reached");
    await org.waitForJob(second.job.id, { timeoutMs: 60_000 });
    const deleted = await org.deletePreview(second.preview.id);
    await refused(org.resetPreview(second.preview.id), "preview_deleted");
    await refused(org.getPreviewConnectionUri(second.preview.id), "preview_deleted");
    await org.waitForJob(deleted.job.id, { timeoutMs: 60_000 });
    await refused(org.extendPreview(second.preview.id, {}), "preview_deleted");
  });

  it("cutovers: one open request per project, and actions in the wrong state", async () => {
    const { preview_databases } = await org.listPreviews(project.id);
    const preview = preview_databases.find((p) => p.name === "pr-1")!;
    const { cutover_request } = await org.createCutoverRequest(project.id, { preview_id: preview.id });
    await refused(org.createCutoverRequest(project.id, { preview_id: preview.id }), "cutover_already_open");
    await refused(t.admin.executeCutoverRequest(cutover_request.id), "cutover_state_conflict");
    await refused(t.admin.rollbackCutoverRequest(cutover_request.id), "cutover_state_conflict");
    await refused(org.createCutoverRequest(project.id, { preview_id: "pdb_doesnotexist" }), "not_found");
    await org.cancelCutoverRequest(cutover_request.id);
    await refused(org.cancelCutoverRequest(cutover_request.id), "cutover_state_conflict");
  });

  it("plans and capacity: ceilings, project and backup counts, connection slots", async () => {
    await refused(org.createProject({ name: "big", max_connections: 10_000 }), "plan_ceiling_exceeded");
    await refused(org.updateProject(project.id, { storage_limit_bytes: 2 ** 50 }), "plan_ceiling_exceeded");
    await refused(org.createProject({ name: "on-pro", plan: "pro" }), "forbidden");
    // an operator is not held to the plan, but to the cluster's connection slots
    await refused(t.admin.createProject({ name: "huge", organization_id: orgId, max_connections: 10_000 }), "connection_capacity_exceeded");

    const small = await organization(t, "Small");
    await t.admin.request("PUT", `/v1/organizations/${small.orgId}/quotas`, { body: { projects_per_organization: 1, manual_backups_per_project: 1 } });
    const { project: only } = await readyProject(small.client, "only");
    await refused(small.client.createProject({ name: "second" }), "project_limit_reached");
    const backup = await small.client.createBackup(only.id, {});
    await refused(small.client.createBackup(only.id, {}), "backup_limit_reached");
    await small.client.waitForJob(backup.job.id, { timeoutMs: 60_000 });
    const [taken] = (await small.client.listBackups(only.id)).backups;
    const fromBackup = await small.client.createPreview(only.id, { name: "from-backup", source_kind: "backup", backup_id: taken.id });
    await refused(small.client.request("DELETE", `/v1/backups/${taken.id}`), "backup_in_use");
    await small.client.waitForJob(fromBackup.job.id, { timeoutMs: 60_000 });
    await small.client.close();
  });

  it("imports and projects: a non-empty database, a project not ready, a project being deleted", async () => {
    const source = await readyProject(org, "source");
    await psqlAsync(uri, "create table kept (id int)");
    const { upload } = await org.createUpload(project.id);
    const dump = (await execFileAsync("pg_dump", ["-Fc", source.uri], { encoding: "buffer" })).stdout;
    expect((await fetch(upload.upload_url, { method: "PUT", body: dump })).status).toBe(201);
    const again = await fetch(upload.upload_url, { method: "PUT", body: dump });
    expect(await again.json()).toMatchObject({ code: "conflict" });
    const err = await refused(org.createImport(project.id, { object_key: upload.object_key }), "database_not_empty");
    expect(err.message).toContain('"replace": true');

    await t.server.ctx.db.query("UPDATE projects SET state = 'failed' WHERE id = $1", [source.project.id]);
    await refused(org.listExtensions(source.project.id), "project_not_ready");
    await refused(org.createBackup(source.project.id, {}), "project_not_ready");
    await t.server.ctx.db.query("UPDATE projects SET state = 'ready' WHERE id = $1", [source.project.id]);

    const deleting = await org.deleteProject(source.project.id);
    await refused(org.listExtensions(source.project.id), "project_deleted");
    await refused(org.getConnectionUri(source.project.id), "project_deleted");
    await refused(org.createUpload(source.project.id), "project_deleted");
    await org.waitForJob(deleting.job.id, { timeoutMs: 60_000 });
    await refused(org.enableExtension(source.project.id, "citext"), "project_deleted");
  });
});
