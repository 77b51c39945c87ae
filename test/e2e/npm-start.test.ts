// `npm start` as a new user runs it: the embedded default, from nothing, then again on
// the same data directory. Real processes, real PostgreSQL, real PgBouncer, real psql.
import { afterAll, describe, expect, it } from "vitest";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CapyClient } from "@capydb/api";
import { freePort } from "../harness/ports.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-npm-start-"));
fs.chmodSync(dataDir, 0o755);
let child: ChildProcess | null = null;

async function npmStart(env: Record<string, string>): Promise<{ proc: ChildProcess; output: () => string; url: string }> {
  let out = "";
  const proc = spawn("npm", ["start"], { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  child = proc;
  const url = `http://127.0.0.1:${env.CAPYDB_PORT}`;
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`npm start exited early:\n${out}`);
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) return { proc, output: () => out, url };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`npm start did not serve /healthz within 90 s:\n${out}`);
}

async function interrupt(proc: ChildProcess): Promise<string> {
  // Ctrl-C in a terminal signals the whole foreground process group: npm, tsx and the server.
  // npm itself reports the interrupt as its exit status (130 / SIGINT); the server must exit 0.
  const exited = new Promise<string>((r) => proc.on("exit", (code, signal) => r(String(code ?? signal))));
  process.kill(-proc.pid!, "SIGINT");
  return exited;
}

/** Whether a postgres of this data directory (the embedded cluster or an instance) still runs. pgrep exits 1 for "none"; anything else is its own error. */
function pgRunning(): boolean {
  const r = spawnSync("pgrep", ["-f", "--", `postgres -D ${dataDir}/`], { encoding: "utf8" });
  if (r.status === 0) return true;
  if (r.status === 1) return false;
  throw new Error(`pgrep failed (${r.status ?? r.signal}): ${r.stderr}`);
}

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) await interrupt(child);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("npm start (embedded default)", () => {
  it("starts from nothing, serves a connectable project, stops cleanly, and restarts with nothing lost", async () => {
    const env = {
      CAPYDB_DATA_DIR: dataDir,
      CAPYDB_PORT: String(await freePort()),
      CAPYDB_PG_PORT: String(await freePort()),
      CAPYDB_PGBOUNCER_PORT: String(await freePort()),
    };
    const first = await npmStart(env);
    const keyFile = path.join(dataDir, "bootstrap-api-key");
    const key = fs.readFileSync(keyFile, "utf8").trim();
    expect(key).toMatch(/^capy_live_/);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(first.output()).toContain(key); // printed once, at first start

    const admin = new CapyClient({ baseUrl: first.url, apiKey: key, retries: 0 });
    const orgId = (await admin.createOrganization({ name: "New user" })).organization.id;
    const { job, project } = await admin.createProject({ name: "first", organization_id: orgId });
    await admin.waitForJob(job.id, { timeoutMs: 30_000 });
    const direct = await admin.getConnectionUri(project.id);
    const pooled = await admin.getConnectionUri(project.id, { pooled: true });
    // the default engine: the project is a PostgreSQL instance of its own
    expect(await (await fetch(`${first.url}/healthz`)).json()).toMatchObject({ data_plane: { engine: "instances" } });
    expect(Number(new URL(direct).port)).not.toBe(Number(env.CAPYDB_PG_PORT));
    execFileSync("psql", [direct, "-XAtc", "create table notes(body text); insert into notes values ('kept')"]);
    expect(execFileSync("psql", [pooled, "-XAtc", "select body from notes"], { encoding: "utf8" }).trim()).toBe("kept");
    await admin.close();

    expect(pgRunning()).toBe(true); // the check below can see a running cluster
    expect(["130", "SIGINT", "0"]).toContain(await interrupt(first.proc));
    expect(first.output()).toContain("stopping PostgreSQL");
    expect(first.output()).not.toMatch(/error while stopping/);
    expect(pgRunning()).toBe(false);

    const second = await npmStart(env);
    expect(second.output()).not.toContain(key);
    const again = new CapyClient({ baseUrl: second.url, apiKey: key, retries: 0 });
    expect((await again.getProject(project.id)).project.state).toBe("ready");
    const uri = await again.getConnectionUri(project.id);
    expect(uri).toBe(direct);
    expect(execFileSync("psql", [uri, "-XAtc", "select body from notes"], { encoding: "utf8" }).trim()).toBe("kept");
    expect(execFileSync("psql", [pooled, "-XAtc", "select count(*) from notes"], { encoding: "utf8" }).trim()).toBe("1");
    await again.close();
    expect(["130", "SIGINT", "0"]).toContain(await interrupt(second.proc));
    expect(second.output()).toContain("stopping PostgreSQL");
    expect(pgRunning()).toBe(false);
  }, 240_000);
});
