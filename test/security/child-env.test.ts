// The attacker holds a shell as the `postgres` OS user (COPY ... TO PROGRAM from a
// hijacked superuser session) and reads /proc/<pid>/environ of the postmaster and
// of PgBouncer, which run as that user, hoping for the platform's secret key, the
// bootstrap API key or the S3 credentials. The processes we start must carry none
// of them: every child gets an allow-listed environment. Linux only (/proc).
//
// Also here, on the same throwaway cluster: tenants taking every connection slot
// they can still leave the platform its reserved superuser slots.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort } from "../harness/ports.js";
import { adminUrl } from "../harness/server.js";
import { startLocalCluster, type LocalCluster } from "../../server/src/platform/dataplane/local-cluster.js";
import { findPgBouncer, PgBouncerPooler } from "../../server/src/platform/dataplane/pooler.js";
import { endpointFromUrl, startRestore } from "../../server/src/platform/dataplane/pgtools.js";
import { childEnv } from "../../server/src/platform/dataplane/child-env.js";
import { startToolJobs, type ToolJobs } from "./pg-tool-jobs.js";

const tag = crypto.randomBytes(8).toString("hex");
const SECRETS: Record<string, string> = {
  CAPYDB_SECRET_KEY: `secret-key-${tag}`,
  CAPYDB_BOOTSTRAP_API_KEY: `capy_live_${tag}${tag}${tag}`,
  CAPYDB_S3_SECRET_ACCESS_KEY: `s3-secret-${tag}`,
  AWS_SECRET_ACCESS_KEY: `aws-secret-${tag}`,
  AWS_ACCESS_KEY_ID: `AKIA${tag.toUpperCase()}`,
  CAPYDB_CLERK_PUBLIC_KEY: `clerk-${tag}`,
};
const saved: Record<string, string | undefined> = {};

let root: string;
let cluster: LocalCluster | null = null;
let pooler: PgBouncerPooler | null = null;
let jobs: ToolJobs | null = null;

/** What the attacker reads: a process's environment, as NAME=value lines. */
function environOf(pid: number): string[] {
  return fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
}

function expectNoSecrets(environ: string[], what: string): void {
  expect(environ.length, `${what} has an environment to read`).toBeGreaterThan(0);
  const text = environ.join("\n");
  for (const [name, value] of Object.entries(SECRETS)) {
    expect(text.includes(value), `${what} carries ${name}`).toBe(false);
  }
  expect(
    environ.filter((line) => /^(CAPYDB_|AWS_)/.test(line)).map((line) => line.split("=")[0]),
    `${what} carries platform variables`,
  ).toEqual([]);
}

function pidFromFile(file: string): number {
  const pid = Number(fs.readFileSync(file, "utf8").split("\n")[0].trim());
  expect(pid).toBeGreaterThan(0);
  return pid;
}

beforeAll(async () => {
  // The server's environment, as a real deployment would have it.
  for (const [name, value] of Object.entries(SECRETS)) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  root = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-child-env-"));
  fs.chmodSync(root, 0o755); // the postgres OS user (when we are root) must reach its directories
  cluster = await startLocalCluster({ dir: path.join(root, "pg"), port: await freePort(), settings: { fsync: "off", max_connections: "30" } });
  jobs = await startToolJobs();
});

