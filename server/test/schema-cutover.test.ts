// Schema cutovers (issue #19, mode "schema"): production keeps its data, all of it, and gets
// the statements reviewed when the request was opened, in one transaction as the project's
// role, after the verified pre-cutover backup. If production's schema moved since the review,
// execute refuses (409); a statement that fails leaves production as it was; a lock held by
// production's own traffic makes an attempt roll back and wait, not fail.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import type { CapyClient, CutoverRequest, Project } from "@capydb/api";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { psql } from "../../test/harness/sql.js";
import { organization, readyProject } from "../../test/harness/tenants.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/capydb.js");

let t: TestServer;
let org: CapyClient;

beforeAll(async () => {
  // short lock waits, so that a lock production holds for a couple of seconds takes several attempts
  t = await startTestServer({ CAPYDB_SCHEMA_CUTOVER_LOCK_TIMEOUT_MS: "300", CAPYDB_SCHEMA_CUTOVER_ATTEMPTS: "6" });
  ({ client: org } = await organization(t, "Schema cutovers", "sc"));
}, 120_000);

afterAll(async () => {
  await org?.close();
  await t?.stop();
});

/** A project with users, a preview migrated by `migration`, and a schema cutover request whose review is ready. */
async function reviewed(name: string, migration: string): Promise<{ project: Project; prod: string; previewUri: string; req: CutoverRequest }> {
  const { project, uri: prod } = await readyProject(org, name);
  psql(prod, "create table users (id int primary key, name text); insert into users select g, 'u' || g from generate_series(1, 50) g");
  const { preview, job } = await org.createPreview(project.id, { name: "pr-1" });
  await org.waitForJob(job.id, { timeoutMs: 120_000 });
  const previewUri = await org.getPreviewConnectionUri(preview.id);
  psql(previewUri, migration);
  const opened = (await org.createCutoverRequest(project.id, { preview_id: preview.id, mode: "schema" })).cutover_request;
  expect(opened).toMatchObject({ mode: "schema", writes_since_origin: null, schema_applied: null });
  const deadline = Date.now() + 120_000;
  let req = opened;
  while (req.schema_diff_at_open?.state === "pending" && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    req = (await org.getCutoverRequest(opened.id)).cutover_request;
  }
  expect(req.schema_diff_at_open?.state).toBe("ready");
  await t.admin.acknowledgeCutoverRequest(req.id, {});
  return { project, prod, previewUri, req };
}

async function executeAndWait(id: string): Promise<CutoverRequest> {
  const started = (await t.admin.executeCutoverRequest(id)).cutover_request;
  await t.admin.waitForJob(started.promote_job_id!, { timeoutMs: 180_000 }).catch(() => {});
  return (await org.getCutoverRequest(id)).cutover_request;
}

const columns = (uri: string, table: string) =>
  psql(uri, `select string_agg(column_name, ',' order by ordinal_position) from information_schema.columns where table_name = '${table}'`);

