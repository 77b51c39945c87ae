// The instance engine end to end through the API (CAPYDB_DATA_PLANE_ENGINE=instances) on a
// loop-mounted XFS image with reflink: a project gets a PostgreSQL instance of its own, each
// preview is a copy-on-write clone of the project's snapshot in an instance of its own.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { CapyClient, Project } from "@capydb/api";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { psql } from "../../test/harness/sql.js";
import { organization, readyProject } from "../../test/harness/tenants.js";
import { reflinkDir, stopInstancesAndCleanup, type ReflinkDir } from "../../test/harness/reflink.js";
import { freePort } from "../../test/harness/ports.js";
import { Reconciler } from "../src/platform/reconciler.js";

let fsDir: ReflinkDir;
let t: TestServer;
let org: CapyClient;
let project: Project;
let prodUri: string;
let squatter: net.Server;
let squatted: number;

const rowsOf = (uri: string, sql: string) => psql(uri, sql);
const tenantDatabases = (uri: string) =>
  rowsOf(uri, "select string_agg(datname, ',' order by datname) from pg_database where datname not in ('postgres', 'template0', 'template1')");

/** Production's instance row, and the data directory it runs on. */
async function productionRow() {
  return (await t.server.ctx.instances!.instanceOf(
    (await t.server.ctx.db.query("select cluster_id from projects where id = $1", [project.id])).rows[0].cluster_id,
  ))!;
}
let productionName = "";
const productionDir = () => t.server.ctx.instances!.host.dataTarget(productionName)!;

/** The build instances a job made (restores and imports). */
async function buildsOf(jobId: string): Promise<{ purpose: string; state: string }[]> {
  return (await t.server.ctx.db.query("select purpose, state from instances where built_by_job_id = $1 order by created_at", [jobId])).rows;
}

beforeAll(async () => {
  fsDir = reflinkDir("instance-engine");
  const first = await freePort();
  // another program holds the range's first port: instances must pass over it
  squatter = net.createServer().listen(first, "127.0.0.1");
  squatted = first;
  t = await startTestServer({
    CAPYDB_DATA_PLANE_ENGINE: "instances",
    CAPYDB_INSTANCES_DIR: `${fsDir.dir}/instances`,
    CAPYDB_INSTANCE_PORTS: `${first}-${first + 40}`,
    CAPYDB_INSTANCE_MAX: "6",
  });
  org = (await organization(t, "Instances", "i")).client;
  ({ project, uri: prodUri } = await readyProject(org, "app"));
  psql(
    prodUri,
    `create table accounts (id int primary key, balance bigint, note text);
     insert into accounts select g, g * 7, md5(g::text) from generate_series(1, 50000) g;
     create function shout(t text) returns text language sql as $$ select upper(t) $$;`,
  );
  productionName = (await productionRow()).name;
}, 180_000);

afterAll(async () => {
  squatter?.close();
  await org?.close();
  await t?.stop();
  await stopInstancesAndCleanup(fsDir); // the instances outlive the server on purpose: stopped before the unmount
});

