// A CapyDB server run as a process of its own (the way an operator runs it), for crash drills:
// started with CAPYDB_FAULTS (point=kill makes it SIGKILL itself there), awaited at its death,
// stopped cleanly. Its output is kept for the failure messages.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { CapyClient } from "@capydb/api";

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
