// The published contract (../shared/api-reference/contract.json): every endpoint in the
// OpenAPI document, and every documented field present with the documented type.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CapyClient, endpoints } from "@capydb/api";
import { startTestServer, type TestServer } from "../../test/harness/server.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const contract = JSON.parse(fs.readFileSync(path.join(here, "fixtures", "contract.json"), "utf8")) as Array<{
  method: string;
  path: string;
  request: unknown;
  response: unknown;
}>;

let t: TestServer;
let org: CapyClient;

/** Every field of the documented example exists in `actual` with the same JSON type (null allowed where the value is optional). */
function conformance(example: unknown, actual: unknown, at = "$"): string[] {
  if (example === null) return [];
  if (Array.isArray(example)) {
    if (!Array.isArray(actual)) return [`${at}: expected array, got ${JSON.stringify(actual)}`];
    return actual.flatMap((item, i) => conformance(example[0], item, `${at}[${i}]`));
  }
  if (typeof example === "object") {
    if (!actual || typeof actual !== "object" || Array.isArray(actual)) return [`${at}: expected object`];
    return Object.entries(example as Record<string, unknown>).flatMap(([k, v]) =>
      k in (actual as object) ? conformance(v, (actual as Record<string, unknown>)[k], `${at}.${k}`) : [`${at}.${k}: missing`],
    );
  }
  if (actual === null) return []; // documented optional values are null until they exist
  if (typeof example !== typeof actual) return [`${at}: expected ${typeof example}, got ${typeof actual}`];
  if (typeof example === "string" && /^\d{4}-\d\d-\d\dT/.test(example) && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(actual as string)) {
    return [`${at}: expected a date-time, got ${actual}`];
  }
  return [];
}

beforeAll(async () => {
  t = await startTestServer();
  const orgId = (await t.admin.createOrganization({ name: "Contract" })).organization.id;
  org = new CapyClient({ baseUrl: t.url, apiKey: (await t.admin.createApiKey(orgId, { name: "c" })).secret, retries: 0 });
});
afterAll(async () => {
  await org?.close();
  await t?.stop();
});

