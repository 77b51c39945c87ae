// Import-source smuggling, as a tenant would try it. The operator allows imports
// from 127.0.0.0/8 (a source cluster on this machine), but never from the platform's
// own cluster (here the harness cluster, which holds the control plane and every
// tenant's database). The tenant owns an account on an allowed source and makes a
// database there whose very name is a libpq connection string pointing at the
// platform's cluster: a tool that reads the name as parameters copies from the
// forbidden server. Then every URL form that libpq reads differently from a URL
// parser, or that makes libpq do more than connect to one host, must be a 400 at
// request time, from the preflight and the import endpoint alike.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { CapyClient, Project } from "@capydb/api";
import { startLocalCluster, type LocalCluster } from "../../server/src/platform/dataplane/local-cluster.js";
import { finishTools, startDump } from "../../server/src/platform/dataplane/pgtools.js";
import { NetGuard, type HostLookup } from "../../server/src/platform/netguard.js";
import { checkSource, ForbiddenTarget, parseSourceUrl, sourceEndpoint } from "../../server/src/imports/source.js";
import { adminQuery } from "../harness/server.js";
import { freePort } from "../harness/ports.js";
import { startTestServer, type TestServer } from "../harness/server.js";
import { organization } from "../harness/tenants.js";
import { startToolJobs, type ToolJobs } from "./pg-tool-jobs.js";

const suffix = crypto.randomBytes(4).toString("hex");
// The tenant's account, made on both clusters with one password: the credentials a
// tenant can have on an internal server (its own role on the platform's cluster, say).
const ROLE = `smuggler_${suffix}`;
const PASSWORD = `pw-${crypto.randomBytes(12).toString("hex")}`;
const FORBIDDEN_DB = `capy_forbidden_${suffix}`;
const harnessPort = Number(new URL(inject("pgAdminUrl")).port);
// The database on the allowed source, named so that libpq would read it as parameters.
const SMUGGLING_NAME = `hostaddr=127.0.0.1 port=${harnessPort} dbname=${FORBIDDEN_DB}`;

let source: LocalCluster;
let sourceRoot: string;
let t: TestServer;
let org: CapyClient;

async function run(url: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

/** Makes a database owned by ROLE holding one marker row that says where it lives. */
async function databaseWithMarker(clusterAdminUrl: string, name: string, said: string): Promise<void> {
  await run(clusterAdminUrl, `CREATE DATABASE "${name.replace(/"/g, '""')}" OWNER ${ROLE}`);
  const u = new URL(clusterAdminUrl);
  const c = new pg.Client({ host: u.hostname, port: Number(u.port), database: name, user: ROLE, password: PASSWORD });
  await c.connect();
  try {
    await c.query("CREATE TABLE marker (said text NOT NULL)");
    await c.query("INSERT INTO marker VALUES ($1)", [said]);
  } finally {
    await c.end();
  }
}

async function newProject(name: string): Promise<Project> {
  const { job, project } = await org.createProject({ name });
  await org.waitForJob(job.id, { timeoutMs: 30_000 });
  return (await org.getProject(project.id)).project;
}

const sourceUrl = (database: string, rest = "") => `postgresql://${ROLE}:${PASSWORD}@127.0.0.1:${source.port}/${encodeURIComponent(database)}${rest}`;

beforeAll(async () => {
  sourceRoot = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-smuggle-"));
  fs.chmodSync(sourceRoot, 0o755);
  source = await startLocalCluster({ dir: path.join(sourceRoot, "pg"), port: await freePort(), settings: { fsync: "off" } });
  for (const admin of [inject("pgAdminUrl"), source.adminUrl]) await run(admin, `CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
  await databaseWithMarker(inject("pgAdminUrl"), FORBIDDEN_DB, "the platform's own cluster");
  await databaseWithMarker(source.adminUrl, SMUGGLING_NAME, "the allowed source");
  t = await startTestServer({ CAPYDB_IMPORT_ALLOWED_CIDRS: "127.0.0.0/8" });
  org = (await organization(t, "Smugglers", "s")).client;
}, 120_000);

afterAll(async () => {
  await org?.close();
  await t?.stop();
  await source?.stop();
  if (sourceRoot) fs.rmSync(sourceRoot, { recursive: true, force: true });
  await adminQuery("postgres", `DROP DATABASE IF EXISTS ${FORBIDDEN_DB} WITH (FORCE)`);
  await adminQuery("postgres", `DROP ROLE IF EXISTS ${ROLE}`);
});

describe("a database named like a connection string", () => {
  it("the platform's cluster itself is refused when asked for directly (the guard the name tries to get past)", async () => {
    const project = await newProject("direct");
    const direct = `postgresql://${ROLE}:${PASSWORD}@127.0.0.1:${harnessPort}/${FORBIDDEN_DB}`;
    await expect(org.preflightImport(project.id, { source_url: direct })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/platform's own database server/),
    });
    await expect(org.createImport(project.id, { source_url: direct })).rejects.toMatchObject({ status: 400 });
  });

  it("is imported from the allowed source under its literal name, never from the server its name points at", async () => {
    const project = await newProject("smuggled");
    const url = sourceUrl(SMUGGLING_NAME);
    const { preflight } = await org.preflightImport(project.id, { source_url: url });
    expect(preflight.checks.find((c) => c.name === "connection")).toMatchObject({ status: "pass" });
    expect(preflight.ok).toBe(true);

    const { job } = await org.createImport(project.id, { source_url: url });
    const done = await org.waitForJob(job.id, { timeoutMs: 120_000 }).catch(async (err) => {
      throw new Error(`import failed: ${(err as Error).message}; stderr: ${(await org.getJob(job.id)).job.last_stderr}`);
    });
    expect(done.state).toBe("succeeded");
    const copied = await run(await org.getConnectionUri(project.id), "SELECT said FROM marker");
    expect(copied.rows.map((r) => r.said)).toEqual(["the allowed source"]);
  });
});

