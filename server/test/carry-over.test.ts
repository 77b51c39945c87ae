// Data cutovers that lose no write (issue #19), on the instance engine: while writers commit
// numbered rows through PgBouncer and directly, production's writes since the preview's
// origin are carried into the preview, the last of them under a write pause, then the swap.
// Afterwards every acknowledged write is in production exactly once, pooled writers never saw
// an error, the preview's migration is there, triggers did not fire twice and sequences go on
// past production's values. Tables that cannot be carried are listed before execute, which
// refuses (409) unless the operator accepts the loss; a failure inside the pause lets
// production's writes go at once and leaves it as it was.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CapyClient, CutoverRequest, Project } from "@capydb/api";
import { CapyApiError } from "@capydb/api";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { psql } from "../../test/harness/sql.js";
import { organization, readyProject } from "../../test/harness/tenants.js";
import { reflinkDir, stopInstancesAndCleanup, type ReflinkDir } from "../../test/harness/reflink.js";
import { freePort } from "../../test/harness/ports.js";
import { checkLedger, writer } from "../../test/harness/writers.js";

let fsDir: ReflinkDir;
let t: TestServer;
let org: CapyClient;
/** The first test's project and its completed cutover, which the rollback test rolls back. */
let shop: { direct: string; pooled: string; cutoverId?: string };

const SCHEMA = `
  create table ledger (id bigserial primary key, writer text not null, n int not null);
  create table orders (id bigserial primary key, total int not null, label text);
  create table audit (id bigserial primary key, order_id bigint not null, what text not null);
  create function audit_order() returns trigger language plpgsql as $$
    begin insert into audit(order_id, what) values (new.id, tg_op); return new; end $$;
  create trigger orders_audit after insert or update on orders for each row execute function audit_order();
  insert into orders(total, label) select g, 'seed ' || g from generate_series(1, 50) g;`;

beforeAll(async () => {
  fsDir = reflinkDir("carry-over");
  const first = await freePort();
  t = await startTestServer({
    CAPYDB_DATA_PLANE_ENGINE: "instances",
    CAPYDB_INSTANCES_DIR: `${fsDir.dir}/instances`,
    CAPYDB_INSTANCE_PORTS: `${first}-${first + 20}`,
    CAPYDB_LOG_LEVEL: process.env.CARRY_LOG ?? "error",
  });
  org = (await organization(t, "Carry", "c")).client;
}, 180_000);

afterAll(async () => {
  await org?.close();
  await t?.stop();
  await stopInstancesAndCleanup(fsDir);
});

async function makePreview(project: Project, name: string): Promise<{ id: string; uri: string }> {
  const { preview, job } = await org.createPreview(project.id, { name });
  await org.waitForJob(job.id, { timeoutMs: 180_000 });
  return { id: preview.id, uri: await org.getPreviewConnectionUri(preview.id) };
}

async function executeAndWait(id: string, body: { accept_write_loss?: boolean } = {}): Promise<CutoverRequest> {
  await t.admin.acknowledgeCutoverRequest(id, {});
  const started = (await t.admin.executeCutoverRequest(id, body)).cutover_request;
  await t.admin.waitForJob(started.promote_job_id!, { timeoutMs: 300_000 }).catch(() => {});
  return (await org.getCutoverRequest(id)).cutover_request;
}

