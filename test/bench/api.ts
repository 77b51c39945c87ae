// API throughput and latency: GET /v1/projects/{id} with an organization key (a ready project)
// under autocannon, next to two baselines measured in the same run: GET /healthz (no auth, one
// `SELECT 1`) on the same server, and a bare node:http server answering `{}` in its own process.
//
//   npx tsx test/bench/api.ts            (BENCH_DURATION=10 BENCH_CONNECTIONS=50 BENCH_WARMUP=2)
//
// autocannon runs here, in the bench process; the CapyDB server is a separate process
// (`node --import tsx server/src/main.ts`) with its own embedded PostgreSQL. Prints figures, asserts nothing.
import { createRequire } from "node:module";
import { CapyClient } from "@capydb/api";
import os from "node:os";
import path from "node:path";
import {
  envInt,
  fmt,
  postgresCpuSeconds,
  printHeader,
  printTable,
  processCpuSeconds,
  randomSuffix,
  runIfMain,
  selfCpuSeconds,
  startBareHttpServer,
  startServer,
  type BareServer,
  type BenchServer,
} from "./lib.js";

// autocannon ships no type declarations: the part of its programmatic API used here.
interface AutocannonHistogram {
  average: number;
  mean: number;
  stddev: number;
  min: number;
  max: number;
  total: number;
  p50: number;
  p90: number;
  p97_5: number;
  p99: number;
}
interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  resets: number;
  "2xx": number;
  statusCodeStats: Record<string, { count: number }>;
  latency: AutocannonHistogram;
  requests: AutocannonHistogram & { sent: number };
}
interface AutocannonOptions {
  url: string;
  connections: number;
  /** Seconds. */
  duration: number;
  headers?: Record<string, string>;
  /** Seconds. */
  timeout?: number;
}
type Autocannon = (options: AutocannonOptions) => Promise<AutocannonResult>;
const require = createRequire(import.meta.url);
const autocannon = require("autocannon") as Autocannon;
const autocannonVersion = (require("autocannon/package.json") as { version: string }).version;

const GOAL_RPS = 2_000;
const GOAL_P99_MS = 25;

interface Target {
  name: string;
  url: string;
  headers?: Record<string, string>;
  /** CPU seconds used so far by the process answering (and by its PostgreSQL, if any). */
  cpu(): { server: number; postgres: number };
}

/** CPU seconds used during the measured run, by process. */
interface CpuUse {
  server: number;
  postgres: number;
  bench: number;
  seconds: number;
}

interface Row {
  target: Target;
  result: AutocannonResult;
  cpu: CpuUse;
}

async function measure(target: Target, connections: number, duration: number, warmup: number): Promise<Row> {
  process.stderr.write(`bench: ${target.name}: ${warmup} s warm-up, then ${duration} s with ${connections} connections\n`);
  if (warmup > 0) await autocannon({ url: target.url, connections, duration: warmup, headers: target.headers });
  const before = { ...target.cpu(), bench: selfCpuSeconds(), at: performance.now() };
  const result = await autocannon({ url: target.url, connections, duration, headers: target.headers });
  const after = { ...target.cpu(), bench: selfCpuSeconds(), at: performance.now() };
  const cpu: CpuUse = {
    server: after.server - before.server,
    postgres: after.postgres - before.postgres,
    bench: after.bench - before.bench,
    seconds: (after.at - before.at) / 1000,
  };
  return { target, result, cpu };
}

/** An organization, its key and a ready project on a fresh server. */
async function readyProject(server: BenchServer): Promise<{ projectId: string; orgKey: string }> {
  const admin = new CapyClient({ baseUrl: server.url, apiKey: server.adminKey, retries: 0 });
  try {
    const { organization } = await admin.createOrganization({ name: `bench-api-${randomSuffix()}` });
    const { secret } = await admin.createApiKey(organization.id, { name: "bench-api" });
    const org = new CapyClient({ baseUrl: server.url, apiKey: secret, retries: 0 });
    try {
      const { job, project } = await org.createProject({ name: `bench-api-${randomSuffix()}` });
      await org.waitForJob(job.id, { pollMs: 20, maxPollMs: 100, timeoutMs: 120_000 });
      const { project: ready } = await org.getProject(project.id);
      if (ready.state !== "ready") throw new Error(`project ${project.id} is ${ready.state} after its job succeeded`);
      return { projectId: project.id, orgKey: secret };
    } finally {
      await org.close();
    }
  } finally {
    await admin.close();
  }
}

