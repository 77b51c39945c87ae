// The packages a user installs outside this repository (issue #20): `npm run pack` builds
// @capydb/api, @capydb/cdktf-constructs and @capydb/server to JavaScript and packs them; the
// tarballs are installed from the npm registry's dependencies into an empty project in the temp
// directory, and used there with plain `node` (no tsx, no TypeScript loader, nothing of this
// checkout on any path): the server started with `capydb start`, a project made through the
// client, the CLI listing it, and a cdktf stack synthesized with the constructs.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packAll, ROOT } from "../../scripts/pack.js";
import { freePort } from "../harness/ports.js";
import { removeServerProcessLeftovers, testServerEnv } from "../harness/server.js";

const run = promisify(execFile);

/** What a process of the user's project gets: a PATH with node and npm, a HOME; nothing of ours. */
function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", LANG: "C.UTF-8", ...extra };
}

async function node(cwd: string, script: string, env: Record<string, string>): Promise<string> {
  const file = path.join(cwd, `script-${Math.random().toString(36).slice(2)}.mjs`);
  fs.writeFileSync(file, script);
  try {
    const { stdout } = await run("node", [file], { cwd, env, maxBuffer: 16 * 1024 * 1024, timeout: 300_000 });
    return stdout;
  } finally {
    fs.rmSync(file, { force: true });
  }
}

