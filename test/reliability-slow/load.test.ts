// Load: minutes of mixed traffic (reads, lists, job polling) at a steady rate while
// previews are created and reset. Error rate 0; p99 reported; the server's memory
// stays flat (RSS at start and end). Run with `npm run test:reliability`
// (LOAD_SECONDS=120 by default).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CapyClient } from "@capydb/api";
import { removeServerProcessLeftovers, testServerEnv } from "../harness/server.js";
import { freePort } from "../harness/ports.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SECONDS = Number(process.env.LOAD_SECONDS ?? 120);
const RATE = Number(process.env.LOAD_RATE ?? 100); // requests per second
let server: ChildProcess;
let url: string;
let key: string;
let dataDir: string;

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

beforeAll(async () => {
  const base = await testServerEnv();
  dataDir = base.dataDir;
  const env: Record<string, string> = { ...base.env, CAPYDB_PORT: String(await freePort()), CAPYDB_LOG_LEVEL: "warn", CAPYDB_PREVIEW_LIMIT: "100" };
  server = spawn(process.execPath, ["--import", "tsx", path.join(root, "server/src/main.ts")], { env: { ...process.env, ...env }, stdio: "ignore" });
  url = `http://127.0.0.1:${env.CAPYDB_PORT}`;
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 100));
  }
  key = env.CAPYDB_BOOTSTRAP_API_KEY;
}, 60_000);
afterAll(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((r) => server.once("exit", r));
    server.kill("SIGTERM");
    await exited;
  }
  if (dataDir) await removeServerProcessLeftovers(dataDir);
});

describe("load", () => {
  it(
    `${SECONDS}s of mixed traffic at ${RATE} req/s while previews are created and reset: no errors, flat memory`,
    async () => {
      const admin = new CapyClient({ baseUrl: url, apiKey: key, retries: 0 });
      const orgId = (await admin.createOrganization({ name: "Load" })).organization.id;
      const { job, project } = await admin.createProject({ name: "load", organization_id: orgId });
      await admin.waitForJob(job.id, { timeoutMs: 30_000 });
      const first = await admin.createPreview(project.id, { name: "base" });
      await admin.waitForJob(first.job.id, { timeoutMs: 60_000 });
      // warm up, then take the baseline
      for (let i = 0; i < 500; i++) await fetch(`${url}/v1/projects/${project.id}`, { headers: { authorization: `Bearer ${key}` } });
      const rssStart = rssMb(server.pid!);

      const latencies: number[] = [];
      const errors: string[] = [];
      let jobId = first.job.id;
      const targets = () => [
        `/v1/projects/${project.id}`,
        `/v1/projects/${project.id}/preview-databases`,
        `/v1/jobs/${jobId}`,
        `/v1/projects/${project.id}/jobs`,
        `/v1/preview-databases/${first.preview.id}`,
      ];
      const deadline = Date.now() + SECONDS * 1000;
      let churn = 0;
      const churner = (async () => {
        while (Date.now() < deadline) {
          if (churn++ % 2 === 0) {
            const r = await admin.createPreview(project.id, {});
            jobId = r.job.id;
            await admin.waitForJob(r.job.id, { timeoutMs: 120_000 }).catch((e) => errors.push(`create: ${e.message}`));
            await admin.waitForJob((await admin.deletePreview(r.preview.id)).job.id, { timeoutMs: 120_000 }).catch((e) => errors.push(`delete: ${e.message}`));
          } else {
            const r = await admin.resetPreview(first.preview.id);
            jobId = r.job.id;
            await admin.waitForJob(r.job.id, { timeoutMs: 120_000 }).catch((e) => errors.push(`reset: ${e.message}`));
          }
        }
      })();
      const inflight = new Set<Promise<void>>();
      let sent = 0;
      const started = Date.now();
      while (Date.now() < deadline) {
        const due = Math.floor(((Date.now() - started) / 1000) * RATE);
        for (; sent < due; sent++) {
          const target = targets()[sent % 5];
          const t0 = performance.now();
          const p = fetch(url + target, { headers: { authorization: `Bearer ${key}` } })
            .then(async (res) => {
              await res.arrayBuffer();
              latencies.push(performance.now() - t0);
              if (res.status !== 200) errors.push(`${res.status} ${target}`);
            })
            .catch((e) => {
              errors.push(`${target}: ${e.message}`);
            })
            .finally(() => inflight.delete(p));
          inflight.add(p);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      await Promise.all(inflight);
      await churner;
      const rssEnd = rssMb(server.pid!);
      latencies.sort((x, y) => x - y);
      const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(1);
      const report = `requests ${latencies.length}, errors ${errors.length}, p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, preview jobs ${churn}, RSS ${rssStart.toFixed(0)} → ${rssEnd.toFixed(0)} MB`;
      process.stdout.write(`\nload (LOAD_SECONDS=${SECONDS} LOAD_RATE=${RATE} npm run test:reliability): ${report}\n`);
      expect(errors).toEqual([]);
      expect(latencies.length).toBeGreaterThan(SECONDS * RATE * 0.9);
      expect(rssEnd).toBeLessThan(rssStart * 1.5 + 64);
      await admin.close();
    },
    (SECONDS + 300) * 1000,
  );
});
