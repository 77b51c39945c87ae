// Attack: a tenant fills its database with traps — an IMMUTABLE function in a partial
// index predicate (the planner folds it while planning any query on the table), an
// operator in schema public that captures `name NOT LIKE ...`, a trigger and a CHECK —
// each of which, run by a superuser, opens a shell as the postgres OS user (COPY TO
// PROGRAM) and makes the tenant a superuser. Then it waits for the platform to work in
// its database: backups (a scheduled one, which fires without asking, too), verification,
// restore, previews (full, schema-only, from a backup, masked — masking UPDATEs the trapped
// table — resets fresh and not), imports (an uploaded dump, and a URL whose source database
// is trapped as well), extensions, every setting, cutover, deletes of previews and of the
// project. Nothing may run as a superuser: no trap fires, neither the tenant nor the
// source's role becomes superuser, and PostgreSQL's own connection log shows no superuser
// session in any of the tenant's databases but the reviewed privileged module's, and none
// at all in the import's source.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { inject } from "vitest";
import type { CapyClient, Project } from "@capydb/api";
import { startLocalCluster, type LocalCluster } from "../../server/src/platform/dataplane/local-cluster.js";
import { freePort } from "../harness/ports.js";
import { adminQuery, startTestServer, type TestServer } from "../harness/server.js";
import { databaseExists, psql, roleExists } from "../harness/sql.js";
import { organization } from "../harness/tenants.js";
import { expectNoTrapFiredIn, importDumpOf, makeMarkerDir, plantTrapsInto, superuserLoginsIn } from "./traps.js";

let t: TestServer;
let org: CapyClient;
let markerDir: string;
const logFile = () => path.join(inject("pgDataDir"), "postgres.log");
const superuser = () => decodeURIComponent(new URL(inject("pgAdminUrl")).username);

const plantTraps = (uri: string, role: string) => plantTrapsInto(uri, role, markerDir);
const superuserLogins = (offset: number, databasePrefix: string) =>
  superuserLoginsIn(fs.readFileSync(logFile(), "utf8").slice(offset), superuser(), databasePrefix);
const expectNoTrapFired = (when: string) => expectNoTrapFiredIn(markerDir, when);

async function wait(job: { id: string }, timeoutMs = 120_000) {
  return org.waitForJob(job.id, { timeoutMs });
}

/** Every login into `database` since `offset` in the PostgreSQL log at `logPath`, by whom. */
function loginsInto(logPath: string, offset: number, database: string): Array<{ user: string; app: string }> {
  const text = fs.readFileSync(logPath, "utf8").slice(offset);
  const found: Array<{ user: string; app: string }> = [];
  for (const m of text.matchAll(/connection authorized: user=(\S+) database=(\S+)(?: application_name=(\S+))?/g)) {
    if (m[2] === database) found.push({ user: m[1], app: m[3] ?? "" });
  }
  return found;
}

/**
 * An import source: a database owned by a role of its own (no superuser), trapped by that
 * role like the tenant's (its traps would make the source's role a superuser), plus a table
 * that tells its data apart. On a cluster of its own: the platform refuses imports from its
 * own database servers (the harness cluster is one), and logs who connects to it.
 */
let source: { cluster: LocalCluster; root: string } | undefined;
async function trappedSource(): Promise<{ role: string; database: string; url: string; adminUrl: string; log: string; logStart: number }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-trap-source-"));
  fs.chmodSync(root, 0o755);
  const cluster = await startLocalCluster({ dir: path.join(root, "pg"), port: await freePort(), settings: { fsync: "off", log_connections: "on" } });
  source = { cluster, root };
  const role = "trap_source";
  const database = "trapped_source";
  const password = crypto.randomBytes(18).toString("base64url");
  psql(cluster.adminUrl, `create role ${role} login password '${password}'`);
  psql(cluster.adminUrl, `create database ${database} owner ${role}`);
  const url = `postgresql://${role}:${encodeURIComponent(password)}@127.0.0.1:${cluster.port}/${database}`;
  plantTraps(url, role);
  psql(url, "create table public.from_source (id int primary key); insert into public.from_source select generate_series(1, 3);");
  const log = path.join(cluster.dir, "postgres.log");
  return { role, database, url, adminUrl: cluster.adminUrl, log, logStart: fs.statSync(log).size };
}

