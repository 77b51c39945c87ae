// Starts one real PostgreSQL cluster for the whole test run (the same code path
// as the embedded default of `npm start`), and stops it at the end. Each test
// file makes its own control-plane database on it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { startLocalCluster } from "../../server/src/platform/dataplane/local-cluster.js";
import { freePort } from "./ports.js";
import { ensurePrerequisitesOrExit } from "./prerequisites.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgBinDir: string;
    pgDataDir: string;
  }
}

export default async function setup(project: TestProject) {
  // Before anything starts: a missing program stops the run here, with the package to install.
  ensurePrerequisitesOrExit();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-test-pg-"));
  fs.chmodSync(root, 0o755);
  const cluster = await startLocalCluster({
    dir: path.join(root, "pg"),
    port: await freePort(),
    // A throwaway cluster: durability is not what these tests measure.
    // log_connections: the security tests read who logged in to which database as whom.
    settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off", max_connections: "500", log_connections: "on" },
  });
  const stopWatching = await watchConnections(cluster.adminUrl, 500);
  project.provide("pgAdminUrl", cluster.adminUrl);
  project.provide("pgBinDir", cluster.binDir);
  project.provide("pgDataDir", cluster.dir);
  return async () => {
    await stopWatching();
    await cluster.stop();
    fs.rmSync(root, { recursive: true, force: true });
  };
}

/**
 * All test files share this cluster, so one file that floods it with connections makes
 * every other file fail with timeouts far from the cause. Watch the count on one
 * connection and say who holds them when it nears the limit.
 */
async function watchConnections(adminUrl: string, limit: number): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: adminUrl, application_name: "test-harness-watch" });
  client.on("error", () => {});
  await client.connect();
  let stopped = false;
  let lastReport = 0;
  const loop = (async () => {
    while (!stopped) {
      try {
        const r = await client.query<{ who: string; n: number }>(
          "select coalesce(nullif(application_name, ''), usename, backend_type) || ' @ ' || coalesce(datname, '-') as who, count(*)::int as n " +
            "from pg_stat_activity group by 1 order by 2 desc",
        );
        const total = r.rows.reduce((sum, row) => sum + row.n, 0);
        if (total > limit * 0.6 && Date.now() - lastReport > 15_000) {
          lastReport = Date.now();
          const top = r.rows
            .slice(0, 8)
            .map((row) => `${row.n} ${row.who}`)
            .join("; ");
          process.stderr.write(`[test harness] ${total} of ${limit} connections on the shared test cluster: ${top}\n`);
        }
      } catch {
        // the cluster restarting or stopping is not this watcher's business
      }
      await new Promise((r) => setTimeout(r, 2000).unref());
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    await client.end().catch(() => {});
  };
}
