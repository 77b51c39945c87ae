// The GitHub Action's own overhead: the wall time of the step (spawn of
// `node actions/preview-database/dist/index.js` as the runner does it, until it exits) minus the
// server's job time (job.created_at → job.completed_at, server clock), for `opened` (create a
// preview, wait, SELECT 1, one comment) and `synchronize` (reuse it: no job, so overhead = wall).
// Also the bundle's size and its cold start (node startup + import of the bundle). The schema check
// and the deployment are off (schema-diff: false, deployment: false): the diff's cost is measured
// in test/bench/schema-diff.ts.
//
//   npx tsx test/bench/action.ts      (BENCH_RUNS=10)
//
// The CapyDB server is real (a child process, as `npm start` runs it); GitHub's API is the tests'
// local fake (test/action/harness.ts), so GitHub's own latency is not in these figures. Runs are
// interleaved (opened #n, synchronize #n, ...) after one unmeasured warm-up pair; each preview is
// deleted (unmeasured) after its pair. Prints figures, asserts nothing.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { CapyClient, type Job } from "@capydb/api";
import { BUNDLE, FakeGitHub, GITHUB_TOKEN, pullRequestPayload, runAction, type RunResult } from "../action/harness.js";
import { envInt, fmt, printHeader, printTable, randomSuffix, runIfMain, startServer, summarize, type BenchServer } from "./lib.js";

const GOAL_P50_MS = 1_500;

interface StepRun {
  wallMs: number;
  /** CPU time (user + system) of the action's process, start to exit: what contention cannot inflate much. */
  cpuMs: number;
  /** created → completed on the server; 0 when the run started no job. */
  jobMs: number;
  /** Spawn → first line on stdout (the API key's ::add-mask::): node startup + loading the bundle. */
  firstLineMs: number;
  /** The "Done:" line → the process has exited. */
  exitMs: number;
}

const serverMs = (a: string | null, b: string | null) => (a && b ? Date.parse(b) - Date.parse(a) : NaN);

