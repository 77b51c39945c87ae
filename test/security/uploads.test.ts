// Upload URLs, as a tenant holding one would abuse them: PUT to it again to swap the
// dump an import is about to read (or after the import, to park data in our blob
// store for free), race several PUTs, and leave dumps behind (failed imports,
// uploads never imported) for the platform to store forever.
import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CapyClient, Project } from "@capydb/api";
import { adminQuery, adminUrl, startTestServer, type TestServer } from "../harness/server.js";
import { organization } from "../harness/tenants.js";
import { removeExpiredUploads } from "../../server/src/imports/uploads.js";

const suffix = crypto.randomBytes(4).toString("hex");
const sourceDbs: string[] = [];
let dir: string;
let t: TestServer;
let org: CapyClient;
/** A server whose upload URLs live 2 s (and whose scheduler, which sweeps them, runs twice a second). */
let brief: TestServer;
let briefOrg: CapyClient;

/** A custom-format dump of a new database holding `marker` = said. */
async function dumpWith(said: string, extraSql = ""): Promise<Buffer> {
  const db = `capy_up_${suffix}_${sourceDbs.length}`;
  await adminQuery("postgres", `CREATE DATABASE ${db}`);
  sourceDbs.push(db);
  await adminQuery(db, `CREATE TABLE marker (said text); INSERT INTO marker VALUES ('${said}'); ${extraSql}`);
  const file = path.join(dir, `${db}.dump`);
  execFileSync("pg_dump", ["--format=custom", `--file=${file}`, adminUrl(db)]);
  return fs.readFileSync(file);
}

const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

