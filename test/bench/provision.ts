// Provisioning latency: POST /v1/projects until its job succeeds (the project is `ready`),
// next to floors measured in the same run on the same PostgreSQL cluster through `pg`:
//   - bare DDL: `CREATE ROLE ... LOGIN; CREATE DATABASE ... OWNER ...` on one open connection;
//   - the job's own DDL (ensureLoginRole + createTenantDatabase from server/src + the ALTER SCHEMA of adoptPublicSchema, SCRAM verifier
//     included), to separate what PostgreSQL costs from what the job queue, PgBouncer sync and
//     the API add.
//
//   npx tsx test/bench/provision.ts      (BENCH_RUNS=20; BENCH_ENGINE=instances measures the
//                                         instance engine: a template copy and a start per project,
//                                         in the data dir under the temp dir, plain copies unless
//                                         that filesystem can reflink)
//
// Runs are interleaved (API, bare, job DDL, API, ...) after one unmeasured warm-up of each, so
// drift of the machine hits every series alike. The job is polled every 10 ms (waitForJob with
// pollMs = maxPollMs = 10), so polling adds at most ~10 ms. Prints figures, asserts nothing.
import crypto from "node:crypto";
import pg from "pg";
import { CapyClient, type Job } from "@capydb/api";
import { createTenantDatabase, ensureLoginRole } from "../../server/src/platform/dataplane/provision.js";
import { quoteIdent } from "../../server/src/platform/dataplane/sql.js";
import { envInt, fmt, printHeader, printTable, randomSuffix, runIfMain, startServer, summarize, type BenchServer } from "./lib.js";

const GOAL_P50_MS = 1_000;
const POLL_MS = 10;

interface ApiRun {
  totalMs: number;
  /** job.created_at → job.claimed_at: waiting in the queue for a worker (server clock). */
  queueMs: number;
  /** job.claimed_at → job.completed_at: the handler and the completion write (server clock). */
  runMs: number;
}

function ms(a: string | null, b: string | null): number {
  return a && b ? Date.parse(b) - Date.parse(a) : NaN;
}

async function provisionThroughApi(client: CapyClient, i: number): Promise<ApiRun> {
  const started = performance.now();
  const { job } = await client.createProject({ name: `bench-prov-${i}-${randomSuffix(2)}` });
  const done: Job = await client.waitForJob(job.id, { pollMs: POLL_MS, maxPollMs: POLL_MS, timeoutMs: 120_000 });
  const totalMs = performance.now() - started;
  return { totalMs, queueMs: ms(done.created_at, done.claimed_at), runMs: ms(done.claimed_at, done.completed_at) };
}

async function bareDdl(admin: pg.Client, i: number): Promise<number> {
  const name = `bench_floor_${i}_${randomSuffix(3)}`;
  const started = performance.now();
  await admin.query(`CREATE ROLE ${quoteIdent(name + "_owner")} LOGIN`);
  await admin.query(`CREATE DATABASE ${quoteIdent(name)} OWNER ${quoteIdent(name + "_owner")}`);
  return performance.now() - started;
}

function adminUrlFor(admin: pg.Client, database: string): string {
  const c = admin as unknown as { user: string; password: string; host: string; port: number };
  return `postgresql://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${c.host}:${c.port}/${encodeURIComponent(database)}`;
}

async function jobDdl(admin: pg.Client, i: number): Promise<number> {
  const name = `bench_jobddl_${i}_${randomSuffix(3)}`;
  const password = crypto.randomBytes(24).toString("base64url");
  const started = performance.now();
  await ensureLoginRole(admin, name + "_owner", password, { max_connections: 20, statement_timeout: "30s", idle_transaction_timeout: "60s" });
  await createTenantDatabase(admin, name, name + "_owner");
  const inside = new pg.Client({ connectionString: adminUrlFor(admin, name) });
  await inside.connect();
  await inside.query(`ALTER SCHEMA public OWNER TO "${name}_owner"`); // what privileged.ts adoptPublicSchema runs
  await inside.end();
  return performance.now() - started;
}

