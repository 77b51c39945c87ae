// Preview databases on real PostgreSQL, checked with real psql.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { CapyClient, Project, PreviewDatabase } from "@capydb/api";
import { adminQuery, adminUrl, startTestServer, type TestServer } from "../../test/harness/server.js";
import { databaseExists, psql, roleExists } from "../../test/harness/sql.js";
import { organization } from "../../test/harness/tenants.js";

let t: TestServer;
let org: CapyClient;
let project: Project;
let prodUri: string;

async function readyPreview(body: Parameters<CapyClient["createPreview"]>[1] = {}): Promise<{ preview: PreviewDatabase; uri: string }> {
  const { job, preview } = await org.createPreview(project.id, body);
  await org.waitForJob(job.id, { timeoutMs: 60_000 });
  return { preview: (await org.getPreview(preview.id)).preview, uri: await org.getPreviewConnectionUri(preview.id) };
}

/** Waits for the project's background jobs of one type (spares, snapshot refreshes); none may have failed. */
const backgroundJobsDone = async (type = "preview.spare") => {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { rows } = await t.server.ctx.db.query("select state from jobs where type = $2 and project_id = $1 and state in ('pending', 'running')", [
      project.id,
      type,
    ]);
    if (rows.length === 0) break;
    if (Date.now() > deadline) throw new Error(`${type} jobs did not finish`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const failed = await t.server.ctx.db.query("select error from jobs where type = $2 and project_id = $1 and state = 'failed'", [project.id, type]);
  expect(failed.rows).toEqual([]);
};
const spareJobsDone = () => backgroundJobsDone("preview.spare");
/** The project's spare databases on the cluster. */
const spare = async () => {
  const { rows } = await adminQuery<{ oid: number; datname: string; datallowconn: boolean; datacl: string | null }>(
    "postgres",
    "select oid::int, datname, datallowconn, datacl::text from pg_database where starts_with(datname, $1)",
    [`${project.database_name}_spare`],
  );
  return rows;
};

beforeAll(async () => {
  t = await startTestServer({ CAPYDB_SCHEDULER_INTERVAL_MS: "300", CAPYDB_PREVIEW_LIMIT: "15" });
  org = (await organization(t, "Previews", "p")).client;
  const created = await org.createProject({ name: "app" });
  await org.waitForJob(created.job.id, { timeoutMs: 30_000 });
  project = (await org.getProject(created.project.id)).project;
  prodUri = await org.getConnectionUri(project.id);
  await org.waitForJob((await org.enableExtension(project.id, "citext")).job.id, { timeoutMs: 30_000 });
  psql(
    prodUri,
    `create table customers(id serial primary key, email citext unique, note text);
                 insert into customers(email, note) select 'user' || g || '@example.com', 'n' || g from generate_series(1, 500) g;
                 create view recent as select * from customers where id > 490;
                 create function shout(t text) returns text language sql as $$ select upper(t) $$;`,
  );
});
afterAll(async () => {
  await org?.close();
  await t?.stop();
});

describe("preview databases", () => {
  it("a full preview has the project's rows, isolated writes, and its own locked-down role", async () => {
    const { job, preview } = await org.createPreview(project.id, { name: "pr-1" });
    expect(preview).toMatchObject({
      state: "creating",
      name: "pr-1",
      source_kind: "project",
      mode: "full",
      source_database: project.database_name,
      project_id: project.id,
    });
    await org.waitForJob(job.id, { timeoutMs: 60_000 });
    const ready = (await org.getPreview(preview.id)).preview;
    expect(ready.state).toBe("ready");
    expect(ready.database_name).not.toBe(project.database_name);
    expect(ready.role_name).not.toBe(project.role_name);
    expect(Date.parse(ready.source_restore_time!)).toBeLessThanOrEqual(Date.now());
    const uri = await org.getPreviewConnectionUri(preview.id);
    const summary = "select count(*), max(email)::text, sum(length(note)) from customers";
    expect(psql(uri, summary)).toBe(psql(prodUri, summary));
    expect(psql(uri, "select count(*) from customers")).toBe("500");
    expect(psql(uri, "select shout('hi'), (select count(*) from recent)")).toBe("HI|10");
    // the preview's role owns what it got, so the app can migrate it
    psql(uri, "alter table customers add column plan text; insert into customers(email) values ('new@example.com')");
    expect(psql(uri, "select count(*) from customers")).toBe("501");
    expect(psql(prodUri, "select count(*) from customers")).toBe("500");
    expect(psql(prodUri, "select count(*) from information_schema.columns where table_name = 'customers' and column_name = 'plan'")).toBe("0");
    // isolation: the preview role cannot reach production, and production's role cannot reach the preview
    const toProd = new URL(uri);
    toProd.pathname = "/" + project.database_name;
    expect(() => psql(toProd.toString(), "select 1")).toThrow(/permission denied for database/);
    const toPreview = new URL(prodUri);
    toPreview.pathname = "/" + ready.database_name;
    expect(() => psql(toPreview.toString(), "select 1")).toThrow(/permission denied for database/);
    const role = await adminQuery("postgres", "select rolsuper, rolcreatedb, rolcreaterole from pg_roles where rolname = $1", [ready.role_name]);
    expect(role.rows[0]).toEqual({ rolsuper: false, rolcreatedb: false, rolcreaterole: false });
    // pooled works too
    expect(psql(await org.getPreviewConnectionUri(preview.id, { pooled: true }), "select count(*) from customers")).toBe("501");

    // reset: the writes are gone, the same URI still connects
    await org.waitForJob((await org.resetPreview(preview.id)).job.id, { timeoutMs: 60_000 });
    expect(await org.getPreviewConnectionUri(preview.id)).toBe(uri);
    expect(psql(uri, "select count(*) from customers")).toBe("500");
    expect(psql(uri, "select count(*) from information_schema.columns where table_name = 'customers' and column_name = 'plan'")).toBe("0");

    // extend moves the expiry
    const before = Date.parse(ready.ttl_expires_at);
    // (within the plan's maximum lifetime from creation: 30 days on free)
    const extended = (await org.extendPreview(preview.id, { ttl_seconds: 29 * 24 * 3600 })).preview;
    expect(Date.parse(extended.ttl_expires_at)).toBeGreaterThan(before);
    await expect(org.extendPreview(preview.id, { ttl_seconds: 31 * 24 * 3600 })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/^ttl_seconds/),
    });

    // delete: the URI refuses connections; database and role are gone; a retried delete answers the same job
    const del = await org.deletePreview(preview.id);
    expect((await org.deletePreview(preview.id)).job.id).toBe(del.job.id);
    await org.waitForJob(del.job.id, { timeoutMs: 60_000 });
    expect(() => psql(uri, "select 1")).toThrow();
    expect(await databaseExists(ready.database_name)).toBe(false);
    expect(await roleExists(ready.role_name)).toBe(false);
    expect((await org.deletePreview(preview.id)).job.id).toBe(del.job.id);
    expect((await org.listPreviews(project.id)).preview_databases.map((p) => p.id)).not.toContain(preview.id);
    expect((await org.listPreviews(project.id, { includeDeleted: true })).preview_databases.find((p) => p.id === preview.id)?.state).toBe("deleted");
  });

  it("schema_only copies tables without rows; empty gives an empty database", async () => {
    const schema = await readyPreview({ mode: "schema_only" });
    expect(psql(schema.uri, "select count(*) from customers")).toBe("0");
    expect(psql(schema.uri, "select shout('x')")).toBe("X");
    psql(schema.uri, "insert into customers(email) values ('a@b.c')");
    const empty = await readyPreview({ source_kind: "empty" });
    expect(empty.preview.source_database).toBeNull();
    expect(psql(empty.uri, "select count(*) from pg_tables where schemaname = 'public'")).toBe("0");
    psql(empty.uri, "create table mine(x int)");
    await expect(org.createPreview(project.id, { source_kind: "backup" })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/^backup_id: is required/),
    });
    await expect(org.createPreview(project.id, { source_kind: "backup", backup_id: "bkp_nope" })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/^backup_id: .*does not exist/),
    });
    await expect(org.createPreview(project.id, { backup_id: "bkp_nope" })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/^backup_id: only allowed/),
    });
  });

  it("the snapshot is reused while fresh, and fresh: true takes production's latest data", async () => {
    const a = await readyPreview();
    psql(prodUri, "insert into customers(email) values ('late@example.com')");
    const b = await readyPreview();
    expect(b.preview.source_restore_time).toBe(a.preview.source_restore_time);
    expect(psql(b.uri, "select count(*) from customers where email = 'late@example.com'")).toBe("0");
    const c = await readyPreview({ fresh: true });
    expect(Date.parse(c.preview.source_restore_time!)).toBeGreaterThan(Date.parse(a.preview.source_restore_time!));
    expect(psql(c.uri, "select count(*) from customers where email = 'late@example.com'")).toBe("1");
    // reset with fresh brings the new row into an older preview
    await org.waitForJob((await org.resetPreview(a.preview.id, { fresh: true })).job.id, { timeoutMs: 60_000 });
    expect(psql(a.uri, "select count(*) from customers where email = 'late@example.com'")).toBe("1");
    for (const p of [a, b, c]) await org.waitForJob((await org.deletePreview(p.preview.id)).job.id, { timeoutMs: 60_000 });
  });

  it("a spare clone of the snapshot is made in the background and the next create or reset takes it by a rename", async () => {
    const a = await readyPreview();
    await spareJobsDone();
    const [first] = await spare();
    expect(first).toBeDefined();
    // nobody can connect to a spare: not the project's role, not PUBLIC
    expect(first.datallowconn).toBe(false);
    expect(first.datacl ?? "").not.toMatch(/(^|[{,])=/); // no grant to PUBLIC
    const toSpare = new URL(prodUri);
    toSpare.pathname = "/" + first.datname;
    expect(() => psql(toSpare.toString(), "select 1")).toThrow(/not currently accepting connections|permission denied/);

    // the next create is the spare, renamed: same database (oid), the snapshot's data, owned by the preview's role
    const b = await readyPreview();
    const bOid = (await adminQuery<{ oid: number }>("postgres", "select oid::int from pg_database where datname = $1", [b.preview.database_name])).rows[0].oid;
    expect(bOid).toBe(first.oid);
    expect(b.preview.source_restore_time).toBe(a.preview.source_restore_time);
    expect(psql(b.uri, "select count(*) from customers")).toBe(psql(a.uri, "select count(*) from customers"));
    expect(psql(b.uri, "select count(*) from pg_tables where schemaname = 'public' and tableowner <> current_user")).toBe("0");
    psql(b.uri, "create table mine(x int); drop table customers cascade");
    const toB = new URL(prodUri);
    toB.pathname = "/" + b.preview.database_name;
    expect(() => psql(toB.toString(), "select 1")).toThrow(/permission denied for database/);

    // a reset takes the next spare: the table dropped above is back, the URI is the same
    await spareJobsDone();
    const [second] = await spare();
    expect(second.oid).not.toBe(first.oid);
    await org.waitForJob((await org.resetPreview(b.preview.id)).job.id, { timeoutMs: 60_000 });
    expect((await adminQuery<{ oid: number }>("postgres", "select oid::int from pg_database where datname = $1", [b.preview.database_name])).rows[0].oid).toBe(
      second.oid,
    );
    expect(psql(b.uri, "select count(*) > 0 from customers")).toBe("t");

    // a refreshed snapshot (fresh: true) is cloned directly; the stale spare is dropped, never taken
    await spareJobsDone();
    const [third] = await spare();
    const c = await readyPreview({ fresh: true });
    const cOid = (await adminQuery<{ oid: number }>("postgres", "select oid::int from pg_database where datname = $1", [c.preview.database_name])).rows[0].oid;
    expect(cOid).not.toBe(third.oid);
    await spareJobsDone();
    const after = await spare();
    expect(after.map((r) => r.oid)).not.toContain(third.oid);
    expect(after).toHaveLength(1);
    for (const p of [a, b, c]) await org.waitForJob((await org.deletePreview(p.preview.id)).job.id, { timeoutMs: 60_000 });
  });

  it("a snapshot in use is refreshed in the background before its maximum age; one not used for a day is left alone", async () => {
    const snapshotRow = async () =>
      (
        await t.server.ctx.db.query<{ generation: number; taken_at: Date }>("select generation, taken_at from project_snapshots where project_id = $1", [
          project.id,
        ])
      ).rows[0];
    const a = await readyPreview();
    const before = await snapshotRow();
    psql(prodUri, "insert into customers(email) values ('background@example.com')");
    // 55 minutes old: within the 1 hour maximum age, but inside the 10 minute refresh lead
    await t.server.ctx.db.query("update project_snapshots set taken_at = taken_at - interval '55 minutes' where project_id = $1", [project.id]);
    const refreshed = async () =>
      (await t.server.ctx.db.query("select state from jobs where type = 'snapshot.refresh' and project_id = $1", [project.id])).rows.map((r) => r.state);
    const deadline = Date.now() + 60_000;
    while (!(await refreshed()).includes("succeeded") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await refreshed()).toEqual(["succeeded"]);
    const now = await snapshotRow();
    expect(now.generation).toBeGreaterThan(before.generation);
    // the next create finds the refreshed snapshot ready: it holds the new row without refreshing anything itself
    const b = await readyPreview();
    expect(Date.parse(b.preview.source_restore_time!)).toBe(now.taken_at.getTime());
    expect((await snapshotRow()).generation).toBe(now.generation);
    expect(psql(b.uri, "select count(*) from customers where email = 'background@example.com'")).toBe("1");
    expect(psql(a.uri, "select count(*) from customers where email = 'background@example.com'")).toBe("0");

    // not cloned from for a day: no refresh, however close to its maximum age
    await t.server.ctx.db.query(
      "update project_snapshots set taken_at = taken_at - interval '55 minutes', last_used_at = now() - interval '2 days' where project_id = $1",
      [project.id],
    );
    await new Promise((r) => setTimeout(r, 2000)); // several scheduler ticks (every 300 ms)
    expect((await snapshotRow()).generation).toBe(now.generation);
    for (const p of [a, b]) await org.waitForJob((await org.deletePreview(p.preview.id)).job.id, { timeoutMs: 60_000 });
  });

  it("a snapshot past its maximum age that nobody cloned from for a day is dropped with its spare; previews made from it stay", async () => {
    const snapshotRow = async () =>
      (
        await t.server.ctx.db.query<{ generation: number; database_name: string }>(
          "select generation, database_name from project_snapshots where project_id = $1",
          [project.id],
        )
      ).rows[0];
    // A snapshot of now, so no refresh-ahead is due; one the test before made due has run
    // (first: a refresh replaces the spare, and asks for a new one).
    const a = await readyPreview({ fresh: true });
    await backgroundJobsDone("snapshot.refresh");
    await spareJobsDone();
    const before = await snapshotRow();
    const [spareDb] = await spare();
    expect(spareDb).toBeDefined();
    expect(await databaseExists(before.database_name)).toBe(true);

    await t.server.ctx.db.query(
      "update project_snapshots set taken_at = now() - interval '2 hours', last_used_at = now() - interval '2 days' where project_id = $1",
      [project.id],
    );
    // the row goes first (nobody clones from it any more), then the spare and the snapshot database
    const gone = async () => !(await snapshotRow()) && !(await databaseExists(before.database_name)) && (await spare()).length === 0;
    const deadline = Date.now() + 20_000;
    while (!(await gone()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await snapshotRow()).toBeUndefined();
    expect(await databaseExists(before.database_name)).toBe(false);
    expect(await spare()).toEqual([]);
    expect((await t.server.ctx.db.query("select 1 from preview_spares where project_id = $1", [project.id])).rowCount).toBe(0);
    // the preview made from it is a database of its own
    expect(psql(a.uri, "select count(*) > 0 from customers")).toBe("t");

    // the next create takes a new snapshot generation and gets production's data
    const b = await readyPreview();
    const after = await snapshotRow();
    expect(after.generation).toBeGreaterThan(before.generation);
    expect(psql(b.uri, "select count(*) from customers")).toBe(psql(prodUri, "select count(*) from customers"));
    await spareJobsDone();
    for (const p of [a, b]) await org.waitForJob((await org.deletePreview(p.preview.id)).job.id, { timeoutMs: 60_000 });
  });

  it("production stays writable by another session while a fresh preview is created (no lock waits)", async () => {
    const writer = new pg.Client({ connectionString: prodUri });
    await writer.connect();
    const pid = (await writer.query("select pg_backend_pid() as pid")).rows[0].pid;
    let stop = false;
    let writes = 0;
    const loop = (async () => {
      while (!stop) {
        await writer.query("insert into customers(email) values ($1)", [`w${writes}-${Date.now()}@example.com`]);
        await writer.query("update customers set note = 'touched' where id = 1");
        writes++;
      }
    })();
    // One watching connection, one query at a time: a timer opening a connection per tick
    // piles connections up on a slow machine until the shared cluster refuses everyone.
    const observer = new pg.Client({ connectionString: adminUrl("postgres") });
    await observer.connect();
    const waits: string[] = [];
    const watcher = (async () => {
      while (!stop) {
        const r = await observer.query("select wait_event_type from pg_stat_activity where pid = $1", [pid]);
        if (r.rows[0]?.wait_event_type === "Lock") waits.push("Lock");
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    const p = await readyPreview({ fresh: true }).finally(() => {
      stop = true;
    });
    await Promise.all([loop, watcher]);
    await Promise.all([writer.end(), observer.end()]);
    expect(writes).toBeGreaterThan(10);
    expect(waits).toEqual([]);
    await org.waitForJob((await org.deletePreview(p.preview.id)).job.id, { timeoutMs: 60_000 });
  });

  it("10 concurrent creates succeed with distinct databases; 5 concurrent resets run one at a time", async () => {
    const made = await Promise.all(Array.from({ length: 10 }, (_, i) => org.createPreview(project.id, { name: `conc-${i}` })));
    const jobs = await Promise.all(made.map((m) => org.waitForJob(m.job.id, { timeoutMs: 120_000 })));
    expect(jobs.every((j) => j.state === "succeeded")).toBe(true);
    const previews = await Promise.all(made.map(async (m) => (await org.getPreview(m.preview.id)).preview));
    expect(new Set(previews.map((p) => p.database_name)).size).toBe(10);
    for (const p of previews) expect(await databaseExists(p.database_name)).toBe(true);

    const target = previews[0];
    const resets = await Promise.all(Array.from({ length: 5 }, () => org.resetPreview(target.id)));
    const done = await Promise.all(resets.map((r) => org.waitForJob(r.job.id, { timeoutMs: 120_000 })));
    const intervals = done.map((j) => [Date.parse(j.started_at!), Date.parse(j.completed_at!)]).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < intervals.length; i++) expect(intervals[i][0]).toBeGreaterThanOrEqual(intervals[i - 1][1]);
    expect((await org.getPreview(target.id)).preview.state).toBe("ready");
    expect(psql(await org.getPreviewConnectionUri(target.id), "select count(*) > 0 from customers")).toBe("t");

    // names are unique among live previews; the live-preview limit answers 409
    await expect(org.createPreview(project.id, { name: "conc-3" })).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/^name: /) });
    const extra = await Promise.all(
      Array.from({ length: 5 }, (_, i) => org.createPreview(project.id, { name: `extra-${i}`, source_kind: "empty" }).catch((e) => e)),
    );
    const refused = extra.filter((e) => e instanceof Error);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused[0]).toMatchObject({ status: 409, message: expect.stringMatching(/limit is 15/) });
    for (const e of extra) if (!(e instanceof Error)) await org.waitForJob(e.job.id, { timeoutMs: 60_000 });
    const live = (await org.listPreviews(project.id)).preview_databases;
    await Promise.all(live.map(async (p) => org.waitForJob((await org.deletePreview(p.id)).job.id, { timeoutMs: 120_000 })));
  });

  it("an expired preview is deleted by the scheduler", async () => {
    const p = await readyPreview({ ttl_seconds: 60 });
    await t.server.ctx.db.query("update preview_databases set ttl_expires_at = now() - interval '1 second' where id = $1", [p.preview.id]);
    const deadline = Date.now() + 30_000;
    let state = "";
    while (Date.now() < deadline && state !== "deleted") {
      state = (await org.getPreview(p.preview.id)).preview.state;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(state).toBe("deleted");
    expect(await databaseExists(p.preview.database_name)).toBe(false);
  });

  it("a failed create leaves no database or role behind and says why", async () => {
    const faulty = await startTestServer({ CAPYDB_FAULTS: "preview.build.after_copy=permanent" });
    try {
      const o = (await faulty.admin.createOrganization({ name: "F" })).organization.id;
      const pj = await faulty.admin.createProject({ name: "f", organization_id: o });
      await faulty.admin.waitForJob(pj.job.id, { timeoutMs: 30_000 });
      const { job, preview } = await faulty.admin.createPreview(pj.project.id, {});
      await expect(faulty.admin.waitForJob(job.id, { timeoutMs: 60_000 })).rejects.toThrow(/injected/);
      const failed = (await faulty.admin.getPreview(preview.id)).preview;
      expect(failed.state).toBe("failed");
      expect(failed.last_error).toMatch(/injected/);
      expect(await databaseExists(failed.database_name)).toBe(false);
      expect(await databaseExists(failed.database_name + "_b")).toBe(false);
      expect(await roleExists(failed.role_name)).toBe(false);
    } finally {
      await faulty.stop();
    }
  });
});