async function storedHash(server: TestServer, key: string): Promise<string | null> {
  if (!(await server.server.ctx.blobs.stat(key))) return null;
  const hash = crypto.createHash("sha256");
  for await (const chunk of await server.server.ctx.blobs.get(key)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

const put = async (url: string, body: Buffer) => {
  const res = await fetch(url, { method: "PUT", body: new Uint8Array(body), headers: { "content-type": "application/octet-stream" } });
  return { status: res.status, body: await res.text() };
};

async function newProject(client: CapyClient, name: string): Promise<Project> {
  const { job, project } = await client.createProject({ name });
  await client.waitForJob(job.id, { timeoutMs: 30_000 });
  return (await client.getProject(project.id)).project;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The upload's row in the control plane, if any. */
async function uploadRow(server: TestServer, key: string): Promise<{ state: string } | undefined> {
  return (await server.server.ctx.db.query<{ state: string }>("SELECT state FROM uploads WHERE object_key = $1", [key])).rows[0];
}

let dumpA: Buffer;
let dumpB: Buffer;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-uploads-"));
  dumpA = await dumpWith("A");
  dumpB = await dumpWith("B");
  t = await startTestServer();
  brief = await startTestServer({ CAPYDB_UPLOAD_URL_TTL_SECONDS: "2", CAPYDB_SCHEDULER_INTERVAL_MS: "500" });
  for (const [server, set] of [
    [t, (c: CapyClient) => (org = c)],
    [brief, (c: CapyClient) => (briefOrg = c)],
  ] as const) {
    set((await organization(server, "Uploaders", "u")).client);
  }
}, 120_000);

afterAll(async () => {
  await org?.close();
  await briefOrg?.close();
  await t?.stop();
  await brief?.stop();
  for (const db of sourceDbs) await adminQuery("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("an upload URL takes one dump", () => {
  it("a second PUT answers 409 and the stored dump is still the first", async () => {
    const project = await newProject(org, "twice");
    const { upload } = await org.createUpload(project.id);
    expect((await put(upload.upload_url, dumpA)).status).toBe(201);
    const again = await put(upload.upload_url, dumpB);
    expect(again.status).toBe(409);
    expect(JSON.parse(again.body).error).toMatch(/already used/);
    expect(await storedHash(t, upload.object_key)).toBe(sha(dumpA));
    // and the import reads the first dump
    await org.waitForJob((await org.createImport(project.id, { object_key: upload.object_key })).job.id, { timeoutMs: 60_000 });
    const tenant = new pg.Client({ connectionString: await org.getConnectionUri(project.id) });
    await tenant.connect();
    const said = await tenant.query("SELECT said FROM marker").finally(() => tenant.end());
    expect(said.rows).toEqual([{ said: "A" }]);
  });

  it("after the import took the dump (and removed it), the URL does not store another", async () => {
    const project = await newProject(org, "after");
    const { upload } = await org.createUpload(project.id);
    expect((await put(upload.upload_url, dumpA)).status).toBe(201);
    await org.waitForJob((await org.createImport(project.id, { object_key: upload.object_key })).job.id, { timeoutMs: 60_000 });
    expect(await storedHash(t, upload.object_key)).toBeNull();
    expect((await put(upload.upload_url, dumpB)).status).toBe(409);
    expect(await storedHash(t, upload.object_key)).toBeNull();
    // nor is the key importable a second time
    await expect(org.createImport(project.id, { object_key: upload.object_key, replace: true })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/^object_key: .*already imported/),
    });
  });

  it("of concurrent PUTs exactly one wins, the others answer 409, and the stored dump is the winner's", async () => {
    const project = await newProject(org, "race");
    const { upload } = await org.createUpload(project.id);
    // Different dumps, padded so each takes a moment to stream.
    const bodies = await Promise.all([0, 1, 2, 3, 4].map(async (i) => Buffer.concat([i % 2 ? dumpB : dumpA, crypto.randomBytes(2_000_000)])));
    const results = await Promise.all(bodies.map((b) => put(upload.upload_url, b)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(4);
    const winner = bodies[statuses.indexOf(201)];
    expect(await storedHash(t, upload.object_key)).toBe(sha(winner));
  });

  it("a PUT refused for its content (plain SQL) leaves the URL usable for the real dump", async () => {
    const project = await newProject(org, "retry");
    const { upload } = await org.createUpload(project.id);
    expect((await put(upload.upload_url, Buffer.from("CREATE TABLE x(i int);\n".repeat(40)))).status).toBe(400);
    expect((await put(upload.upload_url, dumpA)).status).toBe(201);
    expect((await put(upload.upload_url, dumpA)).status).toBe(409);
  });
});

describe("uploads do not stay in the blob store", () => {
  it("the dump of an import that failed for good is removed", async () => {
    const bad = await dumpWith("bad", "CREATE FUNCTION evil() RETURNS int LANGUAGE internal AS 'int4in';");
    const project = await newProject(org, "failing");
    const { upload } = await org.createUpload(project.id);
    expect((await put(upload.upload_url, bad)).status).toBe(201);
    const { job } = await org.createImport(project.id, { object_key: upload.object_key });
    await expect(org.waitForJob(job.id, { timeoutMs: 60_000 })).rejects.toThrow(/permission denied for language internal/);
    expect(await storedHash(t, upload.object_key)).toBeNull();
  });

  it("an upload never imported is removed once its URL expired (and can no longer be imported)", async () => {
    const project = await newProject(briefOrg, "forgotten");
    const { upload } = await briefOrg.createUpload(project.id);
    expect((await put(upload.upload_url, dumpA)).status).toBe(201);
    expect(await storedHash(brief, upload.object_key)).toBe(sha(dumpA));
    await until("the expired upload is removed", async () => (await storedHash(brief, upload.object_key)) === null);
    expect(Date.now()).toBeGreaterThan(Date.parse(upload.expires_at));
    await expect(briefOrg.createImport(project.id, { object_key: upload.object_key })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/^object_key: this upload has expired/),
    });
    expect((await put(upload.upload_url, dumpA)).status).toBe(403);
  });

  it("an upload still streaming when its URL's time ran out is not kept", async () => {
    const project = await newProject(briefOrg, "slow");
    const { upload } = await briefOrg.createUpload(project.id);
    let push!: (chunk: Uint8Array | null) => void;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (chunk) => (chunk ? controller.enqueue(chunk) : controller.close());
      },
    });
    const response = fetch(upload.upload_url, { method: "PUT", body, duplex: "half", headers: { "content-type": "application/octet-stream" } } as RequestInit);
    response.catch(() => {}); // awaited below; a failure before then must not go unhandled
    push(dumpA.subarray(0, 1024)); // a valid archive header: the upload is under way
    // the URL expires at expires_at, and an unused upload is removed one URL lifetime later
    await until("the sweep removed the upload", async () => (await uploadRow(brief, upload.object_key)) === undefined);
    push(dumpA.subarray(1024));
    push(null);
    const res = await response;
    expect(res.status).toBe(403);
    expect((await res.json()).error).toMatch(/expired while the dump was being uploaded/);
    expect(await storedHash(brief, upload.object_key)).toBeNull();
  });
});