afterAll(async () => {
  await pooler?.stop();
  await cluster?.stop();
  await jobs?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe("processes we start carry none of our secrets", () => {
  it("the postmaster (and so every backend) started by startLocalCluster", () => {
    const pid = pidFromFile(path.join(cluster!.dir, "postmaster.pid"));
    expectNoSecrets(environOf(pid), "the postmaster");
  });

  it("a shell run from a superuser session, the way the attacker gets one (COPY ... FROM PROGRAM)", async () => {
    // A backend's own /proc environ is overwritten by its process title; the
    // environment it hands to a program is what the attacker reads.
    const c = new pg.Client({ connectionString: cluster!.adminUrl });
    await c.connect();
    try {
      await c.query("CREATE TEMP TABLE seen (line text)");
      await c.query("COPY seen FROM PROGRAM 'env -0 | base64 -w 0'");
      const { rows } = await c.query<{ line: string }>("SELECT line FROM seen");
      const environ = Buffer.from(rows.map((r) => r.line).join(""), "base64")
        .toString("utf8")
        .split("\0")
        .filter(Boolean);
      expectNoSecrets(environ, "a program started by a backend");
    } finally {
      await c.end();
    }
  });

  it("the PgBouncer daemon", async () => {
    const bin = findPgBouncer(null); // installed: the harness's prerequisites check stops the run without it
    const configDir = path.join(root, "pgbouncer");
    pooler = new PgBouncerPooler({
      configDir,
      listenHost: "127.0.0.1",
      listenPort: await freePort(),
      upstreamHost: "127.0.0.1",
      upstreamPort: cluster!.port,
      adminPassword: crypto.randomBytes(16).toString("hex"),
    });
    pooler.writeConfig([], cluster!.osUser);
    await pooler.start(bin!, cluster!.osUser);
    expectNoSecrets(environOf(pidFromFile(path.join(configDir, "pgbouncer.pid"))), "PgBouncer");
  });

  it("a pg_restore of a job, with the password in its environment and not in its arguments", async () => {
    const target = { ...endpointFromUrl(adminUrl("postgres")), database: "postgres" };
    let seen: { environ: string[]; cmdline: string } | null = null;
    const job = await jobs!.run(async (ctx) => {
      // Waits on stdin for an archive: long enough to be read like any daemon.
      const restore = startRestore(ctx, target, inject("pgBinDir"));
      const pid = restore.child.pid!;
      seen = { environ: environOf(pid), cmdline: fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ") };
      restore.stdin.end(); // no archive: pg_restore stops
      await restore.exited;
    });
    expect(job.state).toBe("succeeded");
    expectNoSecrets(seen!.environ, "pg_restore");
    expect(seen!.environ).toContain(`PGPASSWORD=${target.password}`);
    expect(seen!.cmdline).toContain("pg_restore");
    expect(seen!.cmdline.includes(target.password)).toBe(false);
  });

  it("a tool run through a job's runTool", async () => {
    let printed = "";
    const job = await jobs!.run(async (ctx) => {
      printed = (await ctx.runTool("env", [])).stdout;
    });
    expect(job.state).toBe("succeeded");
    expectNoSecrets(printed.split("\n").filter(Boolean), "env run by runTool");
  });

  it("a caller cannot hand a platform variable to a child by a slip", () => {
    expect(() => childEnv({ CAPYDB_SECRET_KEY: "x" })).toThrow(/refusing to pass CAPYDB_SECRET_KEY/);
    expect(() => childEnv({ AWS_SECRET_ACCESS_KEY: "x" })).toThrow(/refusing to pass AWS_SECRET_ACCESS_KEY/);
    expect(Object.keys(childEnv({}, { ...SECRETS, PATH: "/bin", LC_ALL: "C", HOME: "/root", PGPASSWORD: "ours" })).sort()).toEqual(["LC_ALL", "PATH"]);
  });
});

describe("the platform keeps its own connection slots", () => {
  it("tenants holding every slot they can get leave the platform 10 superuser connections", async () => {
    const tenantPassword = crypto.randomBytes(12).toString("hex");
    const admin = new pg.Client({ connectionString: cluster!.adminUrl });
    await admin.connect();
    await admin.query(`CREATE ROLE greedy_tenant LOGIN PASSWORD '${tenantPassword}'`);
    await admin.end();

    const { host, port } = endpointFromUrl(cluster!.adminUrl);
    const tenants: pg.Client[] = [];
    const platform: pg.Client[] = [];
    try {
      let refusal = "";
      for (let i = 0; i < 30 && !refusal; i++) {
        const c = new pg.Client({ host, port, user: "greedy_tenant", password: tenantPassword, database: "postgres" });
        c.on("error", () => {});
        try {
          await c.connect();
          tenants.push(c);
        } catch (err) {
          refusal = (err as Error).message;
        }
      }
      expect(refusal).toMatch(/remaining connection slots are reserved/);
      expect(tenants.length).toBe(30 - 10);
      for (let i = 0; i < 10; i++) {
        const c = new pg.Client({ connectionString: cluster!.adminUrl });
        c.on("error", () => {});
        await c.connect();
        platform.push(c);
      }
      expect(platform.length).toBe(10);
    } finally {
      await Promise.all([...tenants, ...platform].map((c) => c.end().catch(() => {})));
    }
  });
});
