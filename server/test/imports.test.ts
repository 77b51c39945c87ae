// Imports from a second, real PostgreSQL cluster (the "source") and from uploaded
// dumps, with the safety rules that keep tenants away from our own databases.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { inject } from "vitest";
import type { CapyClient, Project } from "@capydb/api";
import { startLocalCluster, type LocalCluster } from "../src/platform/dataplane/local-cluster.js";
import { freePort } from "../../test/harness/ports.js";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { psql } from "../../test/harness/sql.js";
import { organization } from "../../test/harness/tenants.js";

let t: TestServer;
let org: CapyClient;
let source: LocalCluster;
let sourceRoot: string;
const READER_PASSWORD = "s3cret-Reader-pw";
let sourceUrl: string;

const withDb = (url: string, db: string) => {
  const u = new URL(url);
  u.pathname = "/" + db;
  return u.toString();
};
/** Row count and an order-independent checksum of every table. */
const fingerprint = (u: string) =>
  psql(
    u,
    `select string_agg(t || ':' || n || ':' || h, ',' order by t) from (
             select 'customers' t, count(*) n, md5(string_agg(c::text, '|' order by id)) h from customers c union all
             select 'orders', count(*), md5(string_agg(o::text, '|' order by id)) from orders o union all
             select 'tags', count(*), md5(string_agg(g::text, '|' order by label)) from tags g) x`,
  );

async function newProject(name: string, extra: Record<string, unknown> = {}): Promise<Project> {
  const { job, project } = await org.createProject({ name, ...extra });
  await org.waitForJob(job.id, { timeoutMs: 30_000 });
  return (await org.getProject(project.id)).project;
}

beforeAll(async () => {
  sourceRoot = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-source-"));
  fs.chmodSync(sourceRoot, 0o755);
  source = await startLocalCluster({ dir: path.join(sourceRoot, "pg"), port: await freePort(), settings: { fsync: "off" } });
  psql(source.adminUrl, `create role reader login password '${READER_PASSWORD}'`);
  psql(source.adminUrl, "create database shop owner reader");
  sourceUrl = `postgresql://reader:${encodeURIComponent(READER_PASSWORD)}@127.0.0.1:${source.port}/shop`;
  psql(withDb(source.adminUrl, "shop"), "create extension citext");
  psql(
    sourceUrl,
    `create table customers(id serial primary key, email citext unique, joined date default '2024-01-01');
                   create table orders(id serial primary key, customer_id int references customers, total numeric(10,2));
                   create table tags(label text primary key);
                   insert into customers(email) select 'c' || g || '@shop.test' from generate_series(1, 300) g;
                   insert into orders(customer_id, total) select 1 + g % 300, g * 1.5 from generate_series(1, 2000) g;
                   insert into tags values ('a'), ('b'), ('ünïcode');
                   create view big_orders as select * from orders where total > 100;`,
  );
  t = await startTestServer({ CAPYDB_IMPORT_ALLOWED_CIDRS: "127.0.0.0/8", CAPYDB_UPLOAD_URL_TTL_SECONDS: "2" });
  org = (await organization(t, "Imports", "i")).client;
});
afterAll(async () => {
  await org?.close();
  await t?.stop();
  await source?.stop();
  fs.rmSync(sourceRoot, { recursive: true, force: true });
});