/** The backup job the scheduler enqueued for the project's schedule (it ticks every 500 ms here). */
async function scheduledBackupJob(projectId: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [schedule] = (await org.listScheduledBackups(projectId)).scheduled_backups;
    if (schedule?.last_job_id) return schedule.last_job_id;
    if (Date.now() > deadline) throw new Error(`the scheduler enqueued no backup within 60 s: ${JSON.stringify(schedule)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  markerDir = makeMarkerDir();
  // imports from a cluster on this machine (the trapped source below) are allowed
  t = await startTestServer({ CAPYDB_SCHEDULER_INTERVAL_MS: "500", CAPYDB_IMPORT_ALLOWED_CIDRS: "127.0.0.0/8" });
  org = (await organization(t, "Trapper", "attacker")).client;
});
afterAll(async () => {
  await org?.close();
  await t?.stop();
  await source?.cluster.stop();
  if (source) fs.rmSync(source.root, { recursive: true, force: true });
  fs.rmSync(markerDir, { recursive: true, force: true });
});

describe("a trap-laden tenant database", () => {
  it("survives every operation of the platform with nothing of the tenant's run as a superuser", { timeout: 900_000 }, async () => {
    const logStart = fs.statSync(logFile()).size;
    const created = await org.createProject({ name: "trapper" });
    await wait(created.job);
    const project = (await org.getProject(created.project.id)).project as Project;
    const uri = await org.getConnectionUri(project.id);
    plantTraps(uri, project.role_name);
    // The traps work: the tenant itself sets them off harmlessly (as itself).
    expect(psql(uri, "select count(*) from public.accounts where id > 0")).toBe("40");
    // A role may change its own password: the platform, which logs in as it, must not be locked out.
    psql(uri, `alter role current_user password 'changed-by-the-tenant'`);

    // Extensions: a trusted one (as the tenant) and an allow-listed untrusted one (privileged
    // module, into the platform's schema), enabled while every copy below is made.
    await wait((await org.enableExtension(project.id, "pgcrypto")).job);
    await wait((await org.enableExtension(project.id, "pg_stat_statements")).job);
    expect(
      psql(
        uri,
        "select n.nspname || ':' || pg_get_userbyid(e.extowner) from pg_extension e join pg_namespace n on n.oid = e.extnamespace where extname = 'pg_stat_statements'",
      ),
    ).toBe(`capydb_extensions:${superuser()}`);
    expect(psql(uri, "select to_regclass('pg_stat_statements') is not null")).toBe("t"); // on the role's search_path

    // Backups: the dump's row counts and the verification's.
    const backup = await org.createBackup(project.id, { label: "trapped" });
    await wait(backup.job);
    const taken = (await org.listBackups(project.id)).backups[0];
    expect(taken).toMatchObject({ state: "completed", verification_state: "verified" });
    await wait((await org.verifyBackup(taken.id)).job);
    expectNoTrapFired("after the backup and its verification");

    // A scheduled backup, which nobody asks for: its slot a minute ago, made due by starting the
    // schedule a day earlier (as if made yesterday); the scheduler enqueues it on its next tick.
    const slot = new Date(Date.now() - 60_000);
    const schedule = { cron_hour: slot.getUTCHours(), cron_minute: slot.getUTCMinutes(), label: "scheduled-trapped" };
    await org.putDefaultScheduledBackup(project.id, { ...schedule, is_active: true });
    await t.server.ctx.db.query("update scheduled_backups set effective_from = now() - interval '1 day' where project_id = $1", [project.id]);
    await wait({ id: await scheduledBackupJob(project.id) });
    expect((await org.listBackups(project.id)).backups.find((b) => b.label === "scheduled-trapped")).toMatchObject({
      state: "completed",
      verification_state: "verified",
    });
    await org.putDefaultScheduledBackup(project.id, { ...schedule, is_active: false });
    expectNoTrapFired("after the scheduled backup");

    // Previews: full (snapshot + clone + REASSIGN OWNED), reset, schema only, from the backup.
    const full = await org.createPreview(project.id, { name: "full" });
    await wait(full.job);
    expect(psql(await org.getPreviewConnectionUri(full.preview.id), "select count(*) from public.accounts")).toBe("40");
    await wait((await org.resetPreview(full.preview.id, { fresh: true })).job);
    const schemaOnly = await org.createPreview(project.id, { name: "schema", mode: "schema_only" });
    await wait(schemaOnly.job);
    const fromBackup = await org.createPreview(project.id, { name: "from-backup", source_kind: "backup", backup_id: taken.id });
    await wait(fromBackup.job);
    expectNoTrapFired("after the previews");

    // A reset that is not fresh (a clone of the snapshot already taken).
    await wait((await org.resetPreview(full.preview.id, { fresh: false })).job);

    // Masking rules on the trapped table's column (checked against production's catalog and a
    // sample of its rows), then a masked preview: masking UPDATEs every row of the trapped table
    // (its CHECK, trigger and partial index) in the copy, and a non-fresh reset masks again.
    await org.putMaskingRules(project.id, { rules: [{ table: "accounts", column: "email", strategy: "email" }] });
    const masked = await org.createPreview(project.id, { name: "masked" });
    await wait(masked.job);
    expect((await org.getPreview(masked.preview.id)).preview).toMatchObject({ masked: true, masking_verified_at: expect.any(String) });
    const maskedUri = await org.getPreviewConnectionUri(masked.preview.id);
    const originalEmails = "select count(*) from public.accounts where email like 'user%@example.com'";
    expect(psql(maskedUri, `select count(*) || '/' || (${originalEmails}) from public.accounts`)).toBe("40/0");
    await wait((await org.resetPreview(masked.preview.id, { fresh: false })).job);
    expect(psql(maskedUri, `select count(*) || '/' || (${originalEmails}) from public.accounts`)).toBe("40/0");
    expectNoTrapFired("after the masked preview and the non-fresh resets");

    // Settings: every one a tenant may PATCH (the connection limit down, then up again, which is
    // admitted against the cluster's slots), and the plan, which only a platform admin may change.
    await org.updateProject(project.id, { statement_timeout: "30s" });
    await org.updateProject(project.id, {
      max_connections: 10,
      idle_transaction_timeout: "5min",
      storage_limit_bytes: 5 * 1024 ** 3,
      environment: "staging",
      name: "trapper-renamed",
    });
    await org.updateProject(project.id, { max_connections: 20 });
    await t.admin.updateProject(project.id, { plan: "pro", max_connections: 40 });
    const settings = await adminQuery("postgres", "select rolconnlimit, rolconfig from pg_roles where rolname = $1", [project.role_name]);
    expect(settings.rows[0].rolconnlimit).toBe(40);
    expect(settings.rows[0].rolconfig).toEqual(expect.arrayContaining(["statement_timeout=30s", "idle_in_transaction_session_timeout=5min"]));

    // Restore from the backup (a safety backup first, then a swap).
    await wait((await org.restoreBackup(taken.id)).job);

    // Cutover of the full preview (a pre-cutover backup, REASSIGN OWNED, swap), and its rollback.
    const cut = (await org.createCutoverRequest(project.id, { preview_id: full.preview.id })).cutover_request;
    await t.admin.acknowledgeCutoverRequest(cut.id, {});
    const executing = (await t.admin.executeCutoverRequest(cut.id)).cutover_request;
    await wait({ id: executing.promote_job_id! });
    expect(psql(uri, "select tableowner from pg_tables where tablename = 'accounts'")).toBe(project.role_name);
    const rolledBack = (await t.admin.rollbackCutoverRequest(cut.id)).cutover_request;
    if (rolledBack.rollback_job_id) await wait({ id: rolledBack.rollback_job_id });

    // Beyond the list: the masked preview's schema diff (each side's catalog read by
    // migra) and a schema cutover of it (a pre-cutover backup, then the reviewed DDL applied to
    // production as the tenant, over the trapped table).
    psql(maskedUri, "alter table public.accounts add column note text");
    await wait((await org.createSchemaDiff(masked.preview.id)).job);
    expect((await org.getSchemaDiff(masked.preview.id)).schema_diff.statements.map((st) => st.kind)).toEqual(["add_column"]);
    let schemaCut = (await org.createCutoverRequest(project.id, { preview_id: masked.preview.id, mode: "schema" })).cutover_request;
    for (const deadline = Date.now() + 120_000; schemaCut.schema_diff_at_open?.state === "pending" && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 200));
      schemaCut = (await org.getCutoverRequest(schemaCut.id)).cutover_request;
    }
    expect(schemaCut.schema_diff_at_open?.state).toBe("ready");
    await t.admin.acknowledgeCutoverRequest(schemaCut.id, {});
    await wait({ id: (await t.admin.executeCutoverRequest(schemaCut.id)).cutover_request.promote_job_id! });
    expect((await org.getCutoverRequest(schemaCut.id)).cutover_request).toMatchObject({ status: "completed", mode: "schema" });
    expect(psql(uri, "select count(*) from information_schema.columns where table_name = 'accounts' and column_name = 'note'")).toBe("1");

    // Through all of it the tenant stayed what it was, and no trap fired as a superuser.
    const role = await adminQuery("postgres", "select rolsuper, rolcreaterole, rolcreatedb from pg_roles where rolname = $1", [project.role_name]);
    expect(role.rows[0]).toEqual({ rolsuper: false, rolcreaterole: false, rolcreatedb: false });
    expectNoTrapFired("after restore and cutover");

    // Import of an uploaded dump of the trapped database itself (restored as the tenant,
    // triggers and all; the untrusted extension its table of contents names made first).
    await wait(await importDumpOf(org, project.id, uri));

    await wait((await org.disableExtension(project.id, "pg_stat_statements")).job);
    await wait((await org.disableExtension(project.id, "pgcrypto")).job);

    // A backup that holds an extension production no longer has still restores.
    await wait((await org.restoreBackup(taken.id)).job);
    expect(psql(uri, "select count(*) from pg_extension where extname = 'pg_stat_statements'")).toBe("1");

    // Import from a URL: a source database trapped by its own role. The import's pg_dump reads
    // it as that role (the URL's), pg_restore writes the new database as the tenant.
    const src = await trappedSource();
    // Its preflight first: the source's catalog read as the URL's role, the target's as the tenant.
    const { preflight } = await org.preflightImport(project.id, { source_url: src.url });
    expect(preflight.checks.filter((c) => c.status === "fail")).toEqual([]);
    await wait((await org.createImport(project.id, { source_url: src.url, replace: true })).job, 180_000);
    expectNoTrapFired("after the import from a URL");
    expect(psql(uri, "select count(*) from public.from_source")).toBe("3");
    expect(psql(uri, "select tableowner from pg_tables where tablename = 'accounts'")).toBe(project.role_name);

    // Deletes: each preview on its own, then the project. The preview that was cut over is
    // production's data now, not a preview: deleting it is refused.
    await expect(org.deletePreview(full.preview.id)).rejects.toMatchObject({ status: 409, code: "preview_deleted" });
    for (const preview of [schemaOnly.preview, masked.preview, fromBackup.preview]) {
      await wait((await org.deletePreview(preview.id)).job);
      expect(await databaseExists(preview.database_name), preview.name).toBe(false);
      expect(await roleExists(preview.role_name), preview.name).toBe(false);
    }
    await wait((await org.deleteProject(project.id)).job);
    expectNoTrapFired("after the deletes");

    // PostgreSQL's log: every superuser session inside any of this project's databases was the privileged module's.
    const logins = superuserLogins(logStart, project.database_name);
    expect(logins.length).toBeGreaterThan(0); // the privileged module did log in (the check can see logins)
    expect(logins.filter((l) => l.app !== "capydb-privileged")).toEqual([]);

    // The import's source: read as its own role only (the check can see its logins), never by a
    // superuser, and its role is still what it was.
    const sourceLogins = loginsInto(src.log, src.logStart, src.database);
    expect(sourceLogins.length).toBeGreaterThan(0);
    expect(sourceLogins.filter((l) => l.user !== src.role)).toEqual([]);
    expect(psql(src.adminUrl, `select rolsuper from pg_roles where rolname = '${src.role}'`)).toBe("f");
  });
});
