import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import type { CapyClient, Project } from "@capydb/api";
import { adminQuery, startTestServer, type TestServer } from "../../test/harness/server.js";
import { organization } from "../../test/harness/tenants.js";

let t: TestServer;
let org: CapyClient;
let project: Project;

const installed = async (db: string) =>
  (await adminQuery(db, "select extname, extowner::regrole::text as owner from pg_extension order by 1")).rows as Array<{ extname: string; owner: string }>;

beforeAll(async () => {
  t = await startTestServer();
  org = (await organization(t, "Ext", "e")).client;
  const { job, project: p } = await org.createProject({ name: "ext" });
  await org.waitForJob(job.id, { timeoutMs: 30_000 });
  project = (await org.getProject(p.id)).project;
});
afterAll(async () => {
  await org?.close();
  await t?.stop();
});

describe("extensions", () => {
  it("lists the cluster's extensions with enabled and trusted", async () => {
    const { extensions } = await org.listExtensions(project.id);
    const byName = new Map(extensions.map((e) => [e.name, e]));
    expect(byName.get("plpgsql")).toMatchObject({ enabled: true });
    expect(byName.get("citext")).toMatchObject({ enabled: false, trusted: true });
    expect(byName.get("file_fdw")).toMatchObject({ trusted: false });
    expect(byName.get("pgcrypto")?.default_version).toMatch(/^\d/);
  });

  it("enables trusted extensions as the project's role, usable from its connection", async () => {
    const { job } = await org.enableExtension(project.id, "pgcrypto");
    await org.waitForJob(job.id, { timeoutMs: 30_000 });
    const rows = await installed(project.database_name);
    expect(rows).toContainEqual({ extname: "pgcrypto", owner: project.role_name });
    const uri = await org.getConnectionUri(project.id);
    expect(execFileSync("psql", [uri, "-XAtc", "select length(gen_random_uuid()::text)"], { encoding: "utf8" }).trim()).toBe("36");
    const listed = (await org.listExtensions(project.id)).extensions.find((e) => e.name === "pgcrypto");
    expect(listed?.enabled).toBe(true);
    // enabling again is a no-op that succeeds
    await org.waitForJob((await org.enableExtension(project.id, "pgcrypto")).job.id, { timeoutMs: 30_000 });
  });

  it("unknown and not-allowed extensions answer 400 naming the field; nothing is enqueued", async () => {
    const before = (await org.listProjectJobs(project.id)).jobs.length;
    await expect(org.enableExtension(project.id, "no_such_ext")).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/^name: .*not available/),
    });
    await expect(org.enableExtension(project.id, "file_fdw")).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/^name: .*superuser/) });
    await expect(org.enableExtension(project.id, 'x"; drop database postgres; --')).rejects.toMatchObject({ status: 400 });
    expect((await org.listProjectJobs(project.id)).jobs.length).toBe(before);
  });

  it("disabling an extension others depend on fails the job with Postgres's reason", async () => {
    await org.waitForJob((await org.enableExtension(project.id, "citext")).job.id, { timeoutMs: 30_000 });
    const uri = await org.getConnectionUri(project.id);
    execFileSync("psql", [uri, "-XAtc", "create table users(email citext primary key)"]);
    const { job } = await org.disableExtension(project.id, "citext");
    await expect(org.waitForJob(job.id, { timeoutMs: 30_000 })).rejects.toThrow(/depend/);
    const failed = (await org.getJob(job.id)).job;
    expect(failed).toMatchObject({ state: "failed", retry_classification: "permanent", attempts: 1 });
    expect(failed.error).toMatch(/cannot drop extension citext because other objects depend on it/);
    expect((await installed(project.database_name)).map((r) => r.extname)).toContain("citext");
    // once the dependent table is gone, disabling succeeds
    execFileSync("psql", [uri, "-XAtc", "drop table users"]);
    await org.waitForJob((await org.disableExtension(project.id, "citext")).job.id, { timeoutMs: 30_000 });
    expect((await installed(project.database_name)).map((r) => r.extname)).not.toContain("citext");
  });
});
