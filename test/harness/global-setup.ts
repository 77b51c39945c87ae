// Starts one real PostgreSQL cluster for the whole test run (the same code path
// as the embedded default of `npm start`), and stops it at the end. Each test
// file makes its own control-plane database on it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startLocalCluster } from "../../server/src/platform/dataplane/local-cluster.js";
import { freePort } from "./ports.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgBinDir: string;
    pgDataDir: string;
  }
}

export default async function setup(project: TestProject) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-test-pg-"));
  fs.chmodSync(root, 0o755);
  const cluster = await startLocalCluster({
    dir: path.join(root, "pg"),
    port: await freePort(),
    // A throwaway cluster: durability is not what these tests measure.
    settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off", max_connections: "500" },
  });
  project.provide("pgAdminUrl", cluster.adminUrl);
  project.provide("pgBinDir", cluster.binDir);
  project.provide("pgDataDir", cluster.dir);
  return async () => {
    await cluster.stop();
    fs.rmSync(root, { recursive: true, force: true });
  };
}