describe("an upload is a record of its own, not a job", () => {
  it("asking for a URL and using it queues no job: the platform admins' jobs hold only real work", async () => {
    const project = await newProject(org, "nojob");
    const { upload } = await org.createUpload(project.id);
    expect((await put(upload.upload_url, dumpA)).status).toBe(201);
    const { rows } = await t.server.ctx.db.query("SELECT id, type FROM jobs WHERE payload::text LIKE '%' || $1 || '%'", [upload.object_key]);
    expect(rows).toEqual([]);
    // (the old record was a pending job whose id was the key's random part)
    const random = /([0-9a-f]{32})\.dump$/.exec(upload.object_key)![1];
    await expect(t.admin.getJob(`job_${random}`)).rejects.toMatchObject({ status: 404 });
    expect(await uploadRow(t, upload.object_key)).toEqual({ state: "stored" });
  });

  it("deleting the project removes its dumps at once, and its unused URLs take nothing more", async () => {
    const project = await newProject(org, "deleted");
    const stored = (await org.createUpload(project.id)).upload;
    const unused = (await org.createUpload(project.id)).upload;
    expect((await put(stored.upload_url, dumpA)).status).toBe(201);
    await org.waitForJob((await org.deleteProject(project.id)).job.id, { timeoutMs: 60_000 });
    // the URLs live an hour on this server: nothing waits for that
    expect(await storedHash(t, stored.object_key)).toBeNull();
    expect(await uploadRow(t, stored.object_key)).toBeUndefined();
    expect(await uploadRow(t, unused.object_key)).toBeUndefined();
    expect((await put(unused.upload_url, dumpB)).status).toBe(403);
    expect(await storedHash(t, unused.object_key)).toBeNull();
    await expect(org.createUpload(project.id)).rejects.toMatchObject({ status: 409 });
  });
});

describe("the sweep of expired uploads", () => {
  /** A server with no scheduler of its own: the test runs the sweep's passes itself. */
  let quiet: TestServer;
  let quietOrg: CapyClient;
  beforeAll(async () => {
    quiet = await startTestServer({ CAPYDB_RUN_SCHEDULER: "false" });
    quietOrg = (await organization(quiet, "Swept", "s")).client;
  }, 60_000);
  afterAll(async () => {
    await quietOrg?.close();
    await quiet?.stop();
  });

  it("works a batch at a time, finishes what a dead pass took, leaves an import its dump, and two passes at once do no harm", async () => {
    const ctx = quiet.server.ctx;
    const db = ctx.db;
    const project = await newProject(quietOrg, "swept");
    const stored: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { upload } = await quietOrg.createUpload(project.id);
      expect((await put(upload.upload_url, dumpA)).status).toBe(201);
      stored.push(upload.object_key);
    }
    // a pass that died after taking this one (before removing its dump)
    await db.query("UPDATE uploads SET state = 'expired' WHERE object_key = $1", [stored[0]]);
    // taken by an import a worker is still running
    const held = (await quietOrg.createUpload(project.id)).upload;
    expect((await put(held.upload_url, dumpB)).status).toBe(201);
    const importJob = `job_held${suffix}`;
    await db.query("INSERT INTO jobs (id, type, state, lease_expires_at) VALUES ($1, 'import.run', 'running', now() + interval '1 hour')", [importJob]);
    await db.query("UPDATE uploads SET state = 'imported', import_job_id = $2 WHERE object_key = $1", [held.object_key, importJob]);
    // and 150 URLs never used
    await db.query(
      `INSERT INTO uploads (object_key, project_id, organization_id, state, expires_at, remove_after)
       SELECT 'uploads/' || $1 || '/' || md5(g::text) || '.dump', $1, $2, 'open', now() + interval '1 hour', now() + interval '2 hours'
       FROM generate_series(1, 150) g`,
      [project.id, project.organization_id],
    );
    const count = async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM uploads WHERE project_id = $1", [project.id])).rows[0].n;
    expect(await count()).toBe(154);
    // nothing is due yet
    expect(await removeExpiredUploads(ctx)).toBe(0);
    await db.query("UPDATE uploads SET expires_at = now() - interval '2 hours', remove_after = now() - interval '1 hour' WHERE project_id = $1", [project.id]);

    expect(await removeExpiredUploads(ctx)).toBe(100);
    expect(await count()).toBe(54);
    const both = await Promise.all([removeExpiredUploads(ctx), removeExpiredUploads(ctx)]);
    expect(both.every((n) => n <= 100)).toBe(true);
    expect(await removeExpiredUploads(ctx)).toBe(0);
    for (const key of stored) expect(await storedHash(quiet, key)).toBeNull();
    expect((await db.query("SELECT object_key, state FROM uploads WHERE project_id = $1", [project.id])).rows).toEqual([
      { object_key: held.object_key, state: "imported" },
    ]);
    expect(await storedHash(quiet, held.object_key)).toBe(sha(dumpB));

    // the import ended without removing the dump (its cleanup failed): the sweep does it
    await db.query("UPDATE jobs SET state = 'failed', lease_expires_at = NULL WHERE id = $1", [importJob]);
    expect(await removeExpiredUploads(ctx)).toBe(1);
    expect(await storedHash(quiet, held.object_key)).toBeNull();
    expect(await count()).toBe(0);
  });
});