describe("the instance engine", () => {
  it("gives the project a PostgreSQL instance of its own: its database and role are the only tenant ones there", () => {
    const port = Number(new URL(prodUri).port);
    expect(project.direct_port).toBe(port);
    expect(port).not.toBe(squatted); // a port another program holds is passed over
    expect(
      rowsOf(prodUri, "select string_agg(datname, ',' order by datname) from pg_database where datname not in ('postgres', 'template0', 'template1')"),
    ).toBe(project.database_name);
    expect(rowsOf(prodUri, "select string_agg(rolname, ',' order by rolname) from pg_roles where rolname !~ '^pg_'")).toBe(
      ["capydb_admin", project.role_name].sort().join(","),
    );
  });

  it("makes previews as clones of production's snapshot: identical data, isolated writes, only their own names inside", async () => {
    const { preview, job } = await org.createPreview(project.id, { name: "pr-1" });
    await org.waitForJob(job.id, { timeoutMs: 60_000 });
    const uri = await org.getPreviewConnectionUri(preview.id);
    const checksum = "select md5(string_agg(a::text, ',' order by id)) from accounts a";
    expect(rowsOf(uri, checksum)).toBe(rowsOf(prodUri, checksum));
    expect(rowsOf(uri, "select shout('hi')")).toBe("HI");
    // pooled: the host's PgBouncer routes the preview's database to its instance
    const pooled = await org.getPreviewConnectionUri(preview.id, { pooled: true });
    expect(Number(new URL(pooled).port)).toBe(project.pooled_port);
    expect(rowsOf(pooled, checksum)).toBe(rowsOf(prodUri, checksum));
    // its own instance, port and names: nothing of production's is left inside
    expect(Number(new URL(uri).port)).not.toBe(Number(new URL(prodUri).port));
    expect(rowsOf(uri, "select string_agg(datname, ',') from pg_database where datname not in ('postgres', 'template0', 'template1')")).toBe(
      preview.database_name,
    );
    expect(rowsOf(uri, "select string_agg(rolname, ',' order by rolname) from pg_roles where rolname !~ '^pg_'")).toBe(
      ["capydb_admin", preview.role_name].sort().join(","),
    );
    expect(rowsOf(uri, "select current_user")).toBe(preview.role_name);
    // production's role and password do not open the preview
    expect(() => psql(prodUri.replace(`:${new URL(prodUri).port}/`, `:${new URL(uri).port}/`), "select 1")).toThrow();
    rowsOf(uri, "update accounts set balance = -1 where id <= 10");
    rowsOf(prodUri, "insert into accounts values (50001, 0, 'after')");
    expect(rowsOf(prodUri, "select count(*) from accounts where balance = -1")).toBe("0");
    expect(rowsOf(uri, "select count(*) from accounts where id = 50001")).toBe("0");
  });

  it("makes a schema-only preview: production's tables and functions in an instance of its own, none of its rows", async () => {
    const { preview, job } = await org.createPreview(project.id, { name: "schema", mode: "schema_only" });
    await org.waitForJob(job.id, { timeoutMs: 60_000 });
    expect((await org.getPreview(preview.id)).preview).toMatchObject({ state: "ready", mode: "schema_only" });
    const uri = await org.getPreviewConnectionUri(preview.id);
    expect(Number(new URL(uri).port)).not.toBe(Number(new URL(prodUri).port));
    expect(rowsOf(uri, "select count(*) from accounts")).toBe("0");
    expect(rowsOf(uri, "select shout('hi')")).toBe("HI");
    expect(rowsOf(uri, "select tableowner from pg_tables where tablename = 'accounts'")).toBe(preview.role_name);
    await org.waitForJob((await org.deletePreview(preview.id)).job.id, { timeoutMs: 60_000 });
  });

  it("resets a preview to fresh production data with the same credentials and address", async () => {
    const preview = (await org.listPreviews(project.id)).preview_databases.find((p) => p.name === "pr-1")!;
    const before = await org.getPreviewConnectionUri(preview.id);
    rowsOf(before, "create table scratch (x int)");
    const { job } = await org.resetPreview(preview.id, { fresh: true });
    await org.waitForJob(job.id, { timeoutMs: 60_000 });
    const after = await org.getPreviewConnectionUri(preview.id);
    expect(after).toBe(before);
    // the role's secret changed with the new data (a new SCRAM salt): PgBouncer has it
    expect(rowsOf(await org.getPreviewConnectionUri(preview.id, { pooled: true }), "select count(*) from accounts where id = 50001")).toBe("1");
    expect(rowsOf(after, "select to_regclass('scratch') is null")).toBe("t");
    expect(rowsOf(after, "select count(*) from accounts where balance = -1")).toBe("0");
    // fresh: production's row written after the first snapshot is there now
    expect(rowsOf(after, "select note from accounts where id = 50001")).toBe("after");
  });

  it("refuses a preview past the host's instance limit with 409, and deleting a preview frees its instance", async () => {
    const made: string[] = [];
    // production + pr-1 + four more = the limit of six
    for (let i = 0; i < 4; i++) {
      const { job, preview } = await org.createPreview(project.id, { name: `more-${i}` });
      made.push(preview.id);
      await org.waitForJob(job.id, { timeoutMs: 60_000 });
    }
    await expect(org.createPreview(project.id, { name: "one-too-many" })).rejects.toMatchObject({ status: 409, code: "instance_capacity_exceeded" });
    const gone = made[0];
    const uri = await org.getPreviewConnectionUri(gone);
    await org.waitForJob((await org.deletePreview(gone)).job.id, { timeoutMs: 60_000 });
    expect(() => psql(uri, "select 1")).toThrow();
    const { job } = await org.createPreview(project.id, { name: "after-delete" });
    await org.waitForJob(job.id, { timeoutMs: 60_000 });
    // at the limit a backup is still verified: its scratch database goes on production's own
    // instance (no throwaway instance to be had), and is gone afterwards
    const backup = await org.createBackup(project.id, { label: "at the limit" });
    await org.waitForJob(backup.job.id, { timeoutMs: 120_000 });
    expect((await org.listBackups(project.id)).backups.find((b) => b.label === "at the limit")).toMatchObject({
      state: "completed",
      verification_state: "verified",
    });
    expect(await buildsOf(backup.job.id)).toEqual([]);
    expect(tenantDatabases(prodUri)).toBe(project.database_name);
  });

  it("cutover swaps the instances' data: production's URI sees the preview's data; rollback swaps it back", async () => {
    const preview = (await org.listPreviews(project.id)).preview_databases.find((p) => p.name === "pr-1")!;
    const previewUri = await org.getPreviewConnectionUri(preview.id);
    psql(previewUri, "alter table accounts add column email text; update accounts set email = 'a@x.org' where id = 1");
    const { cutover_request: req } = await org.createCutoverRequest(project.id, { preview_id: preview.id });
    await t.admin.acknowledgeCutoverRequest(req.id, {});
    const started = (await t.admin.executeCutoverRequest(req.id)).cutover_request;
    await t.admin.waitForJob(started.promote_job_id!, { timeoutMs: 120_000 });
    expect((await org.getCutoverRequest(req.id)).cutover_request.status).toBe("completed");
    expect(await org.getConnectionUri(project.id)).toBe(prodUri);
    expect(rowsOf(prodUri, "select email from accounts where id = 1")).toBe("a@x.org");
    expect(rowsOf(prodUri, "select current_user")).toBe(project.role_name);
    expect(rowsOf(prodUri, "select tableowner from pg_tables where tablename = 'accounts'")).toBe(project.role_name);
    expect((await org.getPreview(preview.id)).preview.state).toBe("promoted");
    expect(() => psql(previewUri, "select 1")).toThrow();
    rowsOf(prodUri, "insert into accounts (id, balance) values (60000, 1)");

    const rb = (await t.admin.rollbackCutoverRequest(req.id)).cutover_request;
    await t.admin.waitForJob(rb.rollback_job_id!, { timeoutMs: 60_000 });
    expect((await org.getCutoverRequest(req.id)).cutover_request.status).toBe("rolled_back");
    expect(rowsOf(prodUri, "select count(*) from information_schema.columns where table_name = 'accounts' and column_name = 'email'")).toBe("0");
    expect(rowsOf(prodUri, "select note from accounts where id = 50001")).toBe("after");
    // the write made to the promoted data was carried back (issue #19)
    expect(rowsOf(prodUri, "select balance from accounts where id = 60000")).toBe("1");
    expect((await org.getCutoverRequest(req.id)).cutover_request.rollback_carry_over).toMatchObject({ state: "done" });
    rowsOf(prodUri, "delete from accounts where id = 60000");
    const { rows } = await t.server.ctx.db.query("select i.state from instances i join preview_databases v on v.cluster_id = i.cluster_id where v.id = $1", [
      preview.id,
    ]);
    expect(rows[0].state).toBe("deleted");
  });

  it("backs up production and restores it in its instance; previews made after the restore hold the restored data", async () => {
    const walBefore = rowsOf(prodUri, "select pg_current_wal_lsn()");
    const { job } = await org.createBackup(project.id, { label: "before damage" });
    await org.waitForJob(job.id, { timeoutMs: 120_000 });
    const backup = (await org.listBackups(project.id)).backups.find((b) => b.label === "before damage")!;
    expect(backup).toMatchObject({ state: "completed", verification_state: "verified" });
    // verified in a throwaway instance of its own: the restore (several MB of WAL) never
    // passed through production, whose origin slots would have had to decode it
    expect(await buildsOf(job.id)).toEqual([{ purpose: "verify", state: "deleted" }]);
    const walBytes = Number(rowsOf(prodUri, `select pg_current_wal_lsn() - '${walBefore}'::pg_lsn`));
    expect(walBytes).toBeLessThan(1024 * 1024);
    rowsOf(prodUri, "delete from accounts where id > 100");
    const before = productionDir();
    const restore = await org.restoreBackup(backup.id);
    await org.waitForJob(restore.job.id, { timeoutMs: 120_000 });
    expect(await org.getConnectionUri(project.id)).toBe(prodUri);
    expect(rowsOf(prodUri, "select count(*) from accounts")).toBe("50001");
    // restored in an instance of its own, whose data directory production now runs on
    expect(productionDir()).not.toBe(before);
    // the restore's safety backup was verified in an instance of its own too
    expect(await buildsOf(restore.job.id)).toEqual([
      { purpose: "verify", state: "deleted" },
      { purpose: "build", state: "deleted" },
    ]);
    expect(fs.existsSync(before)).toBe(false);
    expect(tenantDatabases(prodUri)).toBe(project.database_name);
    const after = await org.createPreview(project.id, { name: "after-restore" });
    await org.waitForJob(after.job.id, { timeoutMs: 60_000 });
    expect(rowsOf(await org.getPreviewConnectionUri(after.preview.id), "select count(*) from accounts")).toBe("50001");
    await org.waitForJob((await org.deletePreview(after.preview.id)).job.id, { timeoutMs: 60_000 });
  });

  it("imports into an instance of its own and swaps it in; a failed import leaves production as it was", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-instance-import-"));
    const dump = path.join(dir, "app.dump");
    rowsOf(prodUri, "create table imported_marker (x int); insert into imported_marker values (7)");
    execFileSync("pg_dump", ["--format=custom", "--no-owner", "--no-privileges", `--file=${dump}`, prodUri]);
    rowsOf(prodUri, "drop table imported_marker; delete from accounts where id > 10");
    const upload = async (file: string) => {
      const { upload } = await org.createUpload(project.id);
      expect((await fetch(upload.upload_url, { method: "PUT", body: fs.readFileSync(file) })).status).toBe(201);
      return upload.object_key;
    };
    const before = productionDir();
    const { job } = await org.createImport(project.id, { object_key: await upload(dump), replace: true });
    await org.waitForJob(job.id, { timeoutMs: 120_000 });
    expect(rowsOf(prodUri, "select count(*) from accounts")).toBe("50001");
    expect(rowsOf(prodUri, "select x from imported_marker")).toBe("7");
    expect(rowsOf(prodUri, "select string_agg(distinct tableowner, ',') from pg_tables where schemaname = 'public'")).toBe(project.role_name);
    expect(productionDir()).not.toBe(before);
    expect(await buildsOf(job.id)).toEqual([{ purpose: "build", state: "deleted" }]);
    expect(tenantDatabases(prodUri)).toBe(project.database_name);

    // an archive cut off halfway: pg_restore fails in the build; production never stopped
    rowsOf(prodUri, "insert into imported_marker values (8)");
    const cut = path.join(dir, "cut.dump");
    const whole = fs.readFileSync(dump);
    fs.writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    const kept = productionDir();
    const postmaster = t.server.ctx.instances!.host.pid((await productionRow()).name);
    const failing = await org.createImport(project.id, { object_key: await upload(cut), replace: true });
    await expect(org.waitForJob(failing.job.id, { timeoutMs: 120_000 })).rejects.toThrow(/pg_restore/);
    expect(productionDir()).toBe(kept);
    expect(t.server.ctx.instances!.host.pid((await productionRow()).name)).toBe(postmaster);
    expect(rowsOf(prodUri, "select string_agg(x::text, ',' order by x) from imported_marker")).toBe("7,8");
    const builds = await buildsOf(failing.job.id);
    expect(builds.length).toBeGreaterThan(0);
    expect(builds.every((b) => b.state === "deleted")).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("after a host reboot (every instance killed) the server's start-up starts them again", async () => {
    const engine = t.server.ctx.instances!;
    const names = engine.host.list().instances;
    expect(names.length).toBeGreaterThan(1);
    for (const name of names) {
      const pid = engine.host.pid(name);
      if (pid) process.kill(pid, "SIGKILL");
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(() => psql(prodUri, "select 1")).toThrow();
    const { started } = await engine.startAll(); // what startServer does
    expect(started).toBeGreaterThan(1);
    expect(rowsOf(prodUri, "select count(*) from accounts")).toBe("50001");
    for (const p of (await org.listPreviews(project.id)).preview_databases.filter((p) => p.state === "ready")) {
      expect(rowsOf(await org.getPreviewConnectionUri(p.id), "select 1")).toBe("1");
    }
  });

  it("the reconciler removes an instance directory no active instance owns, on its second sighting", async () => {
    const host = t.server.ctx.instances!.host;
    await host.create("i_stray", { port: await freePort(), maxConnections: 5, sharedBuffersMb: 16 });
    await host.start("i_stray");
    const reconciler = new Reconciler(t.server.ctx);
    expect((await reconciler.pass()).filter((r) => r.kind === "instance")).toEqual([]);
    expect((await reconciler.pass()).filter((r) => r.kind === "instance").map((r) => r.name)).toEqual(["i_stray"]);
    expect(host.exists("i_stray")).toBe(false);
    // the project's own instances are untouched
    expect(rowsOf(prodUri, "select 1")).toBe("1");
  });

  it("deleting the project removes every instance and the snapshot", async () => {
    await org.waitForJob((await org.deleteProject(project.id)).job.id, { timeoutMs: 120_000 });
    const { rows } = await t.server.ctx.db.query("select count(*)::int as n from instances where project_id = $1 and state = 'active'", [project.id]);
    expect(rows[0].n).toBe(0);
    const host = t.server.ctx.instances!.host;
    expect(host.list()).toEqual({ instances: [], snapshots: [] });
    expect(() => psql(prodUri, "select 1")).toThrow();
  });
});
