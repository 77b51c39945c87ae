// The host's PgBouncer routes the databases of its instances: a real server with its
// PgBouncer, a real PostgreSQL instance of the instance host (its clusters and instances
// rows as the registry writes them), and psql through the pooler as the tenant's role.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { InstanceHost } from "../src/platform/dataplane/instances/host.js";
import { allocateInstance, type InstanceRow } from "../src/platform/dataplane/instances/registry.js";
import { listClusters } from "../src/platform/dataplane/clusters.js";
import { inTransaction } from "../src/platform/store/db.js";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { freePort } from "../../test/harness/ports.js";
import { psqlAsync } from "../../test/harness/sql.js";

const DATABASE = "capy_pooltest";
const ROLE = "capy_pooltest_owner";
const PASSWORD = "pooler-instance-test-password";

let t: TestServer;
let root: string;
let host: InstanceHost;
let instance: InstanceRow;
let hostClusterId: string;

/** The tenant's URL through the host's PgBouncer. */
const pooledUrl = () => `postgresql://${ROLE}:${PASSWORD}@127.0.0.1:${t.env.CAPYDB_PGBOUNCER_PORT}/${DATABASE}`;
const databasesIni = () => fs.readFileSync(path.join(t.dataDir, "pgbouncer", "databases.ini"), "utf8");

async function asSuperuser(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: host.adminUrl(instance.port) });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  t = await startTestServer();
  const ctx = t.server.ctx;
  root = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-pooler-instances-"));
  // PostgreSQL runs as the postgres OS user: it must reach the host's root below
  fs.chmodSync(root, 0o755);
  host = await InstanceHost.open({ root: path.join(root, "host"), superuserPassword: "pooler-instance-superuser", settings: { fsync: "off" } });
  const hostCluster = (await listClusters(ctx.db)).find((c) => c.is_default)!;
  hostClusterId = hostCluster.id;
  const port = await freePort();
  instance = await inTransaction(ctx.db, (tx) =>
    allocateInstance(tx, ctx.box, {
      projectId: "prj_pooltest",
      purpose: "production",
      hostCluster,
      portFirst: port,
      portLast: port,
      max: 100,
      maxConnections: 10,
      sharedBuffersMb: 16,
      adminUrl: (p) => host.adminUrl(p),
    }),
  );
  await host.create(instance.name, { port: instance.port, maxConnections: 10, sharedBuffersMb: 16 });
  await host.start(instance.name);
  await asSuperuser(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
  await asSuperuser(`CREATE DATABASE ${DATABASE} OWNER ${ROLE}`);
  // where a resource would list it: the instance's own cluster
  ctx.pooler.addSource(async (_db, clusterId) => (clusterId === instance.cluster_id ? [{ database: DATABASE, role: ROLE }] : []));
}, 180_000);

afterAll(async () => {
  if (host && instance) await host.destroy(instance.name).catch(() => {});
  await t?.server.ctx.clusters.dropPool(instance?.cluster_id ?? "").catch(() => {});
  await t?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe("PgBouncer and the instances of its host", () => {
  it("a sync of the instance's cluster routes its database through the host's PgBouncer to the instance", async () => {
    await t.server.ctx.pooler.sync(instance.cluster_id);
    expect(databasesIni()).toContain(`${DATABASE} = host=127.0.0.1 port=${instance.port} dbname=${DATABASE}`);
    expect(await psqlAsync(pooledUrl(), "select current_setting('port')")).toBe(String(instance.port));
    expect(await psqlAsync(pooledUrl(), "select current_user || '@' || current_database()")).toBe(`${ROLE}@${DATABASE}`);
    // a KILL for the instance's database goes to the host's PgBouncer, which does not keep it
    // paused (PgBouncer's KILL would, until a RESUME): the next client gets through
    await t.server.ctx.pooler.kill(instance.cluster_id, DATABASE);
    expect(await psqlAsync(pooledUrl(), "select 1")).toBe("1");
  });

  it("a sync of the host's own cluster keeps the instance's databases", async () => {
    await t.server.ctx.pooler.sync(hostClusterId);
    expect(databasesIni()).toContain(`${DATABASE} = host=127.0.0.1 port=${instance.port}`);
    expect(await psqlAsync(pooledUrl(), "select current_setting('port')")).toBe(String(instance.port));
  });

  it("a stopped instance does not fail the sync: its databases are left out until it runs again", async () => {
    await host.stop(instance.name);
    await t.server.ctx.pooler.sync(instance.cluster_id);
    await t.server.ctx.pooler.sync(hostClusterId);
    expect(databasesIni()).not.toContain(DATABASE);
    await host.start(instance.name);
    await t.server.ctx.pooler.sync(instance.cluster_id);
    expect(await psqlAsync(pooledUrl(), "select current_setting('port')")).toBe(String(instance.port));
  });
});