describe("a data cutover carries production's writes into the preview", () => {
  it("with writers running through PgBouncer and directly: every acknowledged write once, no pooled error", async () => {
    const { project, uri: direct } = await readyProject(org, "shop");
    const pooled = await org.getConnectionUri(project.id, { pooled: true });
    shop = { direct, pooled };
    psql(direct, SCHEMA);
    const preview = await makePreview(project, "pr-7");
    // the preview's migration, and a row of its own whose key production will also use
    psql(
      preview.uri,
      "alter table orders add column note text; create index orders_total on orders(total); insert into orders(id, total, label) values (51, -1, 'preview row')",
    );

    // production goes on: an update and a delete of seeded rows, new orders (the trigger audits them)
    psql(
      direct,
      "update orders set total = 0 where id <= 3; delete from orders where id = 4; insert into orders(total, label) values (1000, 'prod 51'), (1001, 'prod 52')",
    );
    const writers = [writer("pooled-a", pooled), writer("pooled-b", pooled), writer("direct", direct)];
    await new Promise((r) => setTimeout(r, 1500));

    const opened = (await org.createCutoverRequest(project.id, { preview_id: preview.id })).cutover_request;
    expect(opened.carry_over).toMatchObject({ possible: true, reason: null, tables_not_carried: [], state: "waiting" });
    const done = await executeAndWait(opened.id);
    shop.cutoverId = opened.id;
    await new Promise((r) => setTimeout(r, 1000)); // writers go on against the new production
    const results = await Promise.all(writers.map((w) => w.stop()));

    expect(done.failure_reason).toBeNull();
    expect(done.status).toBe("completed");
    expect(done.carry_over).toMatchObject({ possible: true, state: "done", accept_write_loss: false });
    expect(done.carry_over!.pause_ms).toBeGreaterThanOrEqual(0);
    expect(done.carry_over!.transactions).toBeGreaterThan(0);
    expect(done.carry_over!.sequences).toBeGreaterThanOrEqual(3);
    const ledger = done.carry_over!.tables.find((x) => x.table === "public.ledger")!;
    expect(ledger.inserts).toBeGreaterThan(0);
    expect(ledger.skipped).toBe(0);

    // pooled clients only waited; the direct one may have been closed once, at the pause
    expect(results[0].errors).toEqual([]);
    expect(results[1].errors).toEqual([]);
    console.log(
      `carry-over: pause ${done.carry_over!.pause_ms} ms, ${done.carry_over!.transactions} transactions; direct writer's errors: ${[...new Set(results[2].errors)].join(" | ")}`,
    );
    for (const e of results[2].errors) {
      expect(e).toMatch(
        /Client has encountered a connection error|terminating connection due to administrator command|too many connections for database|the database system is shutting down|ECONNREFUSED|ECONNRESET|Connection terminated|the database system is starting up/,
      );
    }
    for (const r of results) {
      expect(await checkLedger(direct, r), `${r.name}: every acknowledged write in production, none twice`).toEqual({ missing: [], twice: [] });
      expect(r.acked.length).toBeGreaterThan(10);
    }

    // production is the preview: its migration, its own row, and production's writes since
    expect(psql(direct, "select count(*) from information_schema.columns where table_name = 'orders' and column_name = 'note'")).toBe("1");
    expect(psql(direct, "select total || ':' || label from orders where id = 51")).toBe("1000:prod 51"); // production's write wins its key
    expect(psql(direct, "select total || ':' || label from orders where id = 52")).toBe("1001:prod 52");
    expect(psql(direct, "select string_agg(total::text, ',' order by id) from orders where id <= 5")).toBe("0,0,0,5");
    // the trigger ran in production once per write; the replay did not run it again
    expect(psql(direct, "select count(*) from audit where order_id in (51, 52)")).toBe("2");
    expect(psql(direct, "select count(*) from audit where order_id <= 3 and what = 'UPDATE'")).toBe("3");
    // sequences go on past production's values
    psql(direct, "insert into orders(total) values (7); insert into ledger(writer, n) values ('after', 1)");
    expect(Number(psql(direct, "select max(id) from orders"))).toBeGreaterThan(52);
    // the replay's grants went with it
    expect(psql(direct, "select count(*) from pg_replication_origin")).toBe("0");
    expect(psql(direct, "select has_function_privilege(current_user, 'pg_replication_origin_session_setup(text)', 'execute')")).toBe("f");
  }, 900_000);

  it("a rollback carries production's writes since the cutover back; a table the previous data lacks is refused unless accepted", async () => {
    const { direct, pooled } = shop;
    const cutoverId = shop.cutoverId!;
    const writers = [writer("back-pooled", pooled), writer("back-direct", direct)];
    await new Promise((r) => setTimeout(r, 1000));
    psql(direct, "insert into orders(total, label, note) values (2000, 'after the cutover', 'n'); update orders set total = 99 where id = 5");
    psql(direct, "create table fresh (id int primary key); insert into fresh values (1)");
    const before = (await org.getCutoverRequest(cutoverId)).cutover_request.rollback_carry_over!;
    expect(before).toMatchObject({ possible: true, state: "waiting" });
    expect(before.tables_not_carried).toEqual([{ table: "public.fresh", reason: expect.stringMatching(/^the previous data has no such table/) }]);
    const refused = await t.admin.rollbackCutoverRequest(cutoverId).catch((e: unknown) => e);
    expect((refused as CapyApiError).code).toBe("write_loss_not_accepted");

    const rb = (await t.admin.rollbackCutoverRequest(cutoverId, { accept_write_loss: true })).cutover_request;
    await t.admin.waitForJob(rb.rollback_job_id!, { timeoutMs: 300_000 });
    await new Promise((r) => setTimeout(r, 1000));
    const results = await Promise.all(writers.map((w) => w.stop()));
    const after = (await org.getCutoverRequest(cutoverId)).cutover_request;
    expect(after.status).toBe("rolled_back");
    expect(after.rollback_carry_over).toMatchObject({ state: "done", accept_write_loss: true });
    expect(after.rollback_carry_over!.tables.find((x) => x.table === "public.fresh")).toMatchObject({ inserts: 0, skipped: 1 });
    expect(after.rollback_carry_over!.pause_ms).toBeGreaterThanOrEqual(0);
    console.log(`carry back: pause ${after.rollback_carry_over!.pause_ms} ms, ${after.rollback_carry_over!.transactions} transactions`);

    // the previous data again (no note column), with production's writes since the cutover
    expect(results[0].errors).toEqual([]);
    for (const r of [...results]) {
      expect(await checkLedger(direct, r), `${r.name}: every acknowledged write in production, none twice`).toEqual({ missing: [], twice: [] });
    }
    for (const name of ["pooled-a", "pooled-b", "direct"]) {
      expect(psql(direct, `select count(*) = count(distinct n) and count(*) > 10 from ledger where writer = '${name}'`)).toBe("t");
    }
    expect(psql(direct, "select count(*) from information_schema.columns where table_name = 'orders' and column_name = 'note'")).toBe("0");
    expect(psql(direct, "select total from orders where label = 'after the cutover'")).toBe("2000");
    expect(psql(direct, "select total from orders where id = 5")).toBe("99");
    expect(psql(direct, "select to_regclass('public.fresh') is null")).toBe("t");
    expect(psql(direct, "select count(*) from pg_replication_slots where slot_name like 'capydb_carry_%'")).toBe("0");
  }, 900_000);

  it("tables that cannot be carried are listed; execute refuses them unless the loss is accepted, and records it", async () => {
    const { project, uri: direct } = await readyProject(org, "keyless");
    psql(direct, "create table kept (id int primary key, v int); create table loose (v int); create table gone (id int primary key)");
    psql(direct, "insert into kept values (1, 1); insert into loose values (1)");
    const preview = await makePreview(project, "pr-8");
    psql(preview.uri, "drop table gone; alter table kept add column must int not null default 0; alter table kept alter column must drop default");
    psql(direct, "insert into kept values (2, 2); update loose set v = 2; insert into gone values (1)");

    const opened = (await org.createCutoverRequest(project.id, { preview_id: preview.id })).cutover_request;
    const listed = opened.carry_over!.tables_not_carried;
    expect(listed.map((x) => x.table).sort()).toEqual(["public.gone", "public.kept", "public.loose"]);
    expect(listed.find((x) => x.table === "public.loose")!.reason).toMatch(/no primary key/);
    expect(listed.find((x) => x.table === "public.gone")!.reason).toMatch(/no such table/);
    expect(listed.find((x) => x.table === "public.kept")!.reason).toMatch(/the column must of the preview is NOT NULL without a default/);

    await t.admin.acknowledgeCutoverRequest(opened.id, {});
    const refused = await t.admin.executeCutoverRequest(opened.id).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CapyApiError);
    expect((refused as CapyApiError).status).toBe(409);
    expect((refused as CapyApiError).code).toBe("write_loss_not_accepted");
    expect((refused as CapyApiError).message).toMatch(/^accept_write_loss: .*public\.loose/);
    expect((await org.getCutoverRequest(opened.id)).cutover_request.status).toBe("acknowledged");

    const started = (await t.admin.executeCutoverRequest(opened.id, { accept_write_loss: true })).cutover_request;
    await t.admin.waitForJob(started.promote_job_id!, { timeoutMs: 300_000 });
    const done = (await org.getCutoverRequest(opened.id)).cutover_request;
    expect(done.status).toBe("completed");
    expect(done.carry_over).toMatchObject({ state: "done", accept_write_loss: true });
    expect(done.carry_over!.tables.find((x) => x.table === "public.kept")).toMatchObject({ inserts: 0, skipped: 1 });
    expect(done.carry_over!.tables.find((x) => x.table === "public.loose")).toMatchObject({ updates: 0, skipped: 1 });
    expect(psql(direct, "select string_agg(id::text, ',' order by id) from kept")).toBe("1");
    expect(psql(direct, "select to_regclass('public.gone') is null")).toBe("t");
  }, 900_000);
});
