// The trap-laden database of tenant-code.test.ts, on the instance engine (the default data
// plane, CAPYDB_DATA_PLANE_ENGINE=instances): a project in a PostgreSQL instance of its own, each
// preview a copy-on-write clone in another. Paths only this engine has meet the traps here:
// privileged sessions in production's database for origin slots (a preview's origin, the
// SlotCounter that counts production's writes since it), the carry-over of a data cutover
// (CarrySource's decoding, beginCarryApply/endCarryApply, the replay into the trapped tables,
// the pause, the swap) and its rollback through the carry-back slot, snapshots
// (pg_backup_start), a backup's verification in a throwaway instance, production rebuilt for a
// restore and an import, a masked preview (a privately started copy). All instances run as one
// OS user: a superuser escape in any of them reaches every tenant's data directory.
//
// What must hold: no trap fired as a superuser (a shell writes a file into the marker
// directory), no tenant role of any instance became superuser, and each instance's own
// connection log shows no superuser session in a tenant database but the privileged module's.
// The log: every instance is a copy of the host's template, whose postgresql.conf this test
// extends before the first instance exists (log_connections, and a logging collector writing
// into a directory of the test's, so the logs of dropped instances — throwaway verifications,
// builds, private starts — are kept). Also: a postmaster's environment carries no CAPYDB_ or
// AWS_ variable (canaries set in this process's environment before the server starts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { CapyClient, Project } from "@capydb/api";
import { startTestServer, type TestServer } from "../harness/server.js";
import { psql } from "../harness/sql.js";
import { organization } from "../harness/tenants.js";
import { freePort } from "../harness/ports.js";
import { reflinkDir, stopInstancesAndCleanup, type ReflinkDir } from "../harness/reflink.js";
import { checkLedger, writer } from "../harness/writers.js";
import { INSTANCE_SUPERUSER } from "../../server/src/platform/dataplane/instances/host.js";
import { PRIVILEGED_APPLICATION_NAME } from "../../server/src/platform/dataplane/privileged.js";
import { expectNoTrapFiredIn, importDumpOf, makeMarkerDir, plantCatalogCaptureTraps, plantTrapsInto, superuserLoginsIn } from "./traps.js";

const canary = crypto.randomBytes(8).toString("hex");
const CANARIES: Record<string, string> = { CAPYDB_TRAP_CANARY: `capydb-${canary}`, AWS_TRAP_CANARY: `aws-${canary}` };
const saved: Record<string, string | undefined> = {};

let fsDir: ReflinkDir;
let t: TestServer;
let org: CapyClient;
let markerDir: string;
/** Where every instance's logging collector writes (kept after the instance is dropped). */
let logDir: string;

const instancesDir = () => path.join(fsDir.dir, "instances");
const expectNoTrapFired = (when: string) => expectNoTrapFiredIn(markerDir, when);

/** Waits for a job; a failed one's error comes with its tool's last stderr (what a trap's failure would show). */
async function wait(job: { id: string }, timeoutMs = 300_000) {
  try {
    return await org.waitForJob(job.id, { timeoutMs });
  } catch (err) {
    const j = (await t.admin.getJob(job.id).catch(() => null))?.job;
    throw new Error(`${(err as Error).message}${j ? `\n  type ${j.type}, error: ${j.error}\n  last_stderr: ${j.last_stderr}` : ""}`);
  }
}

/** The text of every instance's log so far. */
function instanceLogs(): string {
  return fs
    .readdirSync(logDir)
    .sort()
    .map((f) => fs.readFileSync(path.join(logDir, f), "utf8"))
    .join("\n");
}

/** Every running instance of the host, with its port (from the control plane's registry). */
async function runningInstances(): Promise<Array<{ name: string; port: number; purpose: string }>> {
  const host = t.server.ctx.instances!.host;
  const rows = (
    await t.server.ctx.db.query<{ name: string; port: number; purpose: string }>("select name, port, purpose from instances where state = 'active'")
  ).rows;
  return rows.filter((r) => host.running(r.name));
}

/**
 * The superusers of every running instance, read by the test through the platform superuser's
 * session in the instance's maintenance database (never a tenant's). Only the platform's own.
 */