export async function main(): Promise<void> {
  const duration = envInt("BENCH_DURATION", 10);
  const connections = envInt("BENCH_CONNECTIONS", 50);
  const warmup = Number(process.env.BENCH_WARMUP ?? 2);
  const knobs = [
    duration !== 10 ? `BENCH_DURATION=${duration}` : "",
    connections !== 50 ? `BENCH_CONNECTIONS=${connections}` : "",
    warmup !== 2 ? `BENCH_WARMUP=${warmup}` : "",
  ].filter(Boolean);

  printHeader("API: authenticated GET /v1/projects/{id} vs /healthz vs bare node:http", [...knobs, "npx tsx test/bench/api.ts"].join(" "));

  let server: BenchServer | null = null;
  let bare: BareServer | null = null;
  try {
    process.stderr.write("bench: starting a CapyDB server (embedded PostgreSQL, fresh data dir)\n");
    server = await startServer();
    const { projectId, orgKey } = await readyProject(server);
    const projectUrl = `${server.url}/v1/projects/${projectId}`;
    const auth = { authorization: `Bearer ${orgKey}` };

    // One request by hand first: a load test of 401s or 404s would measure nothing useful.
    const probe = await fetch(projectUrl, { headers: auth });
    const probeBody = (await probe.json()) as { project?: { id?: string } };
    if (probe.status !== 200 || probeBody.project?.id !== projectId) {
      throw new Error(`GET /v1/projects/${projectId} answered ${probe.status}: ${JSON.stringify(probeBody)}`);
    }

    bare = await startBareHttpServer();
    const bareServer = bare;
    const capy = server;
    const pgDir = path.join(capy.dataDir, "pg");
    const capyCpu = () => ({ server: processCpuSeconds(capy.pid), postgres: postgresCpuSeconds(pgDir) });
    const targets: Target[] = [
      { name: "bare node:http `{}` (floor, own process)", url: `${bare.url}/`, cpu: () => ({ server: processCpuSeconds(bareServer.pid), postgres: NaN }) },
      { name: "GET /healthz (no auth, SELECT 1)", url: `${server.url}/healthz`, cpu: capyCpu },
      { name: "GET /v1/projects/{id} (org key)", url: projectUrl, headers: auth, cpu: capyCpu },
    ];
    const rows: Row[] = [];
    for (const target of targets) rows.push(await measure(target, connections, duration, warmup));

    process.stdout.write(
      `${duration} s per target after a ${warmup} s warm-up, ${connections} connections, autocannon ${autocannonVersion} in the bench process.\n\n`,
    );
    printTable(
      ["target", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "requests", "non-2xx", "errors", "timeouts"],
      rows.map(({ target, result: r }) => [
        target.name,
        fmt(r.requests.average, 0),
        fmt(r.latency.p50, 0),
        fmt(r.latency.p90, 0),
        fmt(r.latency.p99, 0),
        fmt(r.latency.max, 0),
        fmt(r.requests.total, 0),
        fmt(r.non2xx, 0),
        fmt(r.errors, 0),
        fmt(r.timeouts, 0),
      ]),
    );

    process.stdout.write("\nLatencies are autocannon's (2xx responses only, 1 ms resolution).\n\n");
    // Where the CPU went during each measured run: on a small machine the load generator, the
    // API process and PostgreSQL share the same cores.
    const perReq = (sec: number, r: AutocannonResult) => fmt((sec * 1e6) / Math.max(1, r.requests.total), 0);
    const cores = (sec: number, c: CpuUse) => fmt(sec / c.seconds, 2);
    printTable(
      ["target", "API process µs/req", "PostgreSQL µs/req", "autocannon µs/req", "cores busy (API / PG / autocannon)"],
      rows.map(({ target, result: r, cpu: c }) => [
        target.name,
        perReq(c.server, r),
        perReq(c.postgres, r),
        perReq(c.bench, r),
        `${cores(c.server, c)} / ${cores(c.postgres, c)} / ${cores(c.bench, c)} of ${os.cpus().length}`,
      ]),
    );

    const [floor, health, authed] = rows.map((r) => r.result);
    const codes = (r: AutocannonResult) =>
      Object.entries(r.statusCodeStats)
        .map(([code, s]) => `${code}×${s.count}`)
        .join(", ");
    process.stdout.write(
      `\nAuthenticated route: ${fmt((100 * authed.requests.average) / health.requests.average, 0)}% of /healthz throughput, ` +
        `${fmt((100 * authed.requests.average) / floor.requests.average, 0)}% of the bare floor. Status codes: ${codes(authed) || "none"}.\n`,
    );
    const rpsOk = authed.requests.average >= GOAL_RPS;
    const p99Ok = authed.latency.p99 <= GOAL_P99_MS;
    const clean = authed.non2xx === 0 && authed.errors === 0 && authed.timeouts === 0;
    process.stdout.write(
      `Goal (authenticated route): >= ${fmt(GOAL_RPS, 0)} req/s and p99 <= ${GOAL_P99_MS} ms, no errors: ` +
        `${rpsOk && p99Ok && clean ? "MET" : "NOT MET"} ` +
        `(${fmt(authed.requests.average, 0)} req/s ${rpsOk ? "ok" : "below"}, p99 ${fmt(authed.latency.p99, 1)} ms ${p99Ok ? "ok" : "above"}` +
        `${clean ? "" : `, ${authed.non2xx} non-2xx / ${authed.errors} errors / ${authed.timeouts} timeouts`}).\n`,
    );
  } finally {
    await bare?.stop();
    await server?.stop();
  }
}

runIfMain(import.meta.url, main);
