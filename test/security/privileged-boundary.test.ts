// The rule behind tenant-code.test.ts, checked on the source: a superuser session can
// be opened inside a tenant's database from one reviewed module only. Every place in
// server/src that opens a PostgreSQL connection is listed here with what it connects
// to; a new one fails this test until someone decides which kind it is.
import { describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../server/src");

/** Files that open PostgreSQL connections, and to what. */
const CONNECTION_OPENERS: Record<string, string> = {
  "platform/dataplane/privileged.ts": "the reviewed module: superuser sessions in tenant databases (pg_catalog search_path, timeouts, no tenant code)",
  "platform/dataplane/tenant-session.ts": "tenant databases, logged in as the tenant's own role",
  "platform/dataplane/clusters.ts": "the data-plane cluster's maintenance database (postgres), which no tenant can connect to",
  "platform/dataplane/pooler.ts": "PgBouncer's admin console (RELOAD, KILL)",
  "platform/dataplane/schema-diff.ts": "tenant databases through @pgkit/client (migra), logged in as each database's own role",
  "platform/dataplane/instances/host.ts": "an instance's maintenance database (postgres), for pg_backup_start/pg_backup_stop",
  "platform/store/db.ts": "the control-plane database",
  "platform/jobs/worker.ts": "the control-plane database (LISTEN for new jobs)",
  "platform/scheduler.ts": "the control-plane database (leader lock)",
  "http/auth.ts": "the control-plane database (LISTEN for key revocations)",
  "server.ts": "the embedded cluster's maintenance database, to create the control-plane database",
  "imports/source.ts": "a tenant's import source, at the address the network guard checked",
};

/**
 * The openers whose sessions run on the data plane (a cluster or an instance of ours): a
 * tenant can hold a lock on anything it can reach for ever, so each must set its own
 * lock_timeout and statement_timeout. Every other opener under platform/dataplane/ says
 * here why it has none.
 */
const DATA_PLANE_OPENERS = [
  "platform/dataplane/privileged.ts",
  "platform/dataplane/tenant-session.ts",
  "platform/dataplane/clusters.ts",
  "platform/dataplane/schema-diff.ts",
  "platform/dataplane/instances/host.ts",
];
const NO_SESSION_TIMEOUTS: Record<string, string> = {
  "platform/dataplane/pooler.ts": "PgBouncer's admin console runs no SQL: RELOAD, PAUSE, KILL, bounded by the caller's own timer",
};

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith(".ts") ? [p] : [];
  });
}

const files = sources(src).map((p) => ({ rel: path.relative(src, p).split(path.sep).join("/"), text: fs.readFileSync(p, "utf8") }));

describe("the privileged boundary", () => {
  it("only privileged.ts asks for a superuser URL of a given database", () => {
    const callers = files.filter((f) => /\.privilegedUrl\(/.test(f.text)).map((f) => f.rel);
    expect(callers).toEqual(["platform/dataplane/privileged.ts"]);
  });

  it("every file that opens a PostgreSQL connection is one the boundary knows", () => {
    const openers = files
      .filter((f) => /new\s+(pg\.)?(Client|Pool)\s*\(|\bcreateClient\s*\(/.test(f.text))
      .map((f) => f.rel)
      .sort();
    expect(openers.filter((f) => !(f in CONNECTION_OPENERS))).toEqual([]);
    // and the list holds no stale entries (a file that stopped opening connections)
    expect(Object.keys(CONNECTION_OPENERS).filter((f) => !openers.includes(f))).toEqual([]);
  });

  it("the maintenance pool cannot be pointed at a tenant database", () => {
    const clusters = files.find((f) => f.rel === "platform/dataplane/clusters.ts")!.text;
    expect(clusters).toMatch(/async adminUrl\(clusterId: string\): Promise<string>/);
    const withDb = files.filter((f) => /adminUrl\([^)]*,/.test(f.text)).map((f) => f.rel);
    expect(withDb).toEqual([]);
  });

  it("tools and clients reach tenant databases as the tenant's role: no endpoint is built from the admin URL", () => {
    const offenders = files.filter((f) => f.rel !== "platform/dataplane/pgtools.ts" && /endpointFromUrl\(/.test(f.text)).map((f) => f.rel);
    expect(offenders).toEqual([]);
  });

  it("every data-plane session has a lock timeout and a statement timeout", () => {
    const dataPlane = Object.keys(CONNECTION_OPENERS).filter((f) => f.startsWith("platform/dataplane/"));
    expect(dataPlane.filter((f) => !DATA_PLANE_OPENERS.includes(f) && !(f in NO_SESSION_TIMEOUTS))).toEqual([]);
    expect([...DATA_PLANE_OPENERS, ...Object.keys(NO_SESSION_TIMEOUTS)].filter((f) => !dataPlane.includes(f))).toEqual([]);
    const lacking = DATA_PLANE_OPENERS.flatMap((rel) => {
      const text = files.find((f) => f.rel === rel)?.text ?? "";
      // set at connection (-c name=value in the session's options), a value or one computed
      return ["lock_timeout", "statement_timeout"].filter((name) => !new RegExp(`-c ${name}=(\\d+m?s\\b|\\$\\{)`).test(text)).map((name) => `${rel}: ${name}`);
    });
    expect(lacking).toEqual([]);
  });

  it("privileged sessions resolve names in pg_catalog only, with statement and lock timeouts", () => {
    const privileged = files.find((f) => f.rel === "platform/dataplane/privileged.ts")!.text;
    expect(privileged).toMatch(/search_path=pg_catalog,pg_temp/);
    expect(privileged).toMatch(/lock_timeout=\d+s/);
    expect(privileged).toMatch(/statement_timeout=\d+s/);
    // queries of its own qualify every operator (the tenant's operators in public can never match)
    for (const q of privileged.matchAll(/c\.query<[^>]*>\(\s*`([\s\S]*?)`/g)) {
      const sql = q[1].replace(/OPERATOR\(pg_catalog\.[^)]+\)/g, "");
      expect(sql, q[1]).not.toMatch(/\s(=|<>|<|>|<=|>=|~~|!~~|\|\|)\s/);
    }
  });
});