export async function main(): Promise<void> {
  const runs = envInt("BENCH_RUNS", 20);
  const engine = process.env.BENCH_ENGINE === "instances" ? "instances" : "shared";
  printHeader(
    `Provisioning (${engine} engine): create project → ready, vs bare CREATE ROLE + CREATE DATABASE`,
    `${engine === "instances" ? "BENCH_ENGINE=instances " : ""}${runs !== 20 ? `BENCH_RUNS=${runs} ` : ""}npx tsx test/bench/provision.ts`,
  );

  let server: BenchServer | null = null;
  let admin: CapyClient | null = null;
  let org: CapyClient | null = null;
  let cluster: pg.Client | null = null;
  try {
    process.stderr.write("bench: starting a CapyDB server (embedded PostgreSQL, fresh data dir)\n");
    server = await startServer({ env: { CAPYDB_DATA_PLANE_ENGINE: engine } });
    admin = new CapyClient({ baseUrl: server.url, apiKey: server.adminKey, retries: 0 });
    const { organization } = await admin.createOrganization({ name: `bench-provision-${randomSuffix()}` });
    const { secret } = await admin.createApiKey(organization.id, { name: "bench-provision" });
    org = new CapyClient({ baseUrl: server.url, apiKey: secret, retries: 0 });
    cluster = new pg.Client({ connectionString: server.clusterAdminUrl(), application_name: "capydb-bench" });
    await cluster.connect();

    process.stderr.write(`bench: 1 warm-up + ${runs} measured runs of each series, interleaved\n`);
    await provisionThroughApi(org, -1);
    await bareDdl(cluster, -1);
    await jobDdl(cluster, -1);
    const api: ApiRun[] = [];
    const bare: number[] = [];
    const job: number[] = [];
    for (let i = 0; i < runs; i++) {
      api.push(await provisionThroughApi(org, i));
      bare.push(await bareDdl(cluster, i));
      job.push(await jobDdl(cluster, i));
    }

    const row = (name: string, values: number[]) => {
      const s = summarize(values);
      return [name, s.n, fmt(s.min, 0), fmt(s.p50, 0), fmt(s.p90, 0), fmt(s.max, 0), fmt(s.mean, 0)];
    };
    process.stdout.write(
      `${runs} sequential runs per series (after 1 unmeasured warm-up each), times in ms; fsync and all other PostgreSQL settings as \`npm start\` uses them.\n\n`,
    );
    printTable(
      ["series", "runs", "min", "p50", "p90", "max", "mean"],
      [
        row(
          "API: POST /v1/projects → job succeeded (project ready)",
          api.map((r) => r.totalMs),
        ),
        row(
          "  of which queue wait (job created → claimed, server clock)",
          api.map((r) => r.queueMs),
        ),
        row(
          "  of which job run (claimed → completed, server clock)",
          api.map((r) => r.runMs),
        ),
        row("floor: job's DDL via pg (ensureLoginRole + createTenantDatabase + adoptPublicSchema)", job),
        row("floor: bare CREATE ROLE; CREATE DATABASE OWNER via pg", bare),
      ],
    );
    const apiP50 = summarize(api.map((r) => r.totalMs)).p50;
    const bareP50 = summarize(bare).p50;
    const jobP50 = summarize(job).p50;
    const rest = summarize(api.map((r) => r.totalMs - r.queueMs - r.runMs)).p50;
    process.stdout.write(
      `\nAPI p50 is ${fmt(apiP50 / bareP50, 1)}× the bare DDL p50 (${fmt(apiP50 - bareP50, 0)} ms more); the job's own DDL is ${fmt(jobP50 - bareP50, 0)} ms over bare; ` +
        `outside queue and job (the HTTP calls, polling every ${POLL_MS} ms) p50 ${fmt(rest, 0)} ms.\n`,
    );
    process.stdout.write(`Goal: API p50 <= ${fmt(GOAL_P50_MS, 0)} ms: ${apiP50 <= GOAL_P50_MS ? "MET" : "NOT MET"} (p50 ${fmt(apiP50, 0)} ms).\n`);
  } finally {
    await cluster?.end().catch(() => {});
    await org?.close();
    await admin?.close();
    await server?.stop();
  }
}

runIfMain(import.meta.url, main);