async function expectNoTenantSuperuser(when: string): Promise<void> {
  const host = t.server.ctx.instances!.host;
  const running = await runningInstances();
  expect(running.length, `instances running ${when}`).toBeGreaterThan(0);
  for (const i of running) {
    const c = new pg.Client({ connectionString: host.adminUrl(i.port) });
    await c.connect();
    try {
      const supers = (await c.query<{ rolname: string }>("select rolname from pg_catalog.pg_roles where rolsuper order by rolname")).rows.map((r) => r.rolname);
      expect(supers, `superusers of ${i.purpose} instance ${i.name} ${when}`).toEqual([INSTANCE_SUPERUSER]);
    } finally {
      await c.end();
    }
  }
}

beforeAll(async () => {
  for (const [k, v] of Object.entries(CANARIES)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  markerDir = makeMarkerDir();
  logDir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-trap-logs-"));
  fs.chmodSync(logDir, 0o777); // the postgres OS user's logging collectors write here
  fsDir = reflinkDir("trap-instances");
  const first = await freePort();
  t = await startTestServer({
    CAPYDB_DATA_PLANE_ENGINE: "instances",
    CAPYDB_INSTANCES_DIR: instancesDir(),
    CAPYDB_INSTANCE_PORTS: `${first}-${first + 40}`,
    CAPYDB_SCHEDULER_INTERVAL_MS: "500",
  });
  // The host's template exists once the server has started, and no instance yet: every instance
  // (production, previews, builds, throwaway verifications, private starts) is a copy of it.
  const template = path.join(instancesDir(), "template", "postgresql.conf");
  expect(fs.readdirSync(path.join(instancesDir(), "data"))).toEqual([]);
  fs.appendFileSync(
    template,
    [
      "",
      "# added by tenant-code-instances.test.ts: every connection logged, into a directory the test keeps",
      "log_connections = on",
      "logging_collector = on",
      `log_directory = '${logDir}'`,
      "log_filename = 'instance-%Y%m%d-%H%M%S.log'",
      "log_file_mode = 0644",
      "",
    ].join("\n"),
  );
  org = (await organization(t, "Trapper", "attacker")).client;
}, 180_000);

afterAll(async () => {
  await org?.close();
  await t?.stop();
  await stopInstancesAndCleanup(fsDir);
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  if (markerDir) fs.rmSync(markerDir, { recursive: true, force: true });
  if (logDir) fs.rmSync(logDir, { recursive: true, force: true });
});

describe("a trap-laden tenant database on the instance engine", () => {
  it("survives every operation of the platform with nothing of the tenant's run as a superuser", { timeout: 1_500_000 }, async () => {
    const created = await org.createProject({ name: "trapper" });
    await wait(created.job);
    const project = (await org.getProject(created.project.id)).project as Project;
    const uri = await org.getConnectionUri(project.id);
    const pooled = await org.getConnectionUri(project.id, { pooled: true });
    plantTrapsInto(uri, project.role_name, markerDir);
    plantCatalogCaptureTraps(uri);
    psql(uri, "create table public.ledger (id bigserial primary key, writer text not null, n int not null)");
    // The traps work: the tenant itself sets them off harmlessly (as itself).
    expect(psql(uri, "select count(*) from public.accounts where id > 0")).toBe("40");
    expect(psql(uri, "select count(*) from pg_class where relname ~~ 'accounts%' and oid = 1259::integer")).toBe("0");
    expect(psql(uri, "select quote_ident(current_user)")).toBe(project.role_name);
    // A role may change its own password: the platform, which logs in as it, must not be locked out.
    psql(uri, `alter role current_user password 'changed-by-the-tenant'`);

    // The instance engine runs here, and its postmaster carries none of our environment.
    const production = (await t.server.ctx.instances!.instanceOf(
      (await t.server.ctx.db.query("select cluster_id from projects where id = $1", [project.id])).rows[0].cluster_id,
    ))!;
    expect(production.purpose).toBe("production");
    const pid = t.server.ctx.instances!.host.pid(production.name)!;
    expect(pid).toBeGreaterThan(0);
    const environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
    expect(environ.length).toBeGreaterThan(0);
    expect(process.env.CAPYDB_TRAP_CANARY).toBe(CANARIES.CAPYDB_TRAP_CANARY); // the canaries were there to leak
    expect(environ.filter((line) => /^(CAPYDB_|AWS_)/.test(line)).map((line) => line.split("=")[0])).toEqual([]);
    expect(environ.join("\n")).not.toContain(canary);
    // and it logs its connections where this test reads them
    expect(instanceLogs()).toMatch(/connection authorized: user=\S+ database=/);

    // Extensions: a trusted one (as the tenant) and an allow-listed untrusted one (privileged module).
    await wait((await org.enableExtension(project.id, "pgcrypto")).job);
    await wait((await org.enableExtension(project.id, "pg_stat_statements")).job);
    expect(psql(uri, "select to_regclass('pg_stat_statements') is not null")).toBe("t");

    // A backup (pg_dump as the tenant, row counts) and its verification in a throwaway instance.
    const backup = await org.createBackup(project.id, { label: "trapped" });
    await wait(backup.job);
    const taken = (await org.listBackups(project.id)).backups[0];
    expect(taken).toMatchObject({ state: "completed", verification_state: "verified" });
    await wait((await org.verifyBackup(taken.id)).job);
    expect(Number((await t.server.ctx.db.query("select count(*) from instances where purpose = 'verify'")).rows[0].count)).toBeGreaterThan(0);
    expectNoTrapFired("after the backup and its verification");

    // Previews: full (snapshot with pg_backup_start, origin slot, clone), reset.
    const full = await org.createPreview(project.id, { name: "full" });
    await wait(full.job);
    expect(psql(await org.getPreviewConnectionUri(full.preview.id), "select count(*) from public.accounts")).toBe("40");
    await wait((await org.resetPreview(full.preview.id, { fresh: true })).job);
    // Schema only: production's schema dumped as the project's role, restored into an instance of
    // the preview's own as the preview's role.
    const schemaOnly = await org.createPreview(project.id, { name: "schema", mode: "schema_only" });
    await wait(schemaOnly.job);
    expect(psql(await org.getPreviewConnectionUri(schemaOnly.preview.id), "select count(*) from public.accounts")).toBe("0");
    await wait((await org.deletePreview(schemaOnly.preview.id)).job);
    expectNoTrapFired("after the previews");
    await expectNoTenantSuperuser("after the previews");

    // Settings.
    await org.updateProject(project.id, { statement_timeout: "30s" });

    // Restore from the backup (a safety backup, production rebuilt, the swap).
    await wait((await org.restoreBackup(taken.id)).job);
    expectNoTrapFired("after the restore");

    // A data cutover that carries production's writes over, writers running: a preview with an
    // origin, production writing into the trapped table and the writers' ledger, the request
    // counting them (SlotCounter), the execute replaying them (CarrySource) into the preview's
    // trapped table, the pause, the swap.
    const carried = await org.createPreview(project.id, { name: "carried" });
    await wait(carried.job);
    psql(uri, "insert into public.accounts values (41, 'late@example.com'); update public.accounts set email = 'moved@example.com' where id = 2");
    const writers = [writer("pooled", pooled), writer("direct", uri)];
    await new Promise((r) => setTimeout(r, 1500));
    const opened = (await org.createCutoverRequest(project.id, { preview_id: carried.preview.id })).cutover_request;
    expect(opened.carry_over).toMatchObject({ possible: true, tables_not_carried: [] });
    const counted = (await org.getCutoverRequest(opened.id)).cutover_request.writes_since_origin!;
    expect(counted.known).toBe(true);
    expect(counted.tables.find((x) => x.table === "public.accounts")).toMatchObject({ inserts: 1, updates: 1 });
    await t.admin.acknowledgeCutoverRequest(opened.id, {});
    const executing = (await t.admin.executeCutoverRequest(opened.id)).cutover_request;
    await t.admin.waitForJob(executing.promote_job_id!, { timeoutMs: 300_000 });
    await new Promise((r) => setTimeout(r, 1000));
    const done = (await org.getCutoverRequest(opened.id)).cutover_request;
    expect(done.status).toBe("completed");
    expect(done.carry_over).toMatchObject({ possible: true, state: "done" });
    expect(done.carry_over!.tables.find((x) => x.table === "public.accounts")).toMatchObject({ inserts: 1, updates: 1 });
    expect(psql(uri, "select email from public.accounts where id in (2, 41) order by id")).toBe("moved@example.com\nlate@example.com");
    expectNoTrapFired("after the data cutover");

    // Its rollback, carrying production's writes since the swap back (the carry-back slot).
    psql(uri, "insert into public.accounts values (42, 'after-the-cutover@example.com'); update public.accounts set email = 'again@example.com' where id = 3");
    const back = (await org.getCutoverRequest(opened.id)).cutover_request.rollback_carry_over!;
    expect(back).toMatchObject({ possible: true, state: "waiting", tables_not_carried: [] });
    const rb = (await t.admin.rollbackCutoverRequest(opened.id)).cutover_request;
    await t.admin.waitForJob(rb.rollback_job_id!, { timeoutMs: 300_000 });
    await new Promise((r) => setTimeout(r, 1000));
    const results = await Promise.all(writers.map((w) => w.stop()));
    const after = (await org.getCutoverRequest(opened.id)).cutover_request;
    expect(after.status).toBe("rolled_back");
    expect(after.rollback_carry_over).toMatchObject({ state: "done" });
    expect(psql(uri, "select email from public.accounts where id in (3, 42) order by id")).toBe("again@example.com\nafter-the-cutover@example.com");
    for (const r of results) {
      expect(r.acked.length).toBeGreaterThan(10);
      expect(await checkLedger(uri, r), `${r.name}: every acknowledged write in production, none twice`).toEqual({ missing: [], twice: [] });
    }
    expectNoTrapFired("after the rollback");
    await expectNoTenantSuperuser("after the cutover and its rollback");

    // Import of an uploaded dump of the trapped database itself (production rebuilt from it).
    await wait(await importDumpOf(org, project.id, uri));
    expect(psql(uri, "select count(*) from public.accounts")).toBe("42");
    expectNoTrapFired("after the import");

    await wait((await org.disableExtension(project.id, "pg_stat_statements")).job);
    await wait((await org.disableExtension(project.id, "pgcrypto")).job);
    // A backup that holds an extension production no longer has still restores.
    await wait((await org.restoreBackup(taken.id)).job);
    expect(psql(uri, "select count(*) from pg_extension where extname = 'pg_stat_statements'")).toBe("1");

    // A masked preview: a private start of a copy of production's snapshot, masked as the tenant.
    await org.putMaskingRules(project.id, { rules: [{ table: "accounts", column: "email", strategy: "email" }] });
    const masked = await org.createPreview(project.id, { name: "masked" });
    await wait(masked.job);
    expect((await org.getPreview(masked.preview.id)).preview.masked).toBe(true);
    expect(psql(await org.getPreviewConnectionUri(masked.preview.id), "select count(*) from public.accounts where email = 'user1@example.com'")).toBe("0");
    expectNoTrapFired("after the masked preview");
    await expectNoTenantSuperuser("before the deletes");

    // Deletes.
    await wait((await org.deletePreview(full.preview.id)).job);
    await wait((await org.deleteProject(project.id)).job);
    expectNoTrapFired("after the deletes");

    // Each instance's log: every superuser session inside a tenant database was the privileged module's.
    const logins = superuserLoginsIn(instanceLogs(), INSTANCE_SUPERUSER, "").filter((l) => !["postgres", "template0", "template1"].includes(l.database));
    expect(logins.length).toBeGreaterThan(0); // the privileged module did log in (the check can see logins)
    expect(logins.filter((l) => l.app !== PRIVILEGED_APPLICATION_NAME)).toEqual([]);
  });

  it("a preview made from a backup of it runs none of it as a superuser", { timeout: 600_000 }, async () => {
    const created = await org.createProject({ name: "trapper-backup" });
    await wait(created.job);
    const project = (await org.getProject(created.project.id)).project as Project;
    const uri = await org.getConnectionUri(project.id);
    plantTrapsInto(uri, project.role_name, markerDir);
    plantCatalogCaptureTraps(uri);
    await wait((await org.enableExtension(project.id, "pg_stat_statements")).job);
    const backup = await org.createBackup(project.id, { label: "trapped" });
    await wait(backup.job);
    const taken = (await org.listBackups(project.id)).backups[0];
    const fromBackup = await org.createPreview(project.id, { name: "from-backup", source_kind: "backup", backup_id: taken.id });
    await wait(fromBackup.job);
    expect(psql(await org.getPreviewConnectionUri(fromBackup.preview.id), "select count(*) from public.accounts")).toBe("40");
    expectNoTrapFired("after a preview from a backup");
    await expectNoTenantSuperuser("after a preview from a backup");
    const logins = superuserLoginsIn(instanceLogs(), INSTANCE_SUPERUSER, "").filter((l) => !["postgres", "template0", "template1"].includes(l.database));
    expect(logins.filter((l) => l.app !== PRIVILEGED_APPLICATION_NAME)).toEqual([]);
  });
});
