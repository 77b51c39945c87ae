// Writes since the origin (issue #19, first slice), on the instance engine: a preview's data is
// recovered to exactly the consistent point of a logical slot made on production when the
// snapshot was taken, so the cutover request can say exactly what production wrote since —
// even with a writer committing all through the snapshot. The count is live while the request
// waits and frozen when it is executed; a slot nothing needs any more is dropped.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { CapyClient, CutoverRequest, Project } from "@capydb/api";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { psql } from "../../test/harness/sql.js";
import { organization, readyProject } from "../../test/harness/tenants.js";
import { reflinkDir, stopInstancesAndCleanup, type ReflinkDir } from "../../test/harness/reflink.js";
import { freePort } from "../../test/harness/ports.js";
import { countChunk } from "../src/previews/origins.js";

let fsDir: ReflinkDir;
let t: TestServer;
let org: CapyClient;
let project: Project;
let prod: string;

const originSlots = () =>
  psql(prod, "select coalesce(string_agg(slot_name, ',' order by slot_name), '') from pg_replication_slots where slot_name like 'capydb_origin_%'");

beforeAll(async () => {
  fsDir = reflinkDir("origins");
  const first = await freePort();
  t = await startTestServer({
    CAPYDB_DATA_PLANE_ENGINE: "instances",
    CAPYDB_INSTANCES_DIR: `${fsDir.dir}/instances`,
    CAPYDB_INSTANCE_PORTS: `${first}-${first + 20}`,
    // a slot waits for production's open transactions: a tenant holding one open must not hold up its previews
    CAPYDB_ORIGIN_SLOT_TIMEOUT_SECONDS: "3",
  });
  org = (await organization(t, "Origins", "o")).client;
  ({ project, uri: prod } = await readyProject(org, "shop"));
  psql(prod, "create table orders (id int primary key, total int); create table events (id serial primary key, what text)");
  psql(prod, "insert into orders select g, g from generate_series(1, 100) g");
}, 180_000);

afterAll(async () => {
  await org?.close();
  await t?.stop();
  await stopInstancesAndCleanup(fsDir); // the instances outlive the server on purpose: stopped before the unmount
});

/** Inserts into orders, one transaction each, from id 1001 up, until stopped; answers the ids whose commit was acknowledged. */
function writer(): { stop: () => Promise<number[]> } {
  const committed: number[] = [];
  let running = true;
  const done = (async () => {
    const c = new pg.Client({ connectionString: prod });
    await c.connect();
    for (let id = 1001; running; id++) {
      await c.query("insert into orders values ($1, $1)", [id]);
      committed.push(id);
    }
    await c.end();
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return committed;
    },
  };
}

