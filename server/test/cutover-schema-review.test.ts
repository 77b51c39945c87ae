// The schema evidence on a cutover request (issue #17): the preview's diff against production
// is taken when the request is opened and again when it is executed, each with a fingerprint of
// production's schema; when production's schema moved in between, the request says so and
// shows what moved. The operator CLI's `cutovers show` prints it all.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { CapyClient, CutoverRequest, Project } from "@capydb/api";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { psql } from "../../test/harness/sql.js";
import { organization, readyProject } from "../../test/harness/tenants.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/capydb.js");

let t: TestServer;
let org: CapyClient;

beforeAll(async () => {
  t = await startTestServer();
  ({ client: org } = await organization(t, "Cutover reviews", "cr"));
}, 120_000);

afterAll(async () => {
  await org?.close();
  await t?.stop();
});

async function cli(...args: string[]): Promise<string> {
  const run = await promisify(execFile)("node", [bin, ...args], {
    env: { ...process.env, CAPYDB_API_URL: t.url, CAPYDB_API_KEY: t.adminKey },
    encoding: "utf8",
  });
  return run.stdout;
}

/** A project with a users table and a ready preview of it, migrated by `migration` (as the preview's role). */
async function migratedPreview(name: string, migration: string): Promise<{ project: Project; prod: string; previewId: string }> {
  const { project, uri: prod } = await readyProject(org, name);
  psql(prod, "create table users (id int primary key, name text, legacy text); insert into users values (1, 'ada', 'x')");
  const { preview, job } = await org.createPreview(project.id, { name: "pr-1" });
  await org.waitForJob(job.id, { timeoutMs: 120_000 });
  psql(await org.getPreviewConnectionUri(preview.id), migration);
  return { project, prod, previewId: preview.id };
}

