// Operator-assisted cutovers on real PostgreSQL: request → acknowledge → execute →
// production's unchanged connection string sees the preview's migration; rollback.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CapyClient, type Project } from "@capydb/api";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { databaseExists, psql } from "../../test/harness/sql.js";

let t: TestServer;
let orgKey: string;
let org: CapyClient;

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function projectWithPreview(name: string, client: CapyClient = org) {
  const { job, project } = await client.createProject({ name });
  await client.waitForJob(job.id, { timeoutMs: 30_000 });
  const uri = await client.getConnectionUri(project.id);
  psql(uri, "create table users(id serial primary key, name text); insert into users(name) values ('ada'), ('grace')");
  const p = await client.createPreview(project.id, { name: "pr-7" });
  await client.waitForJob(p.job.id, { timeoutMs: 60_000 });
  return {
    project: (await client.getProject(project.id)).project as Project,
    uri,
    preview: (await client.getPreview(p.preview.id)).preview,
    previewUri: await client.getPreviewConnectionUri(p.preview.id),
  };
}

beforeAll(async () => {
  t = await startTestServer({ CAPYDB_SCHEDULER_INTERVAL_MS: "200" });
  const orgId = (await t.admin.createOrganization({ name: "Cutovers" })).organization.id;
  orgKey = (await t.admin.createApiKey(orgId, { name: "c" })).secret;
  org = new CapyClient({ baseUrl: t.url, apiKey: orgKey, retries: 0 });
});
afterAll(async () => {
  await org?.close();
  await t?.stop();
});

