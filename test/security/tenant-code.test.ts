// Attack: a tenant fills its database with traps — an IMMUTABLE function in a partial
// index predicate (the planner folds it while planning any query on the table), an
// operator in schema public that captures `name NOT LIKE ...`, a trigger and a CHECK —
// each of which, run by a superuser, opens a shell as the postgres OS user (COPY TO
// PROGRAM) and makes the tenant a superuser. Then it waits for the platform to work in
// its database: backups (scheduled ones fire without asking), verification, restore,
// previews (full, schema-only, from a backup, reset), import, extensions, settings,
// cutover, delete. Nothing may run as a superuser: no trap fires, the tenant never
// becomes superuser, and PostgreSQL's own connection log shows no superuser session in
// any of the tenant's databases but the reviewed privileged module's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { inject } from "vitest";
import type { CapyClient, Project } from "@capydb/api";
import { adminQuery, startTestServer, type TestServer } from "../harness/server.js";
import { psql } from "../harness/sql.js";
import { organization } from "../harness/tenants.js";
import { expectNoTrapFiredIn, makeMarkerDir, plantTrapsInto, superuserLoginsIn } from "./traps.js";

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

beforeAll(async () => {
  markerDir = makeMarkerDir();
  t = await startTestServer({ CAPYDB_SCHEDULER_INTERVAL_MS: "500" });
  org = (await organization(t, "Trapper", "attacker")).client;
});
afterAll(async () => {
  await org?.close();
  await t?.stop();
  fs.rmSync(markerDir, { recursive: true, force: true });
});

describe("a trap-laden tenant database", () => {
  it("survives every operation of the platform with nothing of the tenant's run as a superuser", { timeout: 600_000 }, async () => {
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

    // Settings.
    await org.updateProject(project.id, { statement_timeout: "30s" });

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

    // Through all of it the tenant stayed what it was, and no trap fired as a superuser.
    const role = await adminQuery("postgres", "select rolsuper, rolcreaterole, rolcreatedb from pg_roles where rolname = $1", [project.role_name]);
    expect(role.rows[0]).toEqual({ rolsuper: false, rolcreaterole: false, rolcreatedb: false });
    expectNoTrapFired("after restore and cutover");

    // Import of an uploaded dump of the trapped database itself (restored as the tenant,
    // triggers and all; the untrusted extension its table of contents names made first).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-trap-dump-"));
    const dump = path.join(dir, "trapped.dump");
    execFileSync("pg_dump", ["--format=custom", `--file=${dump}`, uri]);
    const { upload } = await org.createUpload(project.id);
    const put = await promisify(execFile)(
      "curl",
      ["-sS", "-w", "\n%{http_code}", "-X", "PUT", "--data-binary", `@${dump}`, "-H", "content-type: application/octet-stream", upload.upload_url],
      { encoding: "utf8" },
    );
    expect(put.stdout).toMatch(/20[01]$/);
    await wait((await org.createImport(project.id, { object_key: upload.object_key, replace: true })).job);
    fs.rmSync(dir, { recursive: true, force: true });

    await wait((await org.disableExtension(project.id, "pg_stat_statements")).job);
    await wait((await org.disableExtension(project.id, "pgcrypto")).job);

    // A backup that holds an extension production no longer has still restores.
    await wait((await org.restoreBackup(taken.id)).job);
    expect(psql(uri, "select count(*) from pg_extension where extname = 'pg_stat_statements'")).toBe("1");

    // Deletes.
    await wait((await org.deletePreview(schemaOnly.preview.id)).job);
    await wait((await org.deleteProject(project.id)).job);
    expectNoTrapFired("after the deletes");

    // PostgreSQL's log: every superuser session inside any of this project's databases was the privileged module's.
    const logins = superuserLogins(logStart, project.database_name);
    expect(logins.length).toBeGreaterThan(0); // the privileged module did log in (the check can see logins)
    expect(logins.filter((l) => l.app !== "capydb-privileged")).toEqual([]);
  });
});