describe("imports", () => {
  it("preflight passes, the import copies every table exactly, objects end up owned by the project's role", async () => {
    const project = await newProject("imported");
    const { preflight } = await org.preflightImport(project.id, { source_url: sourceUrl });
    expect(preflight.ok).toBe(true);
    expect(preflight.checks.map((c) => [c.name, c.status])).toEqual([
      ["url", "pass"],
      ["connection", "pass"],
      ["version", "pass"],
      ["size", "pass"],
      ["extensions", "pass"],
      ["permissions", "pass"],
      ["target_empty", "pass"],
    ]);
    expect(preflight.source.extensions).toEqual([{ name: "citext", version: expect.any(String) }]);
    expect(preflight.source.database_size_bytes).toBeGreaterThan(1_000_000);
    expect(preflight.source.server_version).toMatch(/^\d+/);
    expect(preflight.target_version).toMatch(/^\d+/);
    expect(preflight.storage_limit_bytes).toBe(project.storage_limit_bytes);
    expect(JSON.stringify(preflight)).not.toContain(READER_PASSWORD);

    const { job } = await org.createImport(project.id, { source_url: sourceUrl });
    const done = await org.waitForJob(job.id, { timeoutMs: 120_000 });
    const target = await org.getConnectionUri(project.id);
    expect(fingerprint(target)).toBe(fingerprint(sourceUrl));
    expect(psql(target, "select count(*) from big_orders")).toBe(psql(sourceUrl, "select count(*) from big_orders"));
    expect(psql(target, "select string_agg(distinct tableowner, ',') from pg_tables where schemaname = 'public'")).toBe(project.role_name);
    // the source password is nowhere in the job record
    const row = await t.server.ctx.db.query("select * from jobs where id = $1", [done.id]);
    expect(JSON.stringify(row.rows[0])).not.toContain(READER_PASSWORD);
    expect(JSON.stringify(done)).not.toContain(READER_PASSWORD);

    // a second import into the now non-empty project needs replace
    await expect(org.createImport(project.id, { source_url: sourceUrl })).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/replace/) });
    const warn = (await org.preflightImport(project.id, { source_url: sourceUrl })).preflight;
    expect(warn.ok).toBe(true);
    expect(warn.checks.find((c) => c.name === "target_empty")?.status).toBe("warn");
    psql(sourceUrl, "insert into tags values ('new')");
    await org.waitForJob((await org.createImport(project.id, { source_url: sourceUrl, replace: true })).job.id, { timeoutMs: 120_000 });
    expect(psql(target, "select count(*) from tags")).toBe("4");
    psql(sourceUrl, "delete from tags where label = 'new'");
  });

  it("preflight fails clearly: wrong password, closed port, unknown database, disallowed extension, size over the limit", async () => {
    const project = await newProject("preflights");
    const check = async (url: string, name: string) => {
      const { preflight } = await org.preflightImport(project.id, { source_url: url });
      expect(preflight.ok).toBe(false);
      const failed = preflight.checks.find((c) => c.status === "fail")!;
      expect(failed.name).toBe(name);
      expect(JSON.stringify(preflight)).not.toContain("wrong-pw");
      return failed.detail;
    };
    expect(await check(sourceUrl.replace(encodeURIComponent(READER_PASSWORD), "wrong-pw"), "connection")).toMatch(
      /password authentication failed for user "reader"/,
    );
    const closed = await freePort();
    expect(await check(`postgresql://reader:x@127.0.0.1:${closed}/shop`, "connection")).toMatch(/connection refused by 127\.0\.0\.1:\d+/);
    expect(await check(sourceUrl.replace("/shop", "/nope"), "connection")).toMatch(/database "nope" does not exist/);
    expect(await check("postgresql://reader:x@no-such-host.invalid:5432/shop", "connection")).toMatch(/not found/);
    // a URL refused as written is a 400, not a failed check
    await expect(org.preflightImport(project.id, { source_url: "mysql://reader:x@127.0.0.1/shop" })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/^source_url: must start with postgresql:\/\//),
    });

    psql(withDb(source.adminUrl, "shop"), "create extension file_fdw");
    expect(await check(sourceUrl, "extensions")).toMatch(/not allowed on this platform: file_fdw/);
    psql(withDb(source.adminUrl, "shop"), "drop extension file_fdw");

    const tiny = await newProject("tiny", { storage_limit_bytes: 1_048_576 });
    const { preflight } = await org.preflightImport(tiny.id, { source_url: sourceUrl });
    expect(preflight.checks.find((c) => c.name === "size")).toMatchObject({
      status: "fail",
      detail: expect.stringMatching(/over the project's storage limit of 1048576/),
    });
    // and the import job refuses it too, with the preflight's reason
    const { job } = await org.createImport(tiny.id, { source_url: sourceUrl });
    await expect(org.waitForJob(job.id, { timeoutMs: 60_000 })).rejects.toThrow(/preflight failed: size/);
  });

  it("refuses source URLs aimed at this platform's own databases or at metadata addresses (400)", async () => {
    const project = await newProject("guarded");
    const own = new URL(inject("pgAdminUrl"));
    const ownPooled = (await org.getProject(project.id)).project.pooled_port;
    for (const url of [
      `postgresql://${own.username}:${own.password}@127.0.0.1:${own.port}/postgres`,
      `postgresql://x:y@localhost:${own.port}/postgres`,
      `postgresql://x:y@0.0.0.0:${own.port}/postgres`,
      `postgresql://x:y@[::ffff:127.0.0.1]:${own.port}/postgres`,
      `postgresql://x:y@127.0.0.1:${ownPooled}/postgres`,
      "postgresql://x:y@169.254.169.254:5432/latest",
    ]) {
      await expect(org.preflightImport(project.id, { source_url: url }), url).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/^source_url: /),
      });
      await expect(org.createImport(project.id, { source_url: url }), url).rejects.toMatchObject({ status: 400 });
    }
    // private addresses are refused unless the operator allows them
    const strict = await startTestServer();
    try {
      const o = (await strict.admin.createOrganization({ name: "Strict" })).organization.id;
      const p = await strict.admin.createProject({ name: "s", organization_id: o });
      await strict.admin.waitForJob(p.job.id, { timeoutMs: 30_000 });
      await expect(strict.admin.preflightImport(p.project.id, { source_url: sourceUrl })).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/CAPYDB_IMPORT_ALLOWED_CIDRS/),
      });
    } finally {
      await strict.stop();
    }
  });

  it("upload flow: a signed URL takes a custom-format dump over curl; expired, tampered and plain-SQL uploads are refused", async () => {
    const project = await newProject("uploaded");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-dumps-"));
    const dump = path.join(dir, "shop.dump");
    execFileSync("pg_dump", ["--format=custom", `--file=${dump}`, sourceUrl]);
    const { upload } = await org.createUpload(project.id);
    expect(upload.object_key).toMatch(new RegExp(`^uploads/${project.id}/`));
    // curl runs asynchronously: the server under test lives in this very process.
    const curl = async (url: string, file: string) =>
      (
        await promisify(execFile)(
          "curl",
          ["-sS", "-w", "\\n%{http_code}", "-X", "PUT", "--data-binary", `@${file}`, "-H", "content-type: application/octet-stream", url],
          { encoding: "utf8" },
        )
      ).stdout;
    // tampered signature
    const tampered = upload.upload_url.replace(/signature=(.)/, (_m, c: string) => `signature=${c === "0" ? "1" : "0"}`);
    expect(tampered).not.toBe(upload.upload_url);
    expect(await curl(tampered, dump)).toMatch(/403$/);
    const put = await curl(upload.upload_url, dump);
    expect(put).toMatch(/201$/);
    expect(put).toContain('"format":"custom"');
    const { job } = await org.createImport(project.id, { object_key: upload.object_key });
    await org.waitForJob(job.id, { timeoutMs: 120_000 });
    expect(fingerprint(await org.getConnectionUri(project.id))).toBe(fingerprint(sourceUrl));

    // plain SQL is refused with the way to make a custom-format dump
    const sql = path.join(dir, "shop.sql");
    fs.writeFileSync(sql, "\\! touch /tmp/capydb-pwned\nCREATE TABLE x(i int);\n");
    const second = (await org.createUpload(project.id)).upload;
    const refused = await curl(second.upload_url, sql);
    expect(refused).toMatch(/400$/);
    expect(refused).toMatch(/pg_dump --format=custom/);
    await expect(org.createImport(project.id, { object_key: second.object_key, replace: true })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/^object_key: nothing was uploaded/),
    });
    // another project's upload key is not importable here
    await expect(org.createImport(project.id, { object_key: `uploads/prj_other/${"0".repeat(32)}.dump`, replace: true })).rejects.toMatchObject({
      status: 400,
    });
    // expired
    await new Promise((r) => setTimeout(r, 2500));
    expect(await curl(second.upload_url, dump)).toMatch(/403$/);
    fs.rmSync(dir, { recursive: true, force: true });
    expect(fs.existsSync("/tmp/capydb-pwned")).toBe(false);
  });

  it("a superuser-owned SECURITY DEFINER function in a dump gives the project role no superuser rights", async () => {
    psql(source.adminUrl, "create database hostile");
    psql(
      withDb(source.adminUrl, "hostile"),
      `create function whoami() returns text security definer language sql as $$ select current_user || ':' || current_setting('is_superuser') $$;
                                               create table loot(x int); insert into loot values (1);`,
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-dumps-"));
    const dump = path.join(dir, "hostile.dump");
    execFileSync("pg_dump", ["--format=custom", `--file=${dump}`, withDb(source.adminUrl, "hostile")]);
    const project = await newProject("hostile");
    const { upload } = await org.createUpload(project.id);
    const res = await fetch(upload.upload_url, { method: "PUT", body: fs.readFileSync(dump), headers: { "content-type": "application/octet-stream" } });
    expect(res.status).toBe(201);
    await org.waitForJob((await org.createImport(project.id, { object_key: upload.object_key })).job.id, { timeoutMs: 60_000 });
    const u = await org.getConnectionUri(project.id);
    expect(psql(u, "select whoami()")).toBe(`${project.role_name}:off`);
    expect(psql(u, "select proowner::regrole::text from pg_proc where proname = 'whoami'")).toBe(project.role_name);
    expect(psql(u, "select rolsuper from pg_roles where rolname = current_user")).toBe("f");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("an import that fails halfway leaves the previous data intact, with the tool's error on the job", async () => {
    const project = await newProject("keep");
    const u = await org.getConnectionUri(project.id);
    psql(u, "create table precious(x int); insert into precious values (42)");
    // a dump with an object a non-superuser cannot create: restoring it as the project's role fails
    psql(source.adminUrl, "create database badlang");
    psql(
      withDb(source.adminUrl, "badlang"),
      "create table fine(x int); insert into fine values (1); create function evil() returns int language internal as 'int4in';",
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-dumps-"));
    const dump = path.join(dir, "bad.dump");
    execFileSync("pg_dump", ["--format=custom", `--file=${dump}`, withDb(source.adminUrl, "badlang")]);
    const { upload } = await org.createUpload(project.id);
    expect((await fetch(upload.upload_url, { method: "PUT", body: fs.readFileSync(dump) })).status).toBe(201);
    const { job } = await org.createImport(project.id, { object_key: upload.object_key, replace: true });
    await expect(org.waitForJob(job.id, { timeoutMs: 60_000 })).rejects.toThrow(/pg_restore exited/);
    const failed = (await org.getJob(job.id)).job;
    expect(failed.last_exit_code).toBe(1);
    expect(failed.last_stderr).toMatch(/permission denied for language internal/);
    expect(failed.error).toMatch(/permission denied for language internal/);
    expect(psql(u, "select x from precious")).toBe("42");
    expect(psql(u, "select count(*) from pg_tables where tablename = 'fine'")).toBe("0");
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
