// The schema guard: several servers share one control plane, so during a rolling deploy a server
// of the previous release can start after a newer one has migrated the schema. It must refuse to
// start, naming both versions, and leave the running servers alone.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { loadConfig } from "../src/config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { adminQuery, startTestServer, type TestServer } from "../../test/harness/server.js";

const MIGRATIONS_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), "..", "src", "platform", "store", "migrations");
const newestKnown = fs
  .readdirSync(MIGRATIONS_DIR)
  .filter((f) => f.endsWith(".sql"))
  .sort()
  .at(-1)!
  .replace(/\.sql$/, "");

describe("schema guard", () => {
  let t: TestServer;
  let controlDb: string;
  const cleanup: Array<() => Promise<unknown>> = [];
  /** A second server of this code on the running server's control plane (same server key, no PgBouncer). */
  const secondServerConfig = (suffix: string) => {
    const dataDir = `${t.dataDir}-${suffix}`;
    cleanup.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
    const secretKey = fs.readFileSync(path.join(t.dataDir, "secret-key"), "utf8").trim();
    return loadConfig({ ...t.env, CAPYDB_DATA_DIR: dataDir, CAPYDB_PGBOUNCER: "false", CAPYDB_SECRET_KEY: secretKey });
  };
  const recorded = async () => (await adminQuery<{ name: string }>(controlDb, "select name from schema_migrations order by name")).rows.map((r) => r.name);

  beforeAll(async () => {
    t = await startTestServer();
    controlDb = decodeURIComponent(new URL(t.controlUrl).pathname.slice(1));
  });
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => {});
    await t?.stop();
  });

  it("a server refuses to start on a control plane migrated by a newer release, naming both versions; the running one keeps working", async () => {
    // What a newer server of a rolling deploy leaves behind.
    await adminQuery(controlDb, "insert into schema_migrations (name) values ('999_from_a_newer_release.sql')");
    const before = await recorded();

    await expect(startServer(secondServerConfig("older"))).rejects.toThrow(
      `the control-plane database is at migration 999_from_a_newer_release, newer than this server knows (${newestKnown}): upgrade this server`,
    );
    expect(await recorded()).toEqual(before);

    const org = await t.admin.createOrganization({ name: "during the deploy" });
    const { job } = await t.admin.createProject({ name: "still-served", organization_id: org.organization.id });
    expect((await t.admin.waitForJob(job.id, { timeoutMs: 30_000 })).state).toBe("succeeded");
    await adminQuery(controlDb, "delete from schema_migrations where name = '999_from_a_newer_release.sql'");
  });

  it("a step this server does not know below its newest one (another build's schema) is refused too, naming it", async () => {
    await adminQuery(controlDb, "insert into schema_migrations (name) values ('005_from_another_build.sql')");
    await expect(startServer(secondServerConfig("other-build"))).rejects.toThrow(
      `the control-plane database has migration 005_from_another_build that this server does not know (it knows up to ${newestKnown})`,
    );
    await adminQuery(controlDb, "delete from schema_migrations where name = '005_from_another_build.sql'");
  });

  it("a second server of the same release on the same control plane starts (the guard refuses only unknown steps)", async () => {
    const server: RunningServer = await startServer(secondServerConfig("same"));
    cleanup.push(() => server.stop());
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