describe("writes since a preview's origin", () => {
  it("are counted exactly, even when production was writing while the snapshot was taken", async () => {
    const w = writer();
    const { preview, job } = await org.createPreview(project.id, { name: "pr-1" });
    await org.waitForJob(job.id, { timeoutMs: 180_000 });
    const committed = await w.stop();
    expect(committed.length).toBeGreaterThan(0);
    const previewUri = await org.getPreviewConnectionUri(preview.id);
    const inPreview = Number(psql(previewUri, "select count(*) from orders"));
    // the preview has the first 100 rows and a prefix of the writer's, nothing torn
    expect(inPreview).toBeGreaterThanOrEqual(100);
    expect(psql(previewUri, "select max(id) - 1000 = count(*) - 100 or count(*) = 100 from orders where true")).toBe("t");
    expect(originSlots()).toMatch(/^capydb_origin_/);

    // more writes after the preview was made
    psql(
      prod,
      "update orders set total = 0 where id <= 5; delete from orders where id between 6 and 8; insert into events(what) select 'e' from generate_series(1, 7)",
    );
    // 400 transactions more (3 lines each), counted 500 lines at a time: several chunks, each
    // recorded and the counter advanced
    psql(prod, "do $$ begin for i in 1..400 loop insert into events(what) values ('one of many'); commit; end loop; end $$");
    countChunk.lines = 500;
    const opened = (await org.createCutoverRequest(project.id, { preview_id: preview.id })).cutover_request;
    const writes = opened.writes_since_origin!;
    expect(writes).toMatchObject({ known: true, reason: null, since_lsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/) });
    const orders = writes.tables.find((x) => x.table === "public.orders")!;
    const events = writes.tables.find((x) => x.table === "public.events")!;
    // exactly the writer's commits the preview lacks, and the later writes
    expect(orders).toMatchObject({ inserts: committed.length + 100 - inPreview, updates: 5, deletes: 3 });
    expect(events).toMatchObject({ inserts: 407, updates: 0, deletes: 0 });
    expect(Date.parse(writes.last_write_at!)).toBeGreaterThan(Date.parse(orders.last_write_at) - 1);

    // live while it waits: one more write shows
    psql(prod, "insert into events(what) values ('late')");
    let c: CutoverRequest = (await org.getCutoverRequest(opened.id)).cutover_request;
    expect(c.writes_since_origin!.tables.find((x) => x.table === "public.events")!.inserts).toBe(408);
    expect(c.writes_since_origin!.tables.find((x) => x.table === "public.orders")).toMatchObject({ inserts: orders.inserts, updates: 5, deletes: 3 });
    // incremental: what was counted is recorded with the position reached, and the counter slot
    // (a copy of the origin; the origin itself stays where it was) has been moved on, so the next
    // read decodes only what came after
    const { rows: recorded } = await t.server.ctx.db.query("select through_lsn::text as through from slot_counts where project_id = $1", [project.id]);
    expect(recorded).toHaveLength(1);
    const slotsNow = psql(
      prod,
      "select string_agg(slot_name || '=' || (confirmed_flush_lsn > (select confirmed_flush_lsn from pg_replication_slots where slot_name like 'capydb_origin_%'))::text, ',') from pg_replication_slots where slot_name like 'capydb_count_%'",
    );
    expect(slotsNow).toMatch(/^capydb_count_[0-9a-f]+=true$/);
    expect(psql(prod, `select '${recorded[0].through}'::pg_lsn > '${writes.since_lsn}'::pg_lsn`)).toBe("t");
    countChunk.lines = 50_000;

    // frozen when executed
    await t.admin.acknowledgeCutoverRequest(opened.id, {});
    const started = (await t.admin.executeCutoverRequest(opened.id)).cutover_request;
    await t.admin.waitForJob(started.promote_job_id!, { timeoutMs: 240_000 });
    c = (await org.getCutoverRequest(opened.id)).cutover_request;
    expect(c.status).toBe("completed");
    expect(c.writes_since_origin).toMatchObject({ known: true });
    expect(c.writes_since_origin!.tables.find((x) => x.table === "public.events")!.inserts).toBe(408);
  }, 600_000);

  it("a slot no snapshot or live preview needs is dropped; a preview without an origin says why", async () => {
    const { project: p2, uri: prod2 } = await readyProject(org, "second");
    psql(prod2, "create table t (id int primary key)");
    const a = await org.createPreview(p2.id, { name: "a" });
    await org.waitForJob(a.job.id, { timeoutMs: 180_000 });
    const slotsOf = () => psql(prod2, "select coalesce(string_agg(slot_name, ','), '') from pg_replication_slots where slot_name like 'capydb_origin_%'");
    const first = slotsOf();
    expect(first).toMatch(/^capydb_origin_\w+$/);
    // a fresh reset takes a new snapshot with a new origin: the first one is no longer needed
    await org.waitForJob((await org.resetPreview(a.preview.id, { fresh: true })).job.id, { timeoutMs: 180_000 });
    const second = slotsOf();
    expect(second).toMatch(/^capydb_origin_\w+$/);
    expect(second).not.toBe(first);
    // the snapshot still refers to its slot after the preview goes
    await org.waitForJob((await org.deletePreview(a.preview.id)).job.id, { timeoutMs: 120_000 });
    expect(slotsOf()).toBe(second);

    // an empty preview has no origin: the request says so
    const e = await org.createPreview(p2.id, { name: "e", source_kind: "empty" });
    await org.waitForJob(e.job.id, { timeoutMs: 180_000 });
    const req = (await org.createCutoverRequest(p2.id, { preview_id: e.preview.id })).cutover_request;
    expect(req.writes_since_origin).toMatchObject({ known: false, reason: expect.stringContaining("no recorded origin"), tables: [] });
    await org.cancelCutoverRequest(req.id);
  }, 600_000);

  it("a transaction production holds open keeps the snapshot from an origin, not from being taken; the request says why", async () => {
    const { project: p3, uri: prod3 } = await readyProject(org, "third");
    psql(prod3, "create table t (id int primary key); insert into t values (1)");
    const holder = new pg.Client({ connectionString: prod3 });
    await holder.connect();
    try {
      await holder.query("begin; insert into t values (2)"); // an xid, open: the slot cannot find its start
      const { preview, job } = await org.createPreview(p3.id, { name: "held" });
      await org.waitForJob(job.id, { timeoutMs: 180_000 });
      expect(psql(await org.getPreviewConnectionUri(preview.id), "select count(*) from t")).toBe("1");
      const req = (await org.createCutoverRequest(p3.id, { preview_id: preview.id })).cutover_request;
      expect(req.writes_since_origin).toMatchObject({
        known: false,
        reason: expect.stringMatching(/^no origin for writes since this snapshot: .*statement timeout/),
      });
      await org.cancelCutoverRequest(req.id);
    } finally {
      await holder.query("rollback").catch(() => {});
      await holder.end();
    }
  }, 600_000);
});
