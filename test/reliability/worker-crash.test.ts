// Worker crash: the server process is SIGKILLed while a preview is being copied, a
// backup written and an import restored. After a restart each job is reclaimed once
// its lease runs out, ends succeeded exactly once, and nothing is left behind.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { inject } from "vitest";
import { CapyClient, type Job } from "@capydb/api";
import { adminQuery, removeServerProcessLeftovers, testServerEnv } from "../harness/server.js";
import { freePort } from "../harness/ports.js";

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
let env: Record<string, string>;
let server: ChildProcess | null = null;
let log = "";

async function startServerProcess(): Promise<CapyClient> {
  server = spawn(process.execPath, ["--import", "tsx", path.join(root, "server/src/main.ts")], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout!.on("data", (d) => (log += d));
  server.stderr!.on("data", (d) => (log += d));
  const url = `http://127.0.0.1:${env.CAPYDB_PORT}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return new CapyClient({ baseUrl: url, apiKey: env.CAPYDB_BOOTSTRAP_API_KEY, retries: 2 });
    } catch {
      // starting
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not start:\n${log}`);
}

beforeAll(async () => {
  const base = await testServerEnv();
  env = { ...base.env, CAPYDB_PORT: String(await freePort()), CAPYDB_JOB_LEASE_SECONDS: "3", CAPYDB_SCHEDULER_INTERVAL_MS: "500", CAPYDB_LOG_LEVEL: "warn" };
});
afterAll(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((r) => server!.once("exit", r));
    server.kill("SIGKILL");
    await exited;
  }
  if (env) await removeServerProcessLeftovers(env.CAPYDB_DATA_DIR);
});

describe("worker crash", () => {
  it("jobs interrupted by SIGKILL are reclaimed after their lease, succeed exactly once, and leave nothing behind", async () => {
    let api = await startServerProcess();
    const orgId = (await api.createOrganization({ name: "Crash" })).organization.id;
    const made = await Promise.all([api.createProject({ name: "src", organization_id: orgId }), api.createProject({ name: "dst", organization_id: orgId })]);
    for (const m of made) await api.waitForJob(m.job.id, { timeoutMs: 30_000 });
    const [src, dst] = made.map((m) => m.project);
    const srcUri = await api.getConnectionUri(src.id);
    // enough data that the copies take a moment
    await run(path.join(inject("pgBinDir"), "pgbench"), ["-i", "-s", "4", "-q", srcUri]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-crash-"));
    const dump = path.join(dir, "src.dump");
    await run("pg_dump", ["--format=custom", `--file=${dump}`, srcUri]);
    const { upload } = await api.createUpload(dst.id);
    expect((await fetch(upload.upload_url, { method: "PUT", body: fs.readFileSync(dump) })).status).toBe(201);

    const jobs = [
      (await api.createPreview(src.id, { name: "crash", fresh: true })).job,
      (await api.createBackup(src.id, { label: "crash" })).job,
      (await api.createImport(dst.id, { object_key: upload.object_key })).job,
    ];
    // kill once all three are running and a copy tool is at work
    let states: Job[] = [];
    for (let i = 0; i < 300; i++) {
      states = await Promise.all(jobs.map(async (j) => (await api.getJob(j.id)).job));
      const tools = await run("pgrep", ["-f", "pg_dump|pg_restore"]).then(
        (r) => r.stdout.trim().length > 0,
        () => false,
      );
      if (states.filter((s) => s.state === "running").length >= 2 && tools) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(states.some((s) => s.state === "running")).toBe(true);
    server!.kill("SIGKILL");
    await new Promise((r) => server!.once("exit", r));
    await api.close();

    api = await startServerProcess();
    const finished = await Promise.all(jobs.map((j) => api.waitForJob(j.id, { timeoutMs: 180_000 })));
    for (const f of finished) expect(f.state).toBe("succeeded");
    // the interrupted ones ran again after the lease: two attempts, one completion
    expect(finished.filter((f) => f.attempts >= 2).length).toBeGreaterThanOrEqual(1);
    const backups = (await api.listBackups(src.id)).backups.filter((b) => b.label === "crash");
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatchObject({ state: "completed", verification_state: "verified" });
    const previews = (await api.listPreviews(src.id)).preview_databases;
    expect(previews.map((p) => [p.name, p.state])).toEqual([["crash", "ready"]]);
    const pv = await api.getPreviewConnectionUri(previews[0].id);
    const count = async (u: string) => (await run("psql", [u, "-XAtc", "select count(*) from pgbench_accounts"])).stdout.trim();
    expect(await count(pv)).toBe("400000");
    expect(await count(await api.getConnectionUri(dst.id))).toBe("400000");

    // no leftovers: after a few reconciler passes only the expected databases remain
    const expected = [src.database_name, dst.database_name, previews[0].database_name];
    // (besides the project's snapshot, and at most one spare clone of it made for the next preview)
    let ours: string[] = [];
    let spares: string[] = [];
    for (let i = 0; i < 60; i++) {
      const { rows } = await adminQuery("postgres", "select datname from pg_database where datname like $1 or datname like $2 order by 1", [
        `${src.database_name}%`,
        `${dst.database_name}%`,
      ]);
      ours = rows.map((r) => r.datname).filter((d: string) => !/_(snap|spare)\d+$/.test(d));
      spares = rows.map((r) => r.datname).filter((d: string) => /_spare\d+$/.test(d));
      if (ours.sort().join() === [...expected].sort().join() && spares.length <= 1) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(ours.sort()).toEqual([...expected].sort());
    expect(spares.length).toBeLessThanOrEqual(1);
    expect(log).not.toContain(new URL(srcUri).password);
    fs.rmSync(dir, { recursive: true, force: true });
    server!.kill("SIGTERM");
    await new Promise((r) => server!.once("exit", r));
    await api.close();
  }, 300_000);
});
