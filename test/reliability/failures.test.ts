// Blob store failures and concurrency on one project, with nothing lost.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import type { CapyClient, Project } from "@capydb/api";
import { startTestServer, type TestServer } from "../harness/server.js";
import { organization } from "../harness/tenants.js";
import { startS3 } from "../harness/s3.js";

let t: TestServer;
let org: CapyClient;

async function newProject(client: CapyClient, name: string): Promise<Project> {
  const { job, project } = await client.createProject({ name });
  await client.waitForJob(job.id, { timeoutMs: 30_000 });
  return (await client.getProject(project.id)).project;
}

beforeAll(async () => {
  t = await startTestServer({ CAPYDB_PREVIEW_LIMIT: "60", CAPYDB_WORKER_CONCURRENCY: "6", CAPYDB_JOB_MAX_ATTEMPTS: "2" });
  org = (await organization(t, "Failures", "f")).client;
});
afterAll(async () => {
  await org?.close();
  await t?.stop();
});

describe("blob store failure", () => {
  it("filesystem store unwritable: the backup fails with a clear error, is not listed as usable, and the last good backup stays", async () => {
    const project = await newProject(org, "blobfail");
    const good = await org.createBackup(project.id, { label: "good" });
    await org.waitForJob(good.job.id, { timeoutMs: 60_000 });
    // the store's directory becomes a file: every write fails
    const blobs = path.join(t.dataDir, "blobs");
    fs.renameSync(blobs, blobs + ".away");
    fs.writeFileSync(blobs, "not a directory");
    const bad = await org.createBackup(project.id, { label: "bad" });
    await expect(org.waitForJob(bad.job.id, { timeoutMs: 60_000 })).rejects.toThrow(/blob store/);
    fs.rmSync(blobs);
    fs.renameSync(blobs + ".away", blobs);
    const list = (await org.listBackups(project.id)).backups;
    expect(list.find((b) => b.label === "bad")).toMatchObject({ state: "failed", backup_key: null });
    expect(list.find((b) => b.label === "good")).toMatchObject({ state: "completed", verification_state: "verified" });
  });

  it("S3 server down: the backup fails with a clear error and no half-written object", async () => {
    const s3 = await startS3();
    const s = await startTestServer({ ...s3.env, CAPYDB_JOB_MAX_ATTEMPTS: "2" });
    try {
      const c = (await organization(s, "S3", "s")).client;
      const project = await newProject(c, "s3down");
      await s3.stop();
      const { job } = await c.createBackup(project.id, {});
      await expect(c.waitForJob(job.id, { timeoutMs: 60_000 })).rejects.toThrow(/s3|S3|ECONNREFUSED|blob/);
      const failed = (await c.listBackups(project.id)).backups[0];
      expect(failed).toMatchObject({ state: "failed", backup_key: null });
      const row = await s.server.ctx.db.query("select error from jobs where id = $1", [job.id]);
      expect(row.rows[0].error).not.toContain(s3.env.CAPYDB_S3_SECRET_ACCESS_KEY);
      await c.close();
    } finally {
      await s.stop();
    }
  });
});

describe("concurrency", () => {
  it("50 concurrent preview creates on one project all succeed with distinct databases", async () => {
    const project = await newProject(org, "many");
    const uri = await org.getConnectionUri(project.id);
    execFileSync("psql", [uri, "-XAtc", "create table t(x int); insert into t select generate_series(1, 1000)"]);
    const made = await Promise.all(Array.from({ length: 50 }, (_, i) => org.createPreview(project.id, { name: `p${i}` })));
    const done = await Promise.all(made.map((m) => org.waitForJob(m.job.id, { timeoutMs: 300_000 })));
    expect(done.every((j) => j.state === "succeeded")).toBe(true);
    const live = (await org.listPreviews(project.id)).preview_databases;
    expect(new Set(live.map((p) => p.database_name)).size).toBe(50);
    await Promise.all(live.map(async (p) => org.waitForJob((await org.deletePreview(p.id)).job.id, { timeoutMs: 300_000 })));
  }, 600_000);

  it("20 concurrent resets of one preview run one at a time and all succeed; a delete racing a reset wins cleanly", async () => {
    const project = await newProject(org, "resets");
    const { job, preview } = await org.createPreview(project.id, { name: "target" });
    await org.waitForJob(job.id, { timeoutMs: 60_000 });
    const resets = await Promise.all(Array.from({ length: 20 }, () => org.resetPreview(preview.id)));
    const done = await Promise.all(resets.map((r) => org.waitForJob(r.job.id, { timeoutMs: 300_000 })));
    expect(done.every((j) => j.state === "succeeded")).toBe(true);
    const spans = done.map((j) => [Date.parse(j.started_at!), Date.parse(j.completed_at!)]).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);

    const [reset, del] = await Promise.allSettled([org.resetPreview(preview.id), org.deletePreview(preview.id)]);
    expect(del.status).toBe("fulfilled");
    if (reset.status === "rejected") expect(reset.reason).toMatchObject({ status: 409 });
    else await org.waitForJob(reset.value.job.id, { timeoutMs: 60_000 }).catch((e) => expect(String(e)).toMatch(/preview is deleting|deleted/));
    if (del.status === "fulfilled") await org.waitForJob(del.value.job.id, { timeoutMs: 60_000 });
    expect((await org.getPreview(preview.id)).preview.state).toBe("deleted");
  }, 600_000);
});
