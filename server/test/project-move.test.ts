// Moving a project made on the shared engine to an instance of its own: the operator's job
// (POST /v1/projects/{id}/move-to-instance, `capydb projects move-to-instance`). The server
// first runs the shared engine, then is restarted on the same control plane with instances.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import { CapyClient, type Project } from "@capydb/api";
import { loadConfig } from "../src/config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { testServerEnv } from "../../test/harness/server.js";
import { databaseExists, psql, roleExists } from "../../test/harness/sql.js";
import { reflinkDir, type ReflinkDir } from "../../test/harness/reflink.js";
import { freePort } from "../../test/harness/ports.js";

let fsDir: ReflinkDir;
let env: Record<string, string>;
let server: RunningServer;
let admin: CapyClient;
let tenant: CapyClient;
let project: Project;
let direct: string;
let pooled: string;
const checksum = "select md5(string_agg(i::text || note, ',' order by i)) from notes";
let sum: string;
/** A preview made on the shared cluster before the move. */
let oldPreview: string;

async function restart(extra: Record<string, string>): Promise<void> {
  await admin?.close();
  await server?.stop();
  server = await startServer(loadConfig({ ...env, ...extra }));
  admin = new CapyClient({ baseUrl: server.url, apiKey: env.CAPYDB_BOOTSTRAP_API_KEY, retries: 0 });
}

beforeAll(async () => {
  fsDir = reflinkDir("project-move");
  const first = await freePort();
  ({ env } = await testServerEnv({
    CAPYDB_INSTANCES_DIR: `${fsDir.dir}/instances`,
    CAPYDB_INSTANCE_PORTS: `${first}-${first + 10}`,
  }));
  await restart({ CAPYDB_DATA_PLANE_ENGINE: "shared" });
  const orgId = (await admin.createOrganization({ name: "Mover" })).organization.id;
  tenant = new CapyClient({ baseUrl: server.url, apiKey: (await admin.createApiKey(orgId, { name: "m" })).secret, retries: 0 });
  const made = await tenant.createProject({ name: "legacy" });
  await tenant.waitForJob(made.job.id, { timeoutMs: 60_000 });
  project = (await tenant.getProject(made.project.id)).project;
  await tenant.waitForJob((await tenant.enableExtension(project.id, "citext")).job.id, { timeoutMs: 60_000 });
  direct = await tenant.getConnectionUri(project.id);
  pooled = await tenant.getConnectionUri(project.id, { pooled: true });
  psql(direct, "create table notes (i int primary key, note citext); insert into notes select g, 'n' || g from generate_series(1, 5000) g");
  sum = psql(direct, checksum);
  const made2 = await tenant.createPreview(project.id, { name: "before-move" });
  await tenant.waitForJob(made2.job.id, { timeoutMs: 60_000 });
  oldPreview = made2.preview.id;
}, 120_000);

afterAll(async () => {
  await tenant?.close();
  await admin?.close();
  const instances = server?.ctx.instances;
  await server?.stop();
  await server?.ctx.pooler.stopAll();
  if (instances) for (const name of instances.host.list().instances) await instances.host.stop(name, "immediate").catch(() => {});
  if (env) fs.rmSync(env.CAPYDB_DATA_DIR, { recursive: true, force: true });
  await fsDir?.cleanup();
});

describe("moving a project to an instance", () => {
  it("is for operators: a tenant gets 403, and a server of the shared engine refuses with 400", async () => {
    await expect(tenant.moveProjectToInstance(project.id)).rejects.toMatchObject({ status: 403 });
    await expect(admin.moveProjectToInstance(project.id)).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/shared engine/) });
  });

  it("a move that fails leaves the project where it was, usable, and no instance behind", async () => {
    await restart({ CAPYDB_DATA_PLANE_ENGINE: "instances", CAPYDB_FAULTS: "project.move.after_copy=permanent" });
    const { job } = await admin.moveProjectToInstance(project.id);
    await expect(admin.waitForJob(job.id, { timeoutMs: 120_000 })).rejects.toThrow(/injected failure/);
    expect(await admin.getConnectionUri(project.id)).toBe(direct);
    expect(psql(direct, checksum)).toBe(sum);
    expect(server.ctx.instances!.host.list().instances).toEqual([]);
    const { rows } = await server.ctx.db.query("select count(*)::int as n from instances where project_id = $1 and state = 'active'", [project.id]);
    expect(rows[0].n).toBe(0);
  });

  it("copies the data to an instance of its own; same role and password, pooled URI unchanged; the shared cluster keeps nothing", async () => {
    await restart({ CAPYDB_DATA_PLANE_ENGINE: "instances" });
    const { job } = await admin.moveProjectToInstance(project.id);
    expect((await admin.waitForJob(job.id, { timeoutMs: 120_000 })).state).toBe("succeeded");
    const moved = (await admin.getProject(project.id)).project;
    const uri = await admin.getConnectionUri(project.id);
    expect(moved.direct_port).not.toBe(project.direct_port);
    expect(new URL(uri).password).toBe(new URL(direct).password);
    expect(psql(uri, checksum)).toBe(sum);
    expect(psql(uri, "select current_user")).toBe(project.role_name);
    expect(psql(uri, "select count(*) from notes where note = 'N1'")).toBe("1"); // citext came along
    expect(await admin.getConnectionUri(project.id, { pooled: true })).toBe(pooled);
    expect(psql(pooled, checksum)).toBe(sum);
    expect(await databaseExists(project.database_name)).toBe(false);
    expect(await roleExists(project.role_name)).toBe(false);
    expect(await roleExists(`${project.role_name}_mv`)).toBe(false);
    // and it is an instance project now: previews are clones
    const { preview, job: pj } = await admin.createPreview(project.id, {});
    await admin.waitForJob(pj.id, { timeoutMs: 60_000 });
    expect(psql(await admin.getPreviewConnectionUri(preview.id), checksum)).toBe(sum);
    await expect(admin.moveProjectToInstance(project.id)).rejects.toMatchObject({ status: 409 });
    // a preview made before the move keeps working, and says why it cannot be reset
    const oldUri = await admin.getPreviewConnectionUri(oldPreview);
    expect(psql(oldUri, checksum)).toBe(sum);
    const reset = await admin.resetPreview(oldPreview);
    await expect(admin.waitForJob(reset.job.id, { timeoutMs: 60_000 })).rejects.toThrow(/made before its project moved/);
    expect(psql(oldUri, checksum)).toBe(sum);
  });
});