async function until(id: string, ok: (c: CutoverRequest) => boolean, what: string): Promise<CutoverRequest> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const c = (await org.getCutoverRequest(id)).cutover_request;
    if (ok(c)) return c;
    if (Date.now() > deadline) throw new Error(`${what}: ${JSON.stringify(c, null, 1)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function executeAndWait(id: string): Promise<CutoverRequest> {
  await t.admin.acknowledgeCutoverRequest(id, {});
  const started = (await t.admin.executeCutoverRequest(id)).cutover_request;
  await t.admin.waitForJob(started.promote_job_id!, { timeoutMs: 180_000 });
  return (await org.getCutoverRequest(id)).cutover_request;
}

describe("a cutover request's schema evidence", () => {
  it("is taken when opened and when executed; production's own schema change in between is flagged and shown", async () => {
    const { project, prod, previewId } = await migratedPreview(
      "moved",
      "alter table users drop column legacy; create table orders (id int primary key, user_id int references users(id))",
    );
    const opened = (await org.createCutoverRequest(project.id, { preview_id: previewId })).cutover_request;
    // asked for at once, taken by a job
    expect(opened.schema_diff_at_open).toMatchObject({ state: "pending", statements: [] });
    expect(opened.schema_diff_at_execute).toBeNull();
    expect(opened.production_schema_changed).toBeNull();

    const reviewed = await until(opened.id, (c) => c.schema_diff_at_open?.state !== "pending", "the diff at open");
    const atOpen = reviewed.schema_diff_at_open!;
    expect(atOpen).toMatchObject({ state: "ready", error: null, production_schema_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(atOpen.statements).toContainEqual(expect.objectContaining({ kind: "drop_column", risk: "destructive", object: "public.users" }));
    expect(atOpen.statements).toContainEqual(expect.objectContaining({ kind: "create_table", risk: "safe", object: "public.orders" }));
    expect(atOpen.summary.destructive).toBeGreaterThanOrEqual(1);
    // the list shows the same evidence
    expect((await org.listCutoverRequests(project.id)).cutover_requests[0].schema_diff_at_open).toEqual(atOpen);

    // production moves on its own while the request waits for the operator
    psql(prod, "create index users_name_idx on users (name)");

    const done = await executeAndWait(opened.id);
    expect(done.status).toBe("completed");
    const atExecute = done.schema_diff_at_execute!;
    expect(atExecute.state).toBe("ready");
    expect(atExecute.production_schema_sha256).not.toBe(atOpen.production_schema_sha256);
    // the preview lacks production's new index: promoting it drops the index, and the diff at execute says so
    expect(atExecute.statements).toContainEqual(expect.objectContaining({ kind: "drop_index", object: expect.stringContaining("users_name_idx") }));
    expect(atOpen.statements.map((s) => s.sql).join("\n")).not.toContain("users_name_idx");
    expect(done.production_schema_changed).toBe(true);
    expect(done.production_schema_changes!.added).toEqual([expect.stringMatching(/^CREATE INDEX users_name_idx ON public\.users USING btree \(name\);$/)]);
    expect(done.production_schema_changes!.removed).toEqual([]);
    // the evidence is kept after the cutover (the opened phase is not retaken)
    expect(done.schema_diff_at_open).toEqual(atOpen);

    const shown = await cli("cutovers", "show", opened.id);
    expect(shown).toMatch(/^schema_diff_at_open +taken .+: \d+ statements: [1-9]\d* destructive, \d+ risky, \d+ safe$/m);
    expect(shown).toContain(`[destructive] alter table "public"."users" drop column "legacy";`);
    expect(shown).toMatch(/^schema_diff_at_execute +taken .+: \d+ statements/m);
    expect(shown).toContain("WARNING: production's schema changed between the request's opening and its execution");
    expect(shown).toContain("  + CREATE INDEX users_name_idx ON public.users USING btree (name);");
    expect(shown).not.toContain("[object Object]");
    const asJson = JSON.parse(await cli("cutovers", "show", opened.id, "--json"));
    expect(asJson.production_schema_changed).toBe(true);
  }, 300_000);

  it("says production's schema did not change when it did not, and the same diff both times", async () => {
    const { project, previewId } = await migratedPreview("steady", "alter table users add column email text");
    const opened = (await org.createCutoverRequest(project.id, { preview_id: previewId })).cutover_request;
    await until(opened.id, (c) => c.schema_diff_at_open?.state === "ready", "the diff at open");
    const done = await executeAndWait(opened.id);
    expect(done.status).toBe("completed");
    expect(done.production_schema_changed).toBe(false);
    expect(done.production_schema_changes).toBeNull();
    expect(done.schema_diff_at_execute!.production_schema_sha256).toBe(done.schema_diff_at_open!.production_schema_sha256);
    expect(done.schema_diff_at_execute!.statements).toEqual(done.schema_diff_at_open!.statements);
    expect(done.schema_diff_at_open!.statements).toEqual([expect.objectContaining({ kind: "add_column", risk: "safe", object: "public.users" })]);
    expect(await cli("cutovers", "show", opened.id)).toMatch(/^production_schema_changed +false: production's schema did not change/m);
  }, 300_000);

  it("a diff that cannot be taken is recorded as failed with why, and the cutover still proceeds", async () => {
    const faulty = await startTestServer({ CAPYDB_FAULTS: "schema_review.before_diff=permanent" });
    const { client } = await organization(faulty, "Faulty reviews", "fr");
    try {
      const { project, uri: prod } = await readyProject(client, "faulty");
      psql(prod, "create table users (id int primary key)");
      const { preview, job } = await client.createPreview(project.id, { name: "pr-2" });
      await client.waitForJob(job.id, { timeoutMs: 120_000 });
      const opened = (await client.createCutoverRequest(project.id, { preview_id: preview.id })).cutover_request;
      const deadline = Date.now() + 60_000;
      let c = opened;
      while (c.schema_diff_at_open?.state === "pending" && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        c = (await client.getCutoverRequest(opened.id)).cutover_request;
      }
      expect(c.schema_diff_at_open).toMatchObject({ state: "failed", error: "injected failure at schema_review.before_diff", statements: [] });
      await faulty.admin.acknowledgeCutoverRequest(opened.id, {});
      const started = (await faulty.admin.executeCutoverRequest(opened.id)).cutover_request;
      await faulty.admin.waitForJob(started.promote_job_id!, { timeoutMs: 180_000 });
      const done = (await client.getCutoverRequest(opened.id)).cutover_request;
      expect(done.status).toBe("completed");
      expect(done.schema_diff_at_execute).toMatchObject({ state: "failed", error: "injected failure at schema_review.before_diff" });
      expect(done.production_schema_changed).toBeNull();
    } finally {
      await client.close();
      await faulty.stop();
    }
  }, 300_000);
});