describe("the packages installed from their tarballs into an empty project", () => {
  let work: string;
  let project: string;
  let tarballs: Map<string, string>;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-packages-"));
    tarballs = await packAll(path.join(work, "packs"));
    project = path.join(work, "app");
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "user-app", private: true, type: "module" }, null, 2));
    // cdktf and constructs are the constructs' peers (npm installs peers; named here to pin the cdktf line)
    await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...tarballs.values(), "cdktf@^0.21.0", "constructs@^10.0.0"], {
      cwd: project,
      env: userEnv({ npm_config_update_notifier: "false" }),
      maxBuffer: 64 * 1024 * 1024,
      timeout: 600_000,
    });
  }, 1_200_000);

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("are JavaScript with type declarations, manifests pointing at dist/, nothing private", () => {
    expect([...tarballs.keys()].sort()).toEqual(["@capydb/api", "@capydb/cdktf-constructs", "@capydb/server"]);
    for (const name of tarballs.keys()) {
      const dir = path.join(project, "node_modules", name);
      // installed from the tarball, not linked back into this checkout
      expect(fs.realpathSync(dir).startsWith(ROOT)).toBe(false);
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as Record<string, unknown>;
      expect(manifest.private).toBeUndefined();
      const exported = JSON.stringify(manifest.exports);
      // declarations (.d.ts) only: no TypeScript source is exported
      expect(exported).not.toMatch(/(?<!\.d)\.ts"/);
      expect(exported).toMatch(/\.\/dist\/.*\.d\.ts/);
      const files = walk(dir);
      expect(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
      expect(files.some((f) => f.endsWith(".d.ts"))).toBe(true);
    }
    expect(fs.existsSync(path.join(project, "node_modules", "tsx"))).toBe(false);
  });

  it("@capydb/server runs with `capydb start`; the client makes a project in it; the CLI lists it", async () => {
    const base = await testServerEnv();
    const port = await freePort();
    const env = userEnv({ ...base.env, CAPYDB_PORT: String(port), CAPYDB_LOG_LEVEL: "warn" });
    const url = `http://127.0.0.1:${port}`;
    let server: ChildProcess | null = null;
    let log = "";
    try {
      server = spawn(path.join(project, "node_modules/.bin/capydb"), ["start"], { cwd: project, env, stdio: ["ignore", "pipe", "pipe"] });
      server.stdout!.on("data", (d) => (log += d));
      server.stderr!.on("data", (d) => (log += d));
      await waitHealthy(url, server, () => log);

      const flow = await node(
        project,
        `import { CapyClient } from "@capydb/api";
         const admin = new CapyClient({ baseUrl: ${JSON.stringify(url)}, apiKey: process.env.KEY });
         const { organization } = await admin.createOrganization({ name: "installed" });
         const { job, project } = await admin.createProject({ name: "from-the-tarball", organization_id: organization.id });
         await admin.waitForJob(job.id, { timeoutMs: 120000 });
         const uri = await admin.getConnectionUri(project.id);
         process.stdout.write(JSON.stringify({ organization: organization.id, project: (await admin.getProject(project.id)).project, uri }));
         await admin.close();`,
        userEnv({ KEY: base.adminKey }),
      );
      const made = JSON.parse(flow) as { organization: string; project: { id: string; state: string; role_name: string }; uri: string };
      expect(made.project.state).toBe("ready");
      // the database is real: its owner role logs in with the URI the client got
      const c = new pg.Client({ connectionString: made.uri });
      await c.connect();
      try {
        expect((await c.query("select current_user")).rows[0].current_user).toBe(made.project.role_name);
      } finally {
        await c.end();
      }

      const { stdout } = await run(path.join(project, "node_modules/.bin/capydb"), ["orgs", "list", "--json"], {
        cwd: project,
        env: userEnv({ CAPYDB_API_URL: url, CAPYDB_API_KEY: base.adminKey }),
      });
      expect(stdout).toContain(made.organization);
    } finally {
      if (server && server.exitCode === null) {
        const exited = new Promise((r) => server!.once("exit", r));
        server.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
        if (server.exitCode === null) server.kill("SIGKILL");
      }
      await removeServerProcessLeftovers(base.dataDir);
    }
  }, 300_000);

  it("@capydb/cdktf-constructs synthesizes a stack with plain node", async () => {
    const out = path.join(work, "cdktf.out");
    await node(
      project,
      `import { App, TerraformOutput, TerraformStack } from "cdktf";
       import { CapyProject, CapyProvider } from "@capydb/cdktf-constructs";
       const app = new App({ outdir: ${JSON.stringify(out)} });
       const stack = new TerraformStack(app, "shop");
       new CapyProvider(stack, "capydb");
       const db = new CapyProject(stack, "db", { name: "shop", extensions: ["pgcrypto"], backupSchedule: { hour: 3, minute: 30, retentionDays: 14 } });
       new TerraformOutput(stack, "pooled", { value: db.pooledConnectionUri, sensitive: true });
       app.synth();`,
      userEnv(),
    );
    const synth = JSON.parse(fs.readFileSync(path.join(out, "stacks/shop/cdk.tf.json"), "utf8")) as {
      resource: Record<string, Record<string, Record<string, unknown>>>;
      terraform: { required_providers: Record<string, { source: string }> };
      output: Record<string, { value: string; sensitive: boolean }>;
    };
    expect(synth.terraform.required_providers.capydb.source).toBe("capydb/capydb");
    expect(Object.values(synth.resource.capydb_project)).toEqual([expect.objectContaining({ name: "shop" })]);
    expect(Object.values(synth.resource.capydb_extension)).toEqual([expect.objectContaining({ name: "pgcrypto" })]);
    expect(Object.values(synth.resource.capydb_scheduled_backup)).toEqual([expect.objectContaining({ cron_hour: 3, cron_minute: 30, retention_days: 14 })]);
    expect(synth.output.pooled).toMatchObject({ value: expect.stringMatching(/pooled_connection_uri/), sensitive: true });
  }, 120_000);
});

function walk(dir: string, base = dir): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    if (d.name === "node_modules") return [];
    const at = path.join(dir, d.name);
    return d.isDirectory() ? walk(at, base) : [path.relative(base, at)];
  });
}

async function waitHealthy(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`capydb start exited with ${child.exitCode}:\n${log()}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // starting
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`capydb start did not answer /healthz within 120 s:\n${log()}`);
}