describe("cutovers", () => {
  it("the whole flow: the unchanged production URI sees the migration; the pre-cutover backup is verified; rollback restores the old data", async () => {
    const { project, uri, preview, previewUri } = await projectWithPreview("flow");
    psql(previewUri, "alter table users add column email text; insert into users(name, email) values ('linus', 'l@x.org')");
    const { cutover_request: req } = await org.createCutoverRequest(project.id, { preview_id: preview.id, customer_note: "ship the email column" });
    expect(req).toMatchObject({
      status: "open",
      requested_by_actor_kind: "api_key",
      customer_note: "ship the email column",
      preview_database_id: preview.id,
      project_id: project.id,
    });
    // the shared engine's previews are logical copies: what production wrote since is not counted, and the request says so
    expect(req).toMatchObject({ mode: "data", writes_since_origin: { known: false, reason: expect.stringContaining("shared engine"), tables: [] } });
    await expect(org.createCutoverRequest(project.id, { preview_id: preview.id })).rejects.toMatchObject({ status: 409 });
    expect((await org.listCutoverRequests(project.id)).cutover_requests.map((c) => c.id)).toEqual([req.id]);

    // org keys cannot act as operators
    await expect(org.acknowledgeCutoverRequest(req.id, {})).rejects.toMatchObject({ status: 403 });
    await expect(org.executeCutoverRequest(req.id)).rejects.toMatchObject({ status: 403 });
    await expect(org.rejectCutoverRequest(req.id, { rejected_reason: "no" })).rejects.toMatchObject({ status: 403 });
    // execute needs an acknowledgement first
    await expect(t.admin.executeCutoverRequest(req.id)).rejects.toMatchObject({ status: 409 });

    const acked = (await t.admin.acknowledgeCutoverRequest(req.id, { operator_note: "looks good", external_ticket_ref: "OPS-42" })).cutover_request;
    expect(acked).toMatchObject({ status: "acknowledged", operator_note: "looks good", external_ticket_ref: "OPS-42" });
    expect(acked.ack_at).not.toBeNull();
    expect(acked.ack_by_user_id).toMatch(/^key_/);
    const started = (await t.admin.executeCutoverRequest(req.id)).cutover_request;
    expect(started.status).toBe("in_progress");
    expect(started.promote_job_id).toMatch(/^job_/);
    await t.admin.waitForJob(started.promote_job_id!, { timeoutMs: 120_000 });
    const done = (await org.getCutoverRequest(req.id)).cutover_request;
    expect(done.status).toBe("completed");
    expect(done.completed_at).not.toBeNull();

    // same connection string, now the preview's schema and rows, owned by production's role
    expect(await org.getConnectionUri(project.id)).toBe(uri);
    expect(psql(uri, "select string_agg(name || ':' || coalesce(email, ''), ',' order by id) from users")).toBe("ada:,grace:,linus:l@x.org");
    expect(psql(uri, "select tableowner from pg_tables where tablename = 'users'")).toBe(project.role_name);
    psql(uri, "insert into users(name) values ('after')");
    expect((await org.getPreview(preview.id)).preview.state).toBe("promoted");
    expect(() => psql(previewUri, "select 1")).toThrow();
    // the pre-cutover backup is verified and pinned
    const backup = (await org.getBackup(done.pre_cutover_backup_id!)).backup;
    expect(backup).toMatchObject({ state: "completed", verification_state: "verified" });
    expect((await t.server.ctx.db.query("select pinned from backups where id = $1", [backup.id])).rows[0].pinned).toBe(true);

    // rollback swaps the previous production data back
    await expect(org.rollbackCutoverRequest(req.id)).rejects.toMatchObject({ status: 403 });
    const rb = (await t.admin.rollbackCutoverRequest(req.id)).cutover_request;
    await t.admin.waitForJob(rb.rollback_job_id!, { timeoutMs: 60_000 });
    expect((await org.getCutoverRequest(req.id)).cutover_request.status).toBe("rolled_back");
    expect(psql(uri, "select string_agg(name, ',' order by id) from users")).toBe("ada,grace");
    expect(psql(uri, "select count(*) from information_schema.columns where table_name = 'users' and column_name = 'email'")).toBe("0");
  });

  it("after the rollback window the previous database is dropped by the scheduler", async () => {
    const { project, preview } = await projectWithPreview("window");
    const { cutover_request: req } = await org.createCutoverRequest(project.id, { preview_id: preview.id });
    await t.admin.acknowledgeCutoverRequest(req.id, {});
    const started = (await t.admin.executeCutoverRequest(req.id)).cutover_request;
    await t.admin.waitForJob(started.promote_job_id!, { timeoutMs: 120_000 });
    const row = (await t.server.ctx.db.query("select previous_database_name from cutover_requests where id = $1", [req.id])).rows[0];
    expect(await databaseExists(row.previous_database_name)).toBe(true);
    await t.server.ctx.db.query("update cutover_requests set rollback_until = now() - interval '1 second' where id = $1", [req.id]);
    await until(
      () => databaseExists(row.previous_database_name),
      (exists) => !exists,
      20_000,
    );
    expect(await databaseExists(row.previous_database_name)).toBe(false);
    await expect(t.admin.rollbackCutoverRequest(req.id)).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/window/) });
  });

  it("reject, cancel, and the 404/409 rules", async () => {
    const { project, preview } = await projectWithPreview("rules");
    const other = await projectWithPreview("other");
    await expect(org.createCutoverRequest(project.id, { preview_id: other.preview.id })).rejects.toMatchObject({ status: 404 });
    const { cutover_request: req } = await org.createCutoverRequest(project.id, { preview_id: preview.id });
    const rejected = (await t.admin.rejectCutoverRequest(req.id, { rejected_reason: "migration locks the users table" })).cutover_request;
    expect(rejected).toMatchObject({ status: "rejected", rejected_reason: "migration locks the users table" });
    await expect(t.admin.acknowledgeCutoverRequest(req.id, {})).rejects.toMatchObject({ status: 409 });
    const second = (await org.createCutoverRequest(project.id, { preview_id: preview.id })).cutover_request;
    expect((await org.cancelCutoverRequest(second.id)).cutover_request.status).toBe("canceled");
    // a preview that is not ready cannot be requested
    const empty = await org.createPreview(project.id, { source_kind: "empty", name: "not-yet" });
    await org.waitForJob((await org.deletePreview(empty.preview.id)).job.id, { timeoutMs: 60_000 });
    await expect(org.createCutoverRequest(project.id, { preview_id: empty.preview.id })).rejects.toMatchObject({ status: 409 });
    // a project key of another project gets 404; of this project, 403 on operator actions
    const orgId = project.organization_id;
    const otherKey = (await t.admin.createApiKey(orgId, { name: "other", project_id: other.project.id })).secret;
    const ownKey = (await t.admin.createApiKey(orgId, { name: "own", project_id: project.id })).secret;
    const third = (await org.createCutoverRequest(project.id, { preview_id: preview.id })).cutover_request;
    const asOther = new CapyClient({ baseUrl: t.url, apiKey: otherKey, retries: 0 });
    const asOwn = new CapyClient({ baseUrl: t.url, apiKey: ownKey, retries: 0 });
    for (const call of [
      () => asOther.getCutoverRequest(third.id),
      () => asOther.acknowledgeCutoverRequest(third.id, {}),
      () => asOther.executeCutoverRequest(third.id),
      () => asOther.cancelCutoverRequest(third.id),
    ]) {
      await expect(call()).rejects.toMatchObject({ status: 404 });
    }
    await expect(asOwn.acknowledgeCutoverRequest(third.id, {})).rejects.toMatchObject({ status: 403 });
    expect((await asOwn.getCutoverRequest(third.id)).cutover_request.status).toBe("open");
    expect((await t.admin.listAllCutoverRequests({ status: "open" })).cutover_requests.map((c) => c.id)).toContain(third.id);
    expect((await asOther.listAllCutoverRequests()).cutover_requests.map((c) => c.id)).not.toContain(third.id);
    await asOther.close();
    await asOwn.close();
  });

  it("the operator CLI (npx capydb) creates orgs and keys and walks a cutover through", async () => {
    const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/capydb.js");
    // async: the server under test lives in this process
    const cli = async (...args: string[]) =>
      (await promisify(execFile)("node", [bin, ...args], { env: { ...process.env, CAPYDB_API_URL: t.url, CAPYDB_API_KEY: t.adminKey }, encoding: "utf8" }))
        .stdout;
    const orgLine = await cli("orgs", "create", "CLI Corp");
    const orgId = orgLine.split("\t")[0];
    expect(orgId).toMatch(/^org_/);
    expect(await cli("orgs", "list")).toContain("CLI Corp");
    const keyOut = await cli("keys", "create", "--org", orgId, "--name", "ci");
    const secret = /secret \(shown once\): (capy_live_\S+)/.exec(keyOut)![1];
    expect(await cli("keys", "list", "--org", orgId)).not.toContain(secret);
    const customer = new CapyClient({ baseUrl: t.url, apiKey: secret, retries: 0 });
    const { project, uri, preview, previewUri } = await projectWithPreview("cli", customer);
    psql(previewUri, "insert into users(name) values ('from-preview')");
    const { cutover_request: req } = await customer.createCutoverRequest(project.id, { preview_id: preview.id, customer_note: "please" });
    expect(await cli("cutovers", "list", "--status", "open")).toContain(req.id);
    expect(await cli("cutovers", "acknowledge", req.id, "--note", "ok", "--ticket", "OPS-1")).toContain("acknowledged");
    const executed = await cli("cutovers", "execute", req.id);
    expect(executed).toMatch(/promote: job job_\S+ succeeded/);
    expect(executed).toContain(`${req.id} completed`);
    expect(psql(uri, "select count(*) from users where name = 'from-preview'")).toBe("1");
    expect(JSON.parse(await cli("cutovers", "show", req.id, "--json")).status).toBe("completed");
    await expect(
      promisify(execFile)("node", [bin, "cutovers", "execute", req.id], { env: { ...process.env, CAPYDB_API_URL: t.url, CAPYDB_API_KEY: secret } }),
    ).rejects.toMatchObject({ stderr: expect.stringMatching(/403/) });
    await customer.close();
  }, 240_000);

  it("a promote that fails midway leaves production serving its previous data, and the preview usable", async () => {
    const faulty = await startTestServer({ CAPYDB_FAULTS: "swap.between_renames=permanent" });
    try {
      const o = (await faulty.admin.createOrganization({ name: "F" })).organization.id;
      const c = new CapyClient({ baseUrl: faulty.url, apiKey: (await faulty.admin.createApiKey(o, { name: "f" })).secret, retries: 0 });
      const { project, uri, preview, previewUri } = await projectWithPreview("faulty", c);
      psql(previewUri, "insert into users(name) values ('preview-only')");
      const { cutover_request: req } = await c.createCutoverRequest(project.id, { preview_id: preview.id });
      await faulty.admin.acknowledgeCutoverRequest(req.id, {});
      const started = (await faulty.admin.executeCutoverRequest(req.id)).cutover_request;
      await expect(faulty.admin.waitForJob(started.promote_job_id!, { timeoutMs: 120_000 })).rejects.toThrow(/injected/);
      const failed = (await c.getCutoverRequest(req.id)).cutover_request;
      expect(failed.status).toBe("failed");
      expect(failed.failure_reason).toMatch(/injected/);
      expect(psql(uri, "select string_agg(name, ',' order by id) from users")).toBe("ada,grace");
      expect(psql(previewUri, "select count(*) from users where name = 'preview-only'")).toBe("1");
      psql(previewUri, "insert into users(name) values ('still-mine')");
      await c.close();
    } finally {
      await faulty.stop();
    }
  });
});
