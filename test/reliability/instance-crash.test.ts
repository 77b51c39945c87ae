// Crash drills on the instance engine: the server process is SIGKILLed (CAPYDB_FAULTS
// point=kill) at each step that changes files — in the middle of a snapshot (production in
// backup mode), after a preview's clone, after a reset's relink, after a cutover's swap, after a
// restore's build and after its swap. After
// a restart each job is reclaimed once its lease runs out and succeeds; nothing is half made
// (no copy left in tmp/, no instance directory without its row) and nothing ran twice.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { inject } from "vitest";
import pg from "pg";
import type { CapyClient, Project } from "@capydb/api";
import { instanceDrill, type InstanceDrill, type ServerProcess } from "../harness/server-process.js";

const run = promisify(execFile);
let env: Record<string, string>;
let server: ServerProcess;
const start = (faults = "") => server.start(faults);
const died = () => server.died();
const stop = (api: CapyClient) => server.stop(api);

const psql = async (uri: string, sql: string) => (await run("psql", [uri, "-XAtc", sql])).stdout.trim();

/** The job ran to success, once: its attempts include the one the crash cut short. */
async function succeededOnce(api: CapyClient, jobId: string): Promise<void> {
  const job = await api.waitForJob(jobId, { timeoutMs: 120_000 });
  expect(job.state).toBe("succeeded");
  expect(job.attempts).toBeGreaterThanOrEqual(2);
}

/** Nothing half made: no copy in progress left, every instance directory has its active row and the reverse. */
async function nothingHalfMade(): Promise<void> {
  const dir = env.CAPYDB_INSTANCES_DIR;
  expect(fs.readdirSync(path.join(dir, "tmp"))).toEqual([]);
  const db = new pg.Client({ connectionString: env.CAPYDB_DATABASE_URL });
  await db.connect();
  const active = (await db.query<{ name: string }>("select name from instances where state = 'active' order by name")).rows.map((r) => r.name);
  await db.end();
  const onDisk = fs
    .readdirSync(path.join(dir, "data"))
    .filter((n) => n.startsWith("i_"))
    .sort();
  expect(onDisk).toEqual(active);
  // every data directory in dirs/ is linked from an instance or a snapshot
  const linked = new Set(["data", "snapshots"].flatMap((sub) => fs.readdirSync(path.join(dir, sub)).map((n) => fs.realpathSync(path.join(dir, sub, n)))));
  for (const d of fs.readdirSync(path.join(dir, "dirs"))) expect(linked.has(path.join(dir, "dirs", d))).toBe(true);
}

let drill: InstanceDrill;

beforeAll(async () => {
  drill = await instanceDrill("instance-crash");
  ({ env, server } = drill);
}, 60_000);

afterAll(async () => {
  await drill?.cleanup();
});

describe("crashes on the instance engine", () => {
  it("SIGKILL mid-snapshot, after a clone, after a reset's relink, a cutover's swap, a restore's build and swap: each job finishes once, nothing half made", async () => {
    let api = await start();
    const orgId = (await api.createOrganization({ name: "Crash" })).organization.id;
    const made = await api.createProject({ name: "src", organization_id: orgId });
    await api.waitForJob(made.job.id, { timeoutMs: 60_000 });
    const project: Project = made.project;
    const prod = await api.getConnectionUri(project.id);
    await run(path.join(inject("pgBinDir"), "pgbench"), ["-i", "-s", "2", "-q", prod]);
    const accounts = "select md5(string_agg(aid || ':' || abalance, ',' order by aid)) from pgbench_accounts";
    const sum = await psql(prod, accounts);
    await stop(api);

    // 1. killed while production is in backup mode and its files are copied
    api = await start("instance.snapshot.copied=kill");
    const first = await api.createPreview(project.id, { name: "first" });
    await died();
    await api.close();
    api = await start();
    await succeededOnce(api, first.job.id);
    const firstUri = await api.getPreviewConnectionUri(first.preview.id);
    expect(await psql(firstUri, accounts)).toBe(sum);
    // production left backup mode when the killed server's session ended: another snapshot works
    await psql(prod, "update pgbench_accounts set abalance = 1 where aid = 1");
    const sumAfter = await psql(prod, accounts);
    await stop(api);

    // 2. killed after a preview's clone started, before it took its own names
    api = await start("preview.instance.cloned=kill");
    const second = await api.createPreview(project.id, { name: "second", fresh: true });
    await died();
    await api.close();
    api = await start();
    await succeededOnce(api, second.job.id);
    const secondUri = await api.getPreviewConnectionUri(second.preview.id);
    expect(await psql(secondUri, accounts)).toBe(sumAfter);
    expect(await psql(secondUri, "select current_user")).toBe(second.preview.role_name);
    await stop(api);

    // 3. killed after a reset relinked the new data, before the identity was taken
    api = await start("preview.instance.relinked=kill");
    await psql(firstUri, "create table scratch (x int)");
    const reset = await api.resetPreview(first.preview.id, { fresh: true });
    await died();
    await api.close();
    api = await start();
    await succeededOnce(api, reset.job.id);
    expect(await api.getPreviewConnectionUri(first.preview.id)).toBe(firstUri);
    expect(await psql(firstUri, "select to_regclass('scratch') is null")).toBe("t");
    expect(await psql(firstUri, accounts)).toBe(sumAfter);
    await stop(api);

    // 4. killed after a cutover swapped the data directories, before it recorded anything
    api = await start("cutover.instance.swapped=kill");
    await psql(secondUri, "create table shipped (x int)");
    const { cutover_request: req } = await api.createCutoverRequest(project.id, { preview_id: second.preview.id });
    await api.acknowledgeCutoverRequest(req.id, {});
    const executing = (await api.executeCutoverRequest(req.id)).cutover_request;
    await died();
    await api.close();
    api = await start();
    await succeededOnce(api, executing.promote_job_id!);
    expect((await api.getCutoverRequest(req.id)).cutover_request.status).toBe("completed");
    expect(await psql(prod, "select to_regclass('shipped') is not null")).toBe("t");
    expect(await psql(prod, "select current_user")).toBe(project.role_name);

    // 5, 6. a restore killed once its build instance is filled (the retry builds again from
    // nothing), and again right after the data directories were swapped (the retry sees it)
    const backup = await api.createBackup(project.id, { label: "for the restores" });
    const taken = await api.waitForJob(backup.job.id, { timeoutMs: 120_000 });
    const backupId = (await api.listBackups(project.id)).backups.find((b) => b.label === "for the restores")!.id;
    expect(taken.state).toBe("succeeded");
    const restored = await psql(prod, accounts);
    await stop(api);
    for (const point of ["rebuild.built", "rebuild.swapped"]) {
      api = await start(`${point}=kill`);
      await psql(prod, "update pgbench_accounts set abalance = abalance + 1 where aid < 100");
      expect(await psql(prod, accounts)).not.toBe(restored);
      const restore = await api.restoreBackup(backupId);
      await died();
      await api.close();
      api = await start();
      await succeededOnce(api, restore.job.id);
      expect(await psql(prod, accounts)).toBe(restored);
      expect(await psql(prod, "select to_regclass('shipped') is not null")).toBe("t");
      await stop(api);
    }
    api = await start();

    // a few reconciler passes later nothing is left over
    await new Promise((r) => setTimeout(r, 1500));
    await nothingHalfMade();
    await stop(api);
  }, 600_000);
});