function stepRun(r: RunResult, job: Job | null): StepRun {
  if (r.code !== 0) throw new Error(`the action failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  const done = r.timeline.find((l) => l.line.startsWith("Done:"));
  const cpu = /^BENCH_CPU (\d+)$/m.exec(r.stderr);
  return {
    wallMs: r.wallMs,
    cpuMs: cpu ? Number(cpu[1]) / 1000 : NaN,
    jobMs: job ? serverMs(job.created_at, job.completed_at) : 0,
    firstLineMs: r.timeline[0]?.ms ?? NaN,
    exitMs: done ? r.wallMs - done.ms : NaN,
  };
}

/** Wall time of one process start, spawn → exit. */
function timeProcess(args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: "ignore" });
    child.on("error", reject);
    child.on("close", () => resolve(performance.now() - started));
  });
}

export async function main(): Promise<void> {
  const runs = envInt("BENCH_RUNS", 10);
  printHeader(
    "GitHub Action: the step's own overhead (wall time − server job time)",
    `${runs !== 10 ? `BENCH_RUNS=${runs} ` : ""}npx tsx test/bench/action.ts`,
  );
  if (!fs.existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: npm run build -w actions/preview-database`);

  let server: BenchServer | null = null;
  let admin: CapyClient | null = null;
  let org: CapyClient | null = null;
  const gh = new FakeGitHub();
  let preloadDir: string | null = null;
  try {
    process.stderr.write("bench: starting a CapyDB server (embedded PostgreSQL, fresh data dir) and the fake GitHub API\n");
    server = await startServer();
    await gh.start();
    admin = new CapyClient({ baseUrl: server.url, apiKey: server.adminKey, retries: 0 });
    const { organization } = await admin.createOrganization({ name: `bench-action-${randomSuffix()}` });
    const { secret } = await admin.createApiKey(organization.id, { name: "bench-action" });
    org = new CapyClient({ baseUrl: server.url, apiKey: secret, retries: 0 });
    const created = await org.createProject({ name: `bench-action-${randomSuffix(2)}` });
    await org.waitForJob(created.job.id, { timeoutMs: 120_000 });
    const projectId = created.project.id;
    // the preview step alone, as before the schema check and the deployment existed: a diff is a job
    // of its own (test/bench/schema-diff.ts), which the overhead's "wall minus job" does not subtract
    const inputs = {
      "api-url": server.url,
      "api-key": secret,
      "project-id": projectId,
      "github-token": GITHUB_TOKEN,
      "schema-diff": "false",
      deployment: "false",
    };
    const client = org;
    // Loaded before the bundle (NODE_OPTIONS=--import): reports the process's CPU time as it exits.
    preloadDir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-bench-action-"));
    const preload = path.join(preloadDir, "cpu.mjs");
    const probe = [
      'import fs from "node:fs";',
      'process.on("exit", () => { const u = process.cpuUsage(); fs.writeSync(2, `\\nBENCH_CPU ${u.user + u.system}\\n`); });',
    ];
    fs.writeFileSync(preload, probe.join("\n") + "\n");
    const env = { NODE_OPTIONS: `--import ${preload}` };

    const pair = async (pr: number): Promise<{ opened: StepRun; sync: StepRun }> => {
      const o = await runAction({ eventName: "pull_request", payload: pullRequestPayload("opened", pr), githubApiUrl: gh.url, inputs, env });
      const job = o.outputs["job-id"] ? (await client.getJob(o.outputs["job-id"])).job : null;
      const opened = stepRun(o, job);
      const s = await runAction({ eventName: "pull_request", payload: pullRequestPayload("synchronize", pr), githubApiUrl: gh.url, inputs, env });
      const sync = stepRun(s, null);
      if (s.outputs.operation !== "reused") throw new Error(`synchronize answered ${s.outputs.operation}, not reused`);
      await client.waitForJob((await client.deletePreview(o.outputs["preview-id"])).job.id, { timeoutMs: 120_000 });
      return { opened, sync };
    };

    process.stderr.write(`bench: 1 warm-up + ${runs} measured opened/synchronize pairs\n`);
    await pair(1000);
    const opened: StepRun[] = [];
    const sync: StepRun[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await pair(1001 + i);
      opened.push(r.opened);
      sync.push(r.sync);
    }

    // Cold start: a run that fails at once on a missing input does nothing but start and load.
    const bare = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
    const coldEnv = { ...bare, GITHUB_EVENT_NAME: "workflow_dispatch" };
    await timeProcess([BUNDLE], coldEnv);
    const nodeOnly: number[] = [];
    const cold: number[] = [];
    for (let i = 0; i < runs; i++) {
      nodeOnly.push(await timeProcess(["-e", "0"], bare));
      cold.push(await timeProcess([BUNDLE], coldEnv));
    }

    const row = (name: string, values: number[]) => {
      const s = summarize(values);
      return [name, s.n, fmt(s.min, 0), fmt(s.p50, 0), fmt(s.p90, 0), fmt(s.max, 0)];
    };
    const overhead = (r: StepRun) => r.wallMs - r.jobMs;
    process.stdout.write(`${runs} runs per series (after 1 unmeasured warm-up pair), times in ms; the step = spawn of the bundle → exit.\n\n`);
    printTable(
      ["series", "runs", "min", "p50", "p90", "max"],
      [
        row(
          "opened: step wall time (create, wait, SELECT 1, comment)",
          opened.map((r) => r.wallMs),
        ),
        row(
          "opened: server job time (created → completed)",
          opened.map((r) => r.jobMs),
        ),
        row("opened: overhead (wall − job)", opened.map(overhead)),
        row("synchronize: step wall time = overhead (reuse, extend, SELECT 1, comment)", sync.map(overhead)),
        row("opened + synchronize: overhead", [...opened, ...sync].map(overhead)),
        row(
          "  of which spawn → first line (node start + bundle load)",
          [...opened, ...sync].map((r) => r.firstLineMs),
        ),
        row(
          "  CPU time of the action's process (user + system)",
          [...opened, ...sync].map((r) => r.cpuMs),
        ),
        row(
          '  of which "Done" → process exit',
          [...opened, ...sync].map((r) => r.exitMs),
        ),
        row("cold start: node + import of the bundle (exits on a missing input)", cold),
        row("floor: node -e 0", nodeOnly),
      ],
    );
    const bytes = fs.statSync(BUNDLE).size;
    const gzipped = zlib.gzipSync(fs.readFileSync(BUNDLE)).length;
    process.stdout.write(`\nBundle: dist/index.js ${fmt(bytes / 1024, 0)} KiB (${fmt(gzipped / 1024, 0)} KiB gzipped).\n`);
    const p50 = summarize([...opened, ...sync].map(overhead)).p50;
    process.stdout.write(
      `Load average at the end: ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} CPUs (the floor row shows how much slower than idle node starts here).\n`,
    );
    process.stdout.write(
      `Goal: overhead p50 <= ${fmt(GOAL_P50_MS, 0)} ms: ${p50 <= GOAL_P50_MS ? "MET" : "NOT MET"} (p50 ${fmt(p50, 0)} ms over opened and synchronize).\n`,
    );
  } finally {
    await org?.close();
    await admin?.close();
    await gh.stop();
    await server?.stop();
    if (preloadDir) fs.rmSync(preloadDir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, main);