describe("a schema cutover", () => {
  it("applies the reviewed diff to production and keeps every row production has, including those written after the preview", async () => {
    const { prod, previewUri, req } = await reviewed(
      "apply",
      "alter table users add column email text; create index users_name_idx on users (name); create table orders (id int primary key, user_id int references users(id))",
    );
    // production goes on writing after the preview was made
    psql(prod, "insert into users select g, 'late' || g from generate_series(51, 80) g; update users set name = 'changed' where id = 1");
    const done = await executeAndWait(req.id);
    expect(done).toMatchObject({ status: "completed", mode: "schema", failure_reason: null, rollback_until: null });
    expect(done.pre_cutover_backup_id).toMatch(/^bkp_/);
    expect(done.schema_applied).toMatchObject({ statements: req.schema_diff_at_open!.statements.length, attempts: 1, residual: [] });
    // production has the preview's schema and all of its own rows
    expect(columns(prod, "users")).toBe(columns(previewUri, "users"));
    expect(columns(prod, "orders")).toBe("id,user_id");
    expect(psql(prod, "select count(*) from pg_indexes where indexname = 'users_name_idx'")).toBe("1");
    expect(psql(prod, "select count(*), max(id), (select name from users where id = 1) from users")).toBe("80|80|changed");
    // nothing to roll back to: the request says what undoes it
    await expect(t.admin.rollbackCutoverRequest(req.id)).rejects.toMatchObject({ status: 409, message: expect.stringContaining("pre-cutover backup") });
    const shown = (
      await promisify(execFile)("node", [bin, "cutovers", "show", req.id], { env: { ...process.env, CAPYDB_API_URL: t.url, CAPYDB_API_KEY: t.adminKey } })
    ).stdout;
    expect(shown).toMatch(/^mode +schema$/m);
    expect(shown).toMatch(/^schema_applied +\d+ statements in 1 attempt\(s\); 0 still differ from the preview$/m);
  }, 300_000);

  it("refuses (409) when production's schema moved since the review, and the request can be executed by no one until reviewed again", async () => {
    const { prod, req } = await reviewed("moved", "alter table users add column email text");
    psql(prod, "create index users_name_idx on users (name)");
    await expect(t.admin.executeCutoverRequest(req.id)).rejects.toMatchObject({ status: 409, code: "production_schema_moved" });
    const after = (await org.getCutoverRequest(req.id)).cutover_request;
    expect(after.status).toBe("acknowledged");
    expect(columns(prod, "users")).toBe("id,name");
    await org.cancelCutoverRequest(req.id);
  }, 300_000);

  it("execute answers 503, not a hang, when production keeps its tables locked while the review is checked", async () => {
    const { prod, req } = await reviewed("held", "alter table users add column email text");
    const holder = new pg.Client({ connectionString: prod });
    await holder.connect();
    try {
      await holder.query("begin; lock table users in access exclusive mode");
      const refused = await t.admin.executeCutoverRequest(req.id).catch((e: Error) => e);
      expect(refused).toMatchObject({
        status: 503,
        code: "unavailable",
        message: expect.stringMatching(
          /^production's schema could not be read to check it against the review \(pg_dump waited more than 10 s for a lock on public\.users, held by another session\): try again$/,
        ),
      });
      expect((await org.getCutoverRequest(req.id)).cutover_request.status).toBe("acknowledged");
    } finally {
      await holder.query("rollback").catch(() => {});
      await holder.end();
    }
    await org.cancelCutoverRequest(req.id);
  }, 300_000);

  it("a statement that fails on production's data leaves production exactly as it was", async () => {
    // the preview's unique index holds on the preview's rows, not on production's later ones
    const { prod, req } = await reviewed("fails", "alter table users add column email text; create unique index users_name_key on users (name)");
    psql(prod, "insert into users values (100, 'u1')"); // a duplicate name: the unique index cannot be built on production
    const done = await executeAndWait(req.id);
    expect(done.status).toBe("failed");
    expect(done.failure_reason).toMatch(
      /^statement \d+ of \d+ failed \(.*users_name_key.*\): could not create unique index .*nothing was changed \(one transaction\)$/,
    );
    expect(columns(prod, "users")).toBe("id,name"); // the column the first statement added was rolled back
    expect(psql(prod, "select count(*) from users")).toBe("51");
  }, 300_000);

  it("a lock production's traffic holds makes attempts roll back and wait, then it goes through", async () => {
    const { prod, req } = await reviewed("locked", "alter table users add column email text");
    const holder = new pg.Client({ connectionString: prod });
    await holder.connect();
    await holder.query("begin; lock table users in access share mode");
    const waiting = () =>
      psql(prod, "select count(*) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'users' and not l.granted") !== "0";
    const until = async (ok: () => boolean) => {
      const deadline = Date.now() + 120_000;
      while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    };
    try {
      const started = (await t.admin.executeCutoverRequest(req.id)).cutover_request;
      // the first attempt waits behind our lock, gives up at its lock_timeout and rolls back; then we let go
      await until(waiting);
      await until(() => !waiting());
      await holder.query("commit");
      await t.admin.waitForJob(started.promote_job_id!, { timeoutMs: 180_000 });
      const done = (await org.getCutoverRequest(req.id)).cutover_request;
      expect(done.status).toBe("completed");
      expect(done.schema_applied!.attempts).toBeGreaterThan(1);
      expect(columns(prod, "users")).toBe("id,name,email");
    } finally {
      await holder.query("rollback").catch(() => {});
      await holder.end();
    }
  }, 300_000);
});
