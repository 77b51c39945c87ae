// The instance host of the copy-on-write data plane, on a real XFS image with reflink
// (test/harness/reflink.ts): instances from a template, snapshots of a running
// instance under writes, clones that share every block, data swaps, a host reboot.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { InstanceHost, type InstanceSettings } from "../src/platform/dataplane/instances/host.js";
import { reflinkDir, type ReflinkDir } from "../../test/harness/reflink.js";
import { freePort } from "../../test/harness/ports.js";

const PASSWORD = "instance-test-superuser";
let fsDir: ReflinkDir;
let host: InstanceHost;
const ports: Record<string, number> = {};

async function settings(name: string): Promise<InstanceSettings> {
  ports[name] ??= await freePort();
  return { port: ports[name], maxConnections: 10, sharedBuffersMb: 16 };
}

async function query<T extends pg.QueryResultRow>(name: string, sql: string, database = "postgres"): Promise<T[]> {
  // the test reads tenant data as the superuser: it plants nothing hostile
  const c = new pg.Client({ connectionString: `postgresql://capydb_admin:${PASSWORD}@127.0.0.1:${ports[name]}/${database}` });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

/** A checksum of a table's rows in order: equal only if every row is. */
async function checksum(name: string, table: string): Promise<string> {
  return (await query<{ md5: string }>(name, `select md5(string_agg(t::text, ',' order by t::text)) from ${table} t`, "app"))[0].md5;
}

beforeAll(async () => {
  fsDir = reflinkDir("instances");
  host = await InstanceHost.open({ root: path.join(fsDir.dir, "host"), superuserPassword: PASSWORD, settings: { fsync: "off" } });
  await host.create("prod", await settings("prod"));
  await host.start("prod");
  await query("prod", "create database app");
  await query("prod", "create table accounts (id int primary key, balance bigint, filler text)", "app");
  await query("prod", "insert into accounts select g, g * 7, repeat(md5(g::text), 6) from generate_series(1, 200000) g", "app");
  await query("prod", "create table events (id bigserial primary key, at timestamptz default clock_timestamp())", "app");
}, 120_000);

afterAll(async () => {
  if (host) for (const name of host.list().instances) await host.destroy(name).catch(() => {});
  await fsDir?.cleanup();
});

describe("instance host", () => {
  it("uses copy-on-write clones on the XFS image", () => {
    expect(host.cloneMethod).toBe(fsDir.reflink ? "reflink" : "copy");
  });

  it("snapshots a running instance under writes; a clone holds exactly its data, shares its blocks, and writes stay apart", async () => {
    // a writer inserts all through the snapshot
    const writer = new pg.Client({ connectionString: `postgresql://capydb_admin:${PASSWORD}@127.0.0.1:${ports.prod}/app` });
    await writer.connect();
    let writing = true;
    const written = (async () => {
      let n = 0;
      while (writing) {
        await writer.query("insert into events default values");
        n++;
      }
      return n;
    })();
    await new Promise((r) => setTimeout(r, 200));
    const snap = await host.snapshot("prod", ports.prod, "prod_snap");
    writing = false;
    const inserts = await written;
    await writer.end();
    expect(snap.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(inserts).toBeGreaterThan(0);

    const before = await host.usedBytes();
    await host.clone("prod_snap", "pv1", await settings("pv1"));
    const grew = (await host.usedBytes()) - before;
    await host.start("pv1");
    const dataBytes = Number((await query<{ n: string }>("prod", "select pg_database_size('app') as n"))[0].n);
    if (fsDir.reflink) expect(grew).toBeLessThan(dataBytes * 0.01);

    expect(await checksum("pv1", "accounts")).toBe(await checksum("prod", "accounts"));
    // the events the clone has are exactly production's first ones: a consistent prefix
    const [clone] = await query<{ n: string; max: string }>("pv1", "select count(*) as n, max(id) as max from events", "app");
    expect(Number(clone.n)).toBe(Number(clone.max));
    const [prodNow] = await query<{ n: string }>("prod", "select count(*) as n from events", "app");
    expect(Number(clone.n)).toBeLessThanOrEqual(Number(prodNow.n));
    expect(Number(clone.n)).toBeGreaterThan(0);

    await query("pv1", "update accounts set balance = -1 where id <= 10", "app");
    await query("prod", "delete from accounts where id > 199990", "app");
    expect((await query<{ n: string }>("prod", "select count(*) as n from accounts where balance = -1", "app"))[0].n).toBe("0");
    expect((await query<{ n: string }>("pv1", "select count(*) as n from accounts", "app"))[0].n).toBe("200000");
  });

  it("survives a host reboot: every instance killed, started again, data intact", async () => {
    const sumBefore = await checksum("pv1", "accounts");
    for (const name of ["prod", "pv1"]) process.kill(host.pid(name)!, "SIGKILL");
    await new Promise((r) => setTimeout(r, 300));
    // a killed postmaster leaves its children to notice; the next start waits for them to go
    for (const name of ["prod", "pv1"]) {
      expect(host.running(name)).toBe(false);
      await host.start(name);
    }
    expect(await checksum("pv1", "accounts")).toBe(sumBefore);
    expect((await query<{ n: string }>("prod", "select count(*) as n from accounts", "app"))[0].n).toBe("199990");
  });

  it("swaps two stopped instances' data; each keeps its port", async () => {
    await host.clone("prod_snap", "pv2", await settings("pv2"));
    await host.start("pv2");
    await query("pv2", "create table only_in_pv2 (x int)", "app");
    await host.stop("pv2");
    await host.stop("pv1");
    host.swapData("pv1", "pv2");
    await host.start("pv1");
    await host.start("pv2");
    expect((await query<{ t: string | null }>("pv1", "select to_regclass('only_in_pv2')::text as t", "app"))[0].t).toBe("only_in_pv2");
    expect((await query<{ t: string | null }>("pv2", "select to_regclass('only_in_pv2')::text as t", "app"))[0].t).toBeNull();
  });

  it("replaces a stopped instance's data from the snapshot with one relink, keeping its port", async () => {
    await query("pv1", "create table scratch (x int)", "app");
    await host.stop("pv1");
    await host.replaceFromSnapshot("pv1", "prod_snap", await settings("pv1"));
    await host.start("pv1");
    expect((await query<{ t: string | null }>("pv1", "select to_regclass('scratch')::text as t", "app"))[0].t).toBeNull();
    const [row] = await query<{ n: string; changed: string }>(
      "pv1",
      "select count(*) as n, count(*) filter (where balance <> id * 7) as changed from accounts",
      "app",
    );
    expect(row).toEqual({ n: "200000", changed: "0" });
  });

  it("reopened after a crash, the host finishes a journalled swap and removes copies nothing links to", async () => {
    await host.stop("pv1");
    await host.stop("pv2");
    const root = host.root;
    const before = { pv1: fs.realpathSync(path.join(root, "data", "pv1")), pv2: fs.realpathSync(path.join(root, "data", "pv2")) };
    // a crash after the journal was written and before the links moved; and a copy left unlinked
    fs.writeFileSync(path.join(root, "swaps.json"), JSON.stringify({ pv1: before.pv2, pv2: before.pv1 }));
    fs.mkdirSync(path.join(root, "dirs", "orphan"));
    const reopened = await InstanceHost.open({ root, superuserPassword: PASSWORD, settings: { fsync: "off" } });
    expect(fs.realpathSync(path.join(root, "data", "pv1"))).toBe(before.pv2);
    expect(fs.realpathSync(path.join(root, "data", "pv2"))).toBe(before.pv1);
    expect(fs.existsSync(path.join(root, "dirs", "orphan"))).toBe(false);
    expect(fs.existsSync(path.join(root, "swaps.json"))).toBe(false);
    reopened.swapData("pv1", "pv2"); // and back
    await host.start("pv1");
    await host.start("pv2");
  });

  it("a derived snapshot runs privately; a host reopened while its postgres runs (the server died) stops it and removes the copy", async () => {
    let orphan = 0;
    await expect(
      host.deriveSnapshot("prod_snap", "prod_masked", async (at) => {
        // reachable on the private socket only
        const c = new pg.Client({ host: at.host, port: at.port, user: "capydb_admin", password: PASSWORD, database: "postgres" });
        await c.connect();
        expect((await c.query("select current_setting('listen_addresses') as l")).rows[0].l).toBe("");
        await c.end();
        const building = fs.readdirSync(path.join(host.root, "tmp")).find((n) => n.startsWith("derive-prod_masked"))!;
        orphan = Number(fs.readFileSync(path.join(host.root, "tmp", building, "postmaster.pid"), "utf8").split("\n")[0]);
        // what a restarted server does while the dead one's private postgres still runs
        await InstanceHost.open({ root: host.root, superuserPassword: PASSWORD, settings: { fsync: "off" } });
        expect(() => process.kill(orphan, 0)).toThrow();
        throw new Error("the work stops here");
      }),
    ).rejects.toThrow();
    expect(orphan).toBeGreaterThan(0);
    expect(fs.readdirSync(path.join(host.root, "tmp"))).toEqual([]);
    expect(host.snapshotExists("prod_masked")).toBe(false);
  });

  it("refuses a second instance of one name and leaves no half-made copy of a failed clone", async () => {
    await expect(host.clone("prod_snap", "pv1", await settings("pv1"))).rejects.toThrow(/already exists/);
    await expect(host.clone("no_such_snap", "pv9", await settings("pv9"))).rejects.toThrow(/does not exist/);
    expect(fs.readdirSync(path.join(host.root, "tmp"))).toEqual([]);
    expect(host.exists("pv9")).toBe(false);
  });

  it("destroys instances: processes gone, directories gone", async () => {
    const pid = host.pid("pv2")!;
    await host.destroy("pv2");
    expect(host.exists("pv2")).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
    await host.destroy("pv2"); // again: nothing to do
  });
});

describe("instance host without reflink", () => {
  it("copies the files instead, and says so", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-copyhost-"));
    fs.chmodSync(dir, 0o755);
    const said: string[] = [];
    // /tmp here is not a reflink filesystem; where it is, the method is reflink and this test only checks the message
    const plain = await InstanceHost.open({ root: path.join(dir, "h"), superuserPassword: PASSWORD, log: (m) => said.push(m), settings: { fsync: "off" } });
    try {
      const reflinkable = execFileSync("stat", ["-f", "-c", "%T", dir], { encoding: "utf8" }).trim();
      if (!["xfs", "btrfs"].includes(reflinkable)) {
        expect(plain.cloneMethod).toBe("copy");
        expect(said.join("\n")).toMatch(/cannot reflink/);
      }
      const port = await freePort();
      await plain.create("p", { port, maxConnections: 5, sharedBuffersMb: 16 });
      await plain.start("p");
      const c = new pg.Client({ connectionString: plain.adminUrl(port) });
      await c.connect();
      expect((await c.query("select 1 as one")).rows[0].one).toBe(1);
      await c.end();
    } finally {
      await plain.destroy("p").catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