describe("URL forms that libpq reads differently, or that make it do more than connect to one host", () => {
  const db = "shop";
  const cases = (): Array<[string, string, RegExp]> => {
    const auth = `${ROLE}:${PASSWORD}`;
    const src = `127.0.0.1:${source.port}`;
    const own = `127.0.0.1:${harnessPort}`;
    return [
      ["host= in the query", sourceUrl(db, `?host=127.0.0.1&port=${harnessPort}`), /parameter "host" is not accepted/],
      ["hostaddr= in the query", sourceUrl(db, `?hostaddr=127.0.0.1`), /parameter "hostaddr" is not accepted/],
      ["port= in the query", sourceUrl(db, `?port=${harnessPort}`), /parameter "port" is not accepted/],
      ["dbname= in the query", sourceUrl(db, `?dbname=${FORBIDDEN_DB}`), /parameter "dbname" is not accepted/],
      [
        "sslrootcert names a file of ours",
        sourceUrl(db, "?sslmode=verify-full&sslrootcert=/etc/ssl/private/key.pem"),
        /parameter "sslrootcert" is not accepted \(it names a file on this platform's servers\)/,
      ],
      ["sslcert names a file of ours", sourceUrl(db, "?sslcert=/root/.postgresql/postgresql.crt"), /parameter "sslcert" is not accepted/],
      ["passfile names a file of ours", sourceUrl(db, "?passfile=/root/.pgpass"), /parameter "passfile" is not accepted/],
      ["service reads pg_service.conf", sourceUrl(db, "?service=internal"), /parameter "service" is not accepted/],
      ["options sets server settings", sourceUrl(db, "?options=-c%20statement_timeout%3D0"), /parameter "options" is not accepted/],
      ["a %-encoded parameter name", sourceUrl(db, "?%68ost=127.0.0.1"), /parameter "host" is not accepted/],
      ["sslmode twice (a URL parser takes the first, libpq the last)", sourceUrl(db, "?sslmode=require&sslmode=disable"), /sslmode is given twice/],
      ["an unknown sslmode", sourceUrl(db, "?sslmode=off"), /sslmode must be one of/],
      ["two hosts", `postgresql://${auth}@${src},${own}/${db}`, /several hosts/],
      ["two host names", `postgresql://${auth}@localhost,127.0.0.1/${db}`, /several hosts/],
      ["a port list", `postgresql://${auth}@127.0.0.1:${source.port},${harnessPort}/${db}`, /several hosts/],
      ["a %-encoded NUL in the database name", `postgresql://${auth}@${src}/${db}%00${FORBIDDEN_DB}`, /database name contains a control character/],
      ["a %-encoded NUL in the user name", `postgresql://${ROLE}%00x:${PASSWORD}@${src}/${db}`, /user name contains a control character/],
      ["a Unix socket path as the host", `postgresql://${auth}@%2Ftmp/${db}`, /%-escapes are not accepted in the host/],
      ["a %-encoded host", `postgresql://${auth}@%31%32%37.0.0.1:${harnessPort}/${db}`, /%-escapes are not accepted in the host/],
      ["an empty host", `postgresql://${auth}@/${db}`, /has no host/],
      ["an empty host with a port", `postgresql://${auth}@:${harnessPort}/${db}`, /has no host/],
      ["no authority, the host in the query", `postgresql:///${db}?host=/var/run/postgresql`, /^source_url: /],
      ["a second @ (libpq splits at the first, a URL parser at the last)", `postgresql://${ROLE}@127.0.0.1:${harnessPort}@${src}/${db}`, /more than one @/],
      ["a newline a URL parser would drop", `postgresql://${auth}@127.0.0.1\n:${harnessPort}/${db}`, /control character/],
      ["a tab a URL parser would drop", `postgresql://${auth}@127.0.0.1:${source.port}/sh\top`, /control character/],
      ["a number as the host (127.0.0.1 to the resolver)", `postgresql://${auth}@2130706433:${harnessPort}/${db}`, /four decimal numbers/],
      ["a shortened IPv4 address", `postgresql://${auth}@127.1:${harnessPort}/${db}`, /four decimal numbers/],
      ["port 0", `postgresql://${auth}@127.0.0.1:0/${db}`, /port "0" is not a port number/],
      ["a port past 65535", `postgresql://${auth}@127.0.0.1:70000/${db}`, /port "70000" is not a port number/],
      ["a fragment", `postgresql://${auth}@${src}/${db}#x`, /fragment/],
      ["a zone in an IPv6 host", `postgresql://${auth}@[fe80::1%25lo]:${harnessPort}/${db}`, /not an IPv6 address/],
    ];
  };

  it("each is a 400 from the preflight and from the import, naming what is wrong, and no job is queued", async () => {
    const project = await newProject("forms");
    const refused: string[] = [];
    for (const [what, url, reason] of cases()) {
      for (const [endpoint, call] of [
        ["preflight", () => org.preflightImport(project.id, { source_url: url })],
        ["import", () => org.createImport(project.id, { source_url: url })],
      ] as const) {
        const outcome = await call().then(
          (ok) => ({ status: 200 as number, message: JSON.stringify(ok).slice(0, 200) }),
          (err: { status: number; message: string }) => ({ status: err.status, message: err.message }),
        );
        if (outcome.status !== 400 || !reason.test(outcome.message) || !outcome.message.startsWith("source_url: ")) {
          refused.push(`${endpoint}, ${what}: ${outcome.status} ${outcome.message}`);
        }
        expect(outcome.message).not.toContain(PASSWORD);
      }
    }
    expect(refused).toEqual([]);
    expect((await org.listProjectJobs(project.id)).jobs.filter((j) => j.type === "import.run")).toEqual([]);
  });

  it("sslmode alone is accepted, and the URL still works", async () => {
    await run(source.adminUrl, `CREATE DATABASE ${db} OWNER ${ROLE}`);
    const project = await newProject("sslmode");
    const { preflight } = await org.preflightImport(project.id, { source_url: sourceUrl(db, "?sslmode=disable") });
    expect(preflight.checks.find((c) => c.name === "connection")).toMatchObject({ status: "pass" });
  });
});

describe("a host name is resolved once, by the guard, and the tools connect to that address (DNS rebinding)", () => {
  // A name whose answers the attacker controls: the first passes the guard, the next
  // would not. The resolver is the test's own; it answers no other name, and no
  // process is ever pointed at its later answers (the tools get the pinned address).
  function rebindingResolver(name: string, answers: string[]): { lookup: HostLookup; asked: string[] } {
    const asked: string[] = [];
    const lookup: HostLookup = async (host) => {
      asked.push(host);
      if (host !== name) throw new Error(`the test's resolver knows only ${name}`);
      return [answers[Math.min(asked.length, answers.length) - 1]];
    };
    return { lookup, asked };
  }
  const guardWith = (lookup: HostLookup) => new NetGuard(["127.0.0.0/8"], async () => [{ host: "127.0.0.1", port: harnessPort }], lookup);
  // "localhost": were the address not pinned, pg_dump would resolve the name itself through
  // /etc/hosts, never through a DNS server.
  const named = (host: string) => `postgresql://${ROLE}:${PASSWORD}@${host}:${source.port}/${encodeURIComponent(SMUGGLING_NAME)}`;

  let jobs: ToolJobs;
  beforeAll(async () => {
    jobs = await startToolJobs();
  });
  afterAll(async () => {
    await jobs?.close();
  });

  it("pg_dump is given the checked first answer as hostaddr, and the name is not resolved again", async () => {
    const { lookup, asked } = rebindingResolver("localhost", ["127.0.0.1", "169.254.169.254"]);
    const checked = await checkSource(guardWith(lookup), parseSourceUrl(named("localhost")));
    expect(checked.address).toBe("127.0.0.1");

    let args: string[] = [];
    let dumped = "";
    const job = await jobs.run(async (ctx) => {
      const dump = startDump(ctx, sourceEndpoint(checked), { binDir: inject("pgBinDir") });
      args = dump.child.spawnargs;
      dump.stdout.on("data", (d: Buffer) => (dumped += d.toString("latin1")));
      await finishTools(ctx, [dump]);
    });
    expect({ state: job.state, error: job.error }).toEqual({ state: "succeeded", error: null });
    // the connection string: the name kept for TLS, the address the guard checked pinned beside it
    const conn = args.find((a) => a.startsWith("--dbname="));
    expect(conn).toContain("host='localhost'");
    expect(conn).toContain("hostaddr='127.0.0.1'");
    expect(args.join(" ")).not.toContain("169.254.169.254");
    // one lookup, the guard's: between its check and the tool's connection nothing asked again
    expect(asked).toEqual(["localhost"]);
    expect(dumped).toContain("the allowed source");
  });

  it("a name that resolves to the metadata address is refused with a 400 before anything connects", async () => {
    const name = "metadata.rebinding.test";
    // the guard's decision alone
    const { lookup } = rebindingResolver(name, ["169.254.169.254"]);
    await expect(checkSource(guardWith(lookup), parseSourceUrl(named(name)))).rejects.toThrow(ForbiddenTarget);

    // and through the API: a guard that only decides (were it to allow the address, the
    // request fails here instead of connecting anywhere)
    const allowed: string[] = [];
    class DecisionOnly extends NetGuard {
      override async resolve(host: string, port: number): Promise<string> {
        const address = await super.resolve(host, port);
        allowed.push(address);
        throw new Error(`the guard allowed ${address}; the test connects nowhere`);
      }
    }
    const serverGuard = t.server.ctx.netguard;
    const project = await newProject("metadata");
    t.server.ctx.netguard = new DecisionOnly(
      ["127.0.0.0/8"],
      async () => [{ host: "127.0.0.1", port: harnessPort }],
      rebindingResolver(name, ["169.254.169.254"]).lookup,
    );
    try {
      for (const call of [
        () => org.preflightImport(project.id, { source_url: named(name) }),
        () => org.createImport(project.id, { source_url: named(name) }),
      ]) {
        await expect(call()).rejects.toMatchObject({
          status: 400,
          message: expect.stringMatching(/^source_url: metadata\.rebinding\.test resolves to 169\.254\.169\.254, .* never allowed/),
        });
      }
    } finally {
      t.server.ctx.netguard = serverGuard;
    }
    expect(allowed).toEqual([]);
    expect((await org.listProjectJobs(project.id)).jobs.filter((j) => j.type === "import.run")).toEqual([]);
  });
});