describe("contract", () => {
  it("the fixture is the published contract", () => {
    // the published reference sits beside the repository (../shared), where it is checked out
    const published = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../shared/api-reference/contract.json");
    if (fs.existsSync(published)) expect(JSON.parse(fs.readFileSync(published, "utf8"))).toEqual(contract);
    expect(contract).toHaveLength(22);
  });

  it("the OpenAPI document lists all 22 contract endpoints with their response schemas", async () => {
    const doc = (await (await fetch(`${t.url}/v1/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, { content?: { "application/json": { schema: unknown } } }> }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    expect(doc.openapi).toBe("3.1.0");
    for (const e of contract) {
      const op = doc.paths[e.path]?.[e.method.toLowerCase()];
      expect(op, `${e.method} ${e.path}`).toBeDefined();
      const success = Object.entries(op.responses).find(([code]) => code.startsWith("2"))!;
      const schema = JSON.stringify(success[1].content!["application/json"].schema);
      // each top-level key of the documented response appears in the response schema
      for (const key of Object.keys(e.response as object)) expect(schema, `${e.method} ${e.path}`).toContain(`"${key}"`);
      expect(op.responses["400"] ?? op.responses["404"]).toBeDefined();
    }
    // every documented field of the resources is in the component schemas
    const fields = (name: string) => Object.keys(doc.components.schemas[name].properties ?? {});
    const project = (contract.find((e) => e.path === "/v1/projects/{projectID}" && e.method === "GET")!.response as { project: object }).project;
    expect(fields("Project").sort()).toEqual(Object.keys(project).sort());
    const job = (contract.find((e) => e.path === "/v1/projects/{projectID}" && e.method === "DELETE")!.response as { job: object }).job;
    // additions to the published Job: who asked for it (issue #18)
    const jobAdditions = ["requested_by_actor_kind", "requested_by_actor_id", "requested_by_pr_number", "requested_by_sha"];
    const documented = fields("Job").filter((f) => !jobAdditions.includes(f));
    expect(documented.sort()).toEqual(Object.keys(job).sort());
    // the catalogue agrees with the contract
    const catalogued = new Set(endpoints.filter((x) => x.contract).map((x) => `${x.method} ${x.path}`));
    expect([...catalogued].sort()).toEqual(contract.map((e) => `${e.method} ${e.path}`).sort());
  });

  it("project, extension, preview, backup, schedule and cutover endpoints return every documented field with the documented type", async () => {
    const doc = (m: string, p: string) => contract.find((e) => e.method === m && e.path === p)!.response;
    const created = await org.createProject({ name: "Typed" });
    expect(conformance(doc("POST", "/v1/projects"), created)).toEqual([]);
    await org.waitForJob(created.job.id, { timeoutMs: 30_000 });
    const id = created.project.id;
    expect(conformance(doc("GET", "/v1/projects"), await org.listProjects())).toEqual([]);
    expect(conformance(doc("GET", "/v1/projects/{projectID}"), await org.getProject(id))).toEqual([]);
    expect(conformance(doc("PATCH", "/v1/projects/{projectID}"), await org.updateProject(id, { statement_timeout: "10s" }))).toEqual([]);
    const exts = await org.listExtensions(id);
    expect(exts.extensions.length).toBeGreaterThan(0);
    expect(conformance(doc("GET", "/v1/projects/{projectID}/extensions"), exts)).toEqual([]);
    const enabled = await org.enableExtension(id, "citext");
    expect(conformance(doc("POST", "/v1/projects/{projectID}/extensions"), enabled)).toEqual([]);
    const finished = await org.waitForJob(enabled.job.id, { timeoutMs: 30_000 });
    // a finished job fills its timestamps
    expect(conformance(doc("POST", "/v1/projects/{projectID}/extensions"), { job: finished })).toEqual([]);
    expect(finished.completed_at).not.toBeNull();
    const disabled = await org.disableExtension(id, "citext");
    expect(conformance(doc("DELETE", "/v1/projects/{projectID}/extensions/{name}"), disabled)).toEqual([]);
    await org.waitForJob(disabled.job.id, { timeoutMs: 30_000 });
    // preview databases
    const createdPreview = await org.createPreview(id, { name: "typed" });
    expect(conformance(doc("POST", "/v1/projects/{projectID}/preview-databases"), createdPreview)).toEqual([]);
    await org.waitForJob(createdPreview.job.id, { timeoutMs: 60_000 });
    const pid = createdPreview.preview.id;
    const listed = await org.listPreviews(id);
    expect(listed.preview_databases).toHaveLength(1);
    expect(conformance(doc("GET", "/v1/projects/{projectID}/preview-databases"), listed)).toEqual([]);
    expect(listed.preview_databases[0].source_restore_time).not.toBeNull();
    expect(conformance(doc("POST", "/v1/preview-databases/{previewID}/extend"), await org.extendPreview(pid, {}))).toEqual([]);
    const reset = await org.resetPreview(pid);
    expect(conformance(doc("POST", "/v1/preview-databases/{previewID}/reset"), reset)).toEqual([]);
    await org.waitForJob(reset.job.id, { timeoutMs: 60_000 });
    // backups and schedules
    const backupJob = await org.createBackup(id, { label: "typed" });
    expect(conformance(doc("POST", "/v1/projects/{projectID}/backups"), backupJob)).toEqual([]);
    await org.waitForJob(backupJob.job.id, { timeoutMs: 60_000 });
    const backupsListed = await org.listBackups(id);
    expect(backupsListed.backups[0].size_bytes).toBeGreaterThan(0);
    expect(conformance(doc("GET", "/v1/projects/{projectID}/backups"), backupsListed)).toEqual([]);
    const schedule = await org.putDefaultScheduledBackup(id, { cron_hour: 3, cron_minute: 30, is_active: true });
    expect(schedule.scheduled_backup.retention_days).toBe(7);
    expect(conformance(doc("PUT", "/v1/projects/{projectID}/scheduled-backups/default"), schedule)).toEqual([]);
    expect(conformance(doc("GET", "/v1/projects/{projectID}/scheduled-backups"), await org.listScheduledBackups(id))).toEqual([]);
    // cutover requests (operators act with the admin key)
    const cut = await org.createCutoverRequest(id, { preview_id: pid, customer_note: "typed" });
    expect(conformance(doc("POST", "/v1/projects/{projectID}/cutover-requests"), cut)).toEqual([]);
    expect(conformance(doc("GET", "/v1/projects/{projectID}/cutover-requests"), await org.listCutoverRequests(id))).toEqual([]);
    await org.cancelCutoverRequest(cut.cutover_request.id);
    const removed = await org.deletePreview(pid);
    expect(conformance(doc("DELETE", "/v1/preview-databases/{previewID}"), removed)).toEqual([]);
    await org.waitForJob(removed.job.id, { timeoutMs: 60_000 });
    const deleted = await org.deleteProject(id);
    expect(conformance(doc("DELETE", "/v1/projects/{projectID}"), deleted)).toEqual([]);
    await org.waitForJob(deleted.job.id, { timeoutMs: 60_000 });
    // a project's backups go with it
    expect((await t.server.ctx.db.query("select count(*)::int as n from backups where project_id = $1", [id])).rows[0].n).toBe(0);
    expect(await t.server.ctx.blobs.stat(`backups/${id}/${backupsListed.backups[0].id}.dump`)).toBeNull();
  });

  it("contract endpoints owned by later versions answer 501 with an error body, after authentication", async () => {
    const unauth = await fetch(`${t.url}/v1/projects/prj_x/backups`);
    expect(unauth.status).toBe(401);
    for (const e of contract) {
      const p = e.path.replace("{projectID}", "prj_abc").replace("{previewID}", "pdb_abc").replace("{name}", "citext");
      const res = await fetch(t.url + p, {
        method: e.method,
        headers: { authorization: `Bearer ${t.adminKey}`, "content-type": "application/json" },
        body: e.method === "GET" || e.method === "DELETE" ? undefined : "{}",
      });
      const body = (await res.json()) as { error?: string };
      expect([200, 201, 202, 400, 404, 501], `${e.method} ${e.path}`).toContain(res.status);
      if (res.status >= 400) expect(typeof body.error).toBe("string");
    }
  });
});
