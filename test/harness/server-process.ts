// A CapyDB server run as a process of its own (the way an operator runs it), for crash drills:
// started with CAPYDB_FAULTS (point=kill makes it SIGKILL itself there), awaited at its death,
// stopped cleanly. Its output is kept for the failure messages.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { CapyClient } from "@capydb/api";
import { removeServerProcessLeftovers, testServerEnv } from "./server.js";
import { freePort } from "./ports.js";
import { reflinkDir } from "./reflink.js";
import { InstanceHost } from "../../server/src/platform/dataplane/instances/host.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export class ServerProcess {
  private child: ChildProcess | null = null;
  log = "";

  constructor(private readonly env: Record<string, string>) {}

  async start(faults = ""): Promise<CapyClient> {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "server/src/main.ts")], {
      env: { ...process.env, ...this.env, CAPYDB_FAULTS: faults },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    child.stdout!.on("data", (d) => (this.log += d));
    child.stderr!.on("data", (d) => (this.log += d));
    const url = `http://127.0.0.1:${this.env.CAPYDB_PORT}`;
    for (let i = 0; i < 300; i++) {
      try {
        if ((await fetch(`${url}/healthz`)).ok)
          return new CapyClient({ baseUrl: url, apiKey: this.env.CAPYDB_BOOTSTRAP_API_KEY, retries: 2, timeoutMs: 120_000 });
      } catch {
        // starting
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`server did not start:\n${this.log}`);
  }

  private get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for the server to die at its fault point (it kills itself). */
  async died(): Promise<void> {
    const s = this.child!;
    if (this.running) await new Promise((r) => s.once("exit", r));
    expect(s.signalCode, this.log.slice(-3000)).toBe("SIGKILL");
  }

  /** SIGTERM: a clean stop (instances keep running, as with an external control plane). */
  async stop(api: CapyClient): Promise<void> {
    await api.close();
    if (!this.running) return;
    const exited = new Promise((r) => this.child!.once("exit", r));
    this.child!.kill("SIGTERM");
    await exited;
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise((r) => this.child!.once("exit", r));
    this.child!.kill("SIGKILL");
    await exited;
  }
}

/** A crash drill on the instance engine: a server process on an XFS reflink directory, short leases so a killed job is rescued quickly. */
export interface InstanceDrill {
  env: Record<string, string>;
  server: ServerProcess;
  cleanup: () => Promise<void>;
}

export async function instanceDrill(name: string): Promise<InstanceDrill> {
  const fsDir = reflinkDir(name);
  const base = await testServerEnv();
  const first = await freePort();
  const env: Record<string, string> = {
    ...base.env,
    CAPYDB_PORT: String(await freePort()),
    CAPYDB_JOB_LEASE_SECONDS: "3",
    CAPYDB_SCHEDULER_INTERVAL_MS: "500",
    CAPYDB_LOG_LEVEL: "warn",
    CAPYDB_DATA_PLANE_ENGINE: "instances",
    CAPYDB_INSTANCES_DIR: path.join(fsDir.dir, "instances"),
    CAPYDB_INSTANCE_PORTS: `${first}-${first + 30}`,
  };
  const server = new ServerProcess(env);
  return {
    env,
    server,
    async cleanup() {
      await server.kill();
      // instances outlive a server on an external control plane: stop them for the unmount
      if (fs.existsSync(path.join(env.CAPYDB_INSTANCES_DIR, "data"))) {
        const host = await InstanceHost.open({ root: env.CAPYDB_INSTANCES_DIR, superuserPassword: "unused" });
        for (const n of host.list().instances) await host.stop(n, "immediate");
      }
      await removeServerProcessLeftovers(env.CAPYDB_DATA_DIR);
      await fsDir.cleanup();
    },
  };
}
