// Imports from a URL: POST .../imports/preflight + POST .../imports until the job succeeded (the
// copy is swapped in as the project's database), from a ~1 GB source database (`pgbench -i -s 66`)
// on a second PostgreSQL cluster, next to the baseline measured in the same run: bare
// `CREATE DATABASE` + `pg_dump -Fc --compress=0 <source> | pg_restore --no-owner --no-privileges`
// into a new database on the product's cluster (what the job runs, without the API, the
// preflight, the job queue and the swap).
//
//   npx tsx test/bench/imports.ts        (BENCH_SCALE=66 pgbench scale, BENCH_RUNS=1, BENCH_SETTLE_MS=2000)
//
// The server runs with CAPYDB_IMPORT_ALLOWED_CIDRS=127.0.0.0/8 (the source is on loopback); the
// source is a cluster of its own (startLocalCluster, default settings like the product's embedded
// one), never the product's. Before every measured operation: CHECKPOINT on both clusters,
// `sync -f`, a pause. The job is polled every 250 ms (its server-side duration is shown too);
// pg_stat_activity of both clusters is sampled every 100 ms to show where the time goes. With BENCH_RUNS > 1 the order alternates, and every
// import after the first replaces the previous one (its DROP is part of the job). Prints figures,
// asserts nothing.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type pg from "pg";
import { CapyClient, type Job } from "@capydb/api";
import { startLocalCluster, type LocalCluster } from "../../server/src/platform/dataplane/local-cluster.js";
import { quoteIdent } from "../../server/src/platform/dataplane/sql.js";
import {
  envInt,
  fmt,
  freePort,
  postgresCpuSeconds,
  printHeader,
  printTable,
  processCpuSeconds,
  randomSuffix,
  registerCleanup,
  runIfMain,
  startServer,
  type BenchServer,
} from "./lib.js";
import {
  ActivitySampler,
  checkFreeSpace,
  classifyDatabaseDdl,
  checkpointsRequested,
  classifyRestore,
  connect,
  databaseSize,
  libpqEnv,
  loadPgbench,
  log,
  MB,
  median,
  mergeSeconds,
  msBetween,
  SAMPLE_MS,
  pgBinDir,
  reapedChildrenCpuSeconds,
  settle,
  spawnTool,
  toolExit,
  type ActivityRow,
} from "./backups.js";

const POLL_MS = 250;
const JOB_TIMEOUT_MS = 2 * 60 * 60_000;
const DEFAULT_SCALE = 66;
const GOAL_RATIO = 1.2;
const SOURCE_DB = "bench_source";

interface ApiRun {
  /** POST preflight → POST import → job succeeded seen (client clock). */
  totalMs: number;
  preflightMs: number;
  /** import job created → claimed (server clock). */
  queueMs: number;
  /** import job claimed → completed (server clock). */
  runMs: number;
  attempts: number;
  activity: Map<string, number>;
  nodeCpu: number;
  toolsCpu: number;
  targetPgCpu: number;
  sourcePgCpu: number;
  /** Checkpoints requested on the product's cluster while it ran. */
  checkpoints: number;
}

interface BareRun {
  totalMs: number;
  /** A CHECKPOINT right after pg_restore exited (not in totalMs): making the copy durable. */
  checkpointMs: number;
  /** Checkpoints requested on the product's cluster until pg_restore exited. */
  checkpoints: number;
  activity: Map<string, number>;
  toolsCpu: number;
  targetPgCpu: number;
  sourcePgCpu: number;
}

/** A PostgreSQL cluster of its own for the source, in a temp dir removed on stop (and on Ctrl-C). */
async function startSourceCluster(): Promise<{ cluster: LocalCluster; stop: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-bench-source-"));
  fs.chmodSync(dir, 0o755); // the postgres OS user (when we are root) must traverse it
  let cluster: LocalCluster | null = null;
  const stopCluster = async () => {
    try {
      await cluster?.stop();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  // Registered before the start, so that a Ctrl-C during initdb still removes the dir; handed
  // over below to a registration with a reaper once the postmaster runs.
  let handedOver = false;
  const early = registerCleanup(async () => {
    if (!handedOver) await stopCluster();
  });
  try {
    cluster = await startLocalCluster({ dir: path.join(dir, "pg"), port: await freePort(), binDir: pgBinDir(), log: (m) => log(`source cluster: ${m}`) });
  } catch (err) {
    await early();
    throw err;
  }
  // A sidecar stops the postmaster (SIGINT: fast shutdown) and removes the dir should we die without cleaning up.
  const postmaster = Number(fs.readFileSync(path.join(cluster.dir, "postmaster.pid"), "utf8").split("\n")[0]);
  const stop = registerCleanup(stopCluster, { pid: postmaster, dir });
  handedOver = true;
  await early();
  return { cluster, stop };
}

function classifier(projectDb: string, source: boolean): (r: ActivityRow) => string | null {
  return (r) => {
    if (source) {
      if (r.datname !== SOURCE_DB || r.application_name === "capydb-bench") return null;
      return /^COPY /i.test(r.query.trimStart()) ? "source: pg_dump COPY (table data)" : "source: pg_dump catalog queries, preflight";
    }
    const ddl = classifyDatabaseDdl(r);
    if (ddl) return `target: ${ddl}`;
    if (r.datname && (r.datname === `${projectDb}_im` || r.datname.startsWith("bench_import_"))) return `target: ${classifyRestore(r)}`;
    return null;
  };
}

export async function main(): Promise<void> {
  const scale = envInt("BENCH_SCALE", DEFAULT_SCALE);
  const runs = envInt("BENCH_RUNS", 1);
  const settleMs = envInt("BENCH_SETTLE_MS", 2000);
  const knobs = [
    scale !== DEFAULT_SCALE ? `BENCH_SCALE=${scale}` : "",
    runs !== 1 ? `BENCH_RUNS=${runs}` : "",
    settleMs !== 2000 ? `BENCH_SETTLE_MS=${settleMs}` : "",
  ].filter(Boolean);
  printHeader(
    "Imports from a URL: API preflight + import job vs bare pg_dump | pg_restore",
    `${knobs.length ? knobs.join(" ") + " " : ""}npx tsx test/bench/imports.ts`,
  );
  // The source, the imported copy, the previous import (until the swap drops it), the bare copy, WAL.
  checkFreeSpace(os.tmpdir(), 4 * scale * 16 * MB + 2 * 2 ** 30);

  let server: BenchServer | null = null;
  let source: { cluster: LocalCluster; stop: () => Promise<void> } | null = null;
  let admin: CapyClient | null = null;
  let org: CapyClient | null = null;
  let su: pg.Client | null = null;
  let sourceSu: pg.Client | null = null;
  try {
    log("starting a CapyDB server (embedded PostgreSQL, fresh data dir) with CAPYDB_IMPORT_ALLOWED_CIDRS=127.0.0.0/8");
    server = await startServer({ env: { CAPYDB_IMPORT_ALLOWED_CIDRS: "127.0.0.0/8" } });
    log("starting the source's PostgreSQL cluster (a second one, temp dir)");
    source = await startSourceCluster();
    const sourceCluster = source.cluster;
    sourceSu = await connect(sourceCluster.adminUrl);
    await sourceSu.query(`CREATE DATABASE ${quoteIdent(SOURCE_DB)}`);
    const sourceUrl = (() => {
      const u = new URL(sourceCluster.adminUrl);
      u.pathname = `/${SOURCE_DB}`;
      return u.toString();
    })();
    log(`pgbench -i -s ${scale} into ${SOURCE_DB} on the source cluster (port ${sourceCluster.port})`);
    const loadSeconds = await loadPgbench(sourceUrl, scale);
    const sourceBytes = await databaseSize(sourceSu, SOURCE_DB);
    log(`loaded in ${fmt(loadSeconds, 1)} s: pg_database_size ${fmt(sourceBytes / MB, 1)} MB`);
    // Unmeasured: read the source once (page cache, hint bits).
    const warm = await connect(sourceUrl);
    await warm.query("SELECT count(*) FROM pgbench_accounts").finally(() => warm.end().catch(() => {}));

    admin = new CapyClient({ baseUrl: server.url, apiKey: server.adminKey, retries: 0 });
    const { organization } = await admin.createOrganization({ name: `bench-imports-${randomSuffix()}` });
    const { secret } = await admin.createApiKey(organization.id, { name: "bench-imports" });
    org = new CapyClient({ baseUrl: server.url, apiKey: secret, retries: 0 });
    const { job: created, project } = await org.createProject({ name: `bench-im-s${scale}-${randomSuffix(2)}` });
    await org.waitForJob(created.id, { pollMs: POLL_MS, maxPollMs: 500, timeoutMs: 120_000 });
    su = await connect(server.clusterAdminUrl());

    const srv = server;
    const orgClient = org;
    const targetSu = su;
    const srcSu = sourceSu;
    const targetPgDir = path.join(srv.dataDir, "pg");
    const settleBoth = () => settle([targetSu, srcSu], [srv.dataDir, sourceCluster.dir], settleMs);
    const samplers = () =>
      Promise.all([
        ActivitySampler.start(srv.clusterAdminUrl(), classifier(project.database_name, false)),
        ActivitySampler.start(sourceCluster.adminUrl, classifier(project.database_name, true)),
      ]);
    const stopSamplers = async (s: ActivitySampler[]) => mergeSeconds(...(await Promise.all(s.map((x) => x.stop()))));

    const apiImport = async (): Promise<ApiRun> => {
      await settleBoth();
      const s = await samplers();
      const node0 = processCpuSeconds(srv.pid);
      const all0 = processCpuSeconds(srv.pid, true);
      const tpg0 = postgresCpuSeconds(targetPgDir);
      const spg0 = postgresCpuSeconds(sourceCluster.dir);
      const cp0 = await checkpointsRequested(targetSu);
      const t0 = performance.now();
      const { preflight } = await orgClient.preflightImport(project.id, { source_url: sourceUrl });
      const preflightMs = performance.now() - t0;
      if (!preflight.ok)
        throw new Error(
          `the preflight failed: ${preflight.checks
            .filter((c) => c.status === "fail")
            .map((c) => `${c.name}: ${c.detail}`)
            .join("; ")}`,
        );
      const { job } = await orgClient.createImport(project.id, { source_url: sourceUrl, replace: true });
      const done: Job = await orgClient.waitForJob(job.id, { pollMs: POLL_MS, maxPollMs: POLL_MS, timeoutMs: JOB_TIMEOUT_MS });
      const totalMs = performance.now() - t0;
      const nodeCpu = processCpuSeconds(srv.pid) - node0;
      return {
        totalMs,
        preflightMs,
        queueMs: msBetween(done.created_at, done.claimed_at),
        runMs: msBetween(done.claimed_at, done.completed_at),
        attempts: done.attempts,
        nodeCpu,
        toolsCpu: processCpuSeconds(srv.pid, true) - all0 - nodeCpu,
        targetPgCpu: postgresCpuSeconds(targetPgDir) - tpg0,
        sourcePgCpu: postgresCpuSeconds(sourceCluster.dir) - spg0,
        checkpoints: (await checkpointsRequested(targetSu)) - cp0,
        activity: await stopSamplers(s),
      };
    };

    const bareCopy = async (): Promise<BareRun> => {
      const target = `bench_import_${randomSuffix(4)}`;
      await settleBoth();
      const s = await samplers();
      const tools0 = reapedChildrenCpuSeconds();
      const tpg0 = postgresCpuSeconds(targetPgDir);
      const spg0 = postgresCpuSeconds(sourceCluster.dir);
      const cp0 = await checkpointsRequested(targetSu);
      const t0 = performance.now();
      await targetSu.query(`CREATE DATABASE ${quoteIdent(target)}`);
      const bin = pgBinDir();
      const dump = spawnTool(path.join(bin, "pg_dump"), ["--format=custom", "--compress=0", "--dbname", SOURCE_DB], libpqEnv(sourceCluster.adminUrl), [
        "ignore",
        "pipe",
        "pipe",
      ]);
      const restore = spawnTool(path.join(bin, "pg_restore"), ["--no-owner", "--no-privileges", "--dbname", target], libpqEnv(srv.clusterAdminUrl()), [
        "pipe",
        "ignore",
        "pipe",
      ]);
      restore.stdin!.on("error", () => {});
      dump.stdout!.pipe(restore.stdin!);
      await Promise.all([toolExit(dump, "pg_dump"), toolExit(restore, "pg_restore")]);
      const totalMs = performance.now() - t0;
      const checkpoints = (await checkpointsRequested(targetSu)) - cp0;
      const t1 = performance.now();
      await targetSu.query("CHECKPOINT");
      const checkpointMs = performance.now() - t1;
      const run: BareRun = {
        totalMs,
        checkpointMs,
        checkpoints,
        toolsCpu: reapedChildrenCpuSeconds() - tools0,
        targetPgCpu: postgresCpuSeconds(targetPgDir) - tpg0,
        sourcePgCpu: postgresCpuSeconds(sourceCluster.dir) - spg0,
        activity: await stopSamplers(s),
      };
      await targetSu.query(`DROP DATABASE ${quoteIdent(target)}`);
      return run;
    };

    const api: ApiRun[] = [];
    const bare: BareRun[] = [];
    for (let i = 0; i < runs; i++) {
      const order: Array<"api" | "bare"> = i % 2 === 0 ? ["bare", "api"] : ["api", "bare"];
      for (const which of order) {
        log(`run ${i + 1}/${runs}: ${which === "api" ? "API preflight + import" : "bare pg_dump | pg_restore"}`);
        if (which === "api") api.push(await apiImport());
        else bare.push(await bareCopy());
      }
      log(`run ${i + 1}: API ${fmt(api[i].totalMs / 1000, 1)} s, bare ${fmt(bare[i].totalMs / 1000, 1)} s`);
    }
    const importedBytes = await databaseSize(su, project.database_name);
    report(scale, loadSeconds, sourceBytes, importedBytes, api, bare);
  } finally {
    await su?.end().catch(() => {});
    await sourceSu?.end().catch(() => {});
    await org?.close();
    await admin?.close();
    await server?.stop();
    await source?.stop();
  }
}

function report(scale: number, loadSeconds: number, sourceBytes: number, importedBytes: number, api: ApiRun[], bare: BareRun[]): void {
  const out = (s: string) => process.stdout.write(s);
  const n = api.length;
  const sec = (values: number[]) => median(values) / 1000;
  const all = (values: number[]) => values.map((v) => fmt(v / 1000, 1)).join(", ");
  out(
    `Source: pgbench -i -s ${scale} on a second PostgreSQL cluster (loaded in ${fmt(loadSeconds, 1)} s), pg_database_size ${fmt(sourceBytes / MB, 1)} MB; ` +
      `the imported project database: ${fmt(importedBytes / MB, 1)} MB. ${n} run${n === 1 ? "" : "s"}` +
      `${n > 1 ? " (medians; order alternating)" : " (bare first, then API)"}; MB/s = source pg_database_size / time (MB = 2^20 bytes).\n\n`,
  );
  const headers = ["series", "seconds", "MB/s", ...(n > 1 ? ["all runs (s)"] : [])];
  const row = (name: string, values: number[], rate = true) =>
    [name, fmt(sec(values), 2), rate ? fmt(sourceBytes / MB / sec(values), 1) : "", n > 1 ? all(values) : ""].slice(0, headers.length);
  printTable(headers, [
    row(
      `API: POST preflight + POST import → job succeeded (client clock, job polled every ${POLL_MS} ms)`,
      api.map((a) => a.totalMs),
    ),
    row(
      "  preflight (POST .../imports/preflight)",
      api.map((a) => a.preflightMs),
      false,
    ),
    row(
      "  import job queue wait (created → claimed)",
      api.map((a) => a.queueMs),
      false,
    ),
    row(
      "  import job run (claimed → completed: preflight again, build, copy, swap, pooler sync)",
      api.map((a) => a.runMs),
      false,
    ),
    row(
      "bare CREATE DATABASE + pg_dump -Fc --compress=0 | pg_restore --no-owner --no-privileges",
      bare.map((b) => b.totalMs),
    ),
    row(
      "  then (not in the bare time): CHECKPOINT, making the copy durable",
      bare.map((b) => b.checkpointMs),
      false,
    ),
  ]);
  const ratio = median(api.map((a) => a.totalMs)) / median(bare.map((b) => b.totalMs));
  const jobRatio = median(api.map((a) => a.runMs)) / median(bare.map((b) => b.totalMs));
  out(`\nRatio: API / bare = ${fmt(ratio, 2)}× (the import job's run alone: ${fmt(jobRatio, 2)}×).\n`);
  out(`Goal: API import ≤ ${GOAL_RATIO}× bare pg_dump | pg_restore: ${ratio <= GOAL_RATIO ? "MET" : "NOT MET"} (${fmt(ratio, 2)}×).\n`);
  if (api.some((a) => a.attempts > 1)) out(`Note: an import job needed more than one attempt (attempts: ${api.map((a) => a.attempts).join(", ")}).\n`);

  out(
    `\nWhere the time goes: seconds a kind of work was seen active in pg_stat_activity of either cluster (sampled every ${SAMPLE_MS} ms; median over runs; work running at once is counted for each).\n\n`,
  );
  const keys = [...new Set([...api.flatMap((a) => [...a.activity.keys()]), ...bare.flatMap((b) => [...b.activity.keys()])])].sort();
  printTable(
    ["activity", "API", "bare"],
    keys.map((k) => [k, fmt(median(api.map((a) => a.activity.get(k) ?? 0)), 1), fmt(median(bare.map((b) => b.activity.get(k) ?? 0)), 1)]),
  );
  out(`\nCPU seconds (median):\n\n`);
  printTable(
    ["process", "API", "bare"],
    [
      ["the server's node process (HTTP, preflight, job, piping)", fmt(median(api.map((a) => a.nodeCpu)), 1), ""],
      ["pg_dump + pg_restore processes", fmt(median(api.map((a) => a.toolsCpu)), 1), fmt(median(bare.map((b) => b.toolsCpu)), 1)],
      ["source PostgreSQL", fmt(median(api.map((a) => a.sourcePgCpu)), 1), fmt(median(bare.map((b) => b.sourcePgCpu)), 1)],
      ["product PostgreSQL", fmt(median(api.map((a) => a.targetPgCpu)), 1), fmt(median(bare.map((b) => b.targetPgCpu)), 1)],
    ],
  );
  out(
    `\nCheckpoints requested on the product's cluster (median; WAL past max_wal_size requests one, DROP DATABASE requests one and waits for it, ` +
      `and the swap drops the previous database): API import ${fmt(median(api.map((a) => a.checkpoints)), 0)}, bare copy ${fmt(median(bare.map((b) => b.checkpoints)), 0)}.\n`,
  );
  out(
    `Load average at the end: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(", ")} (1, 5, 15 min).\n`,
  );
}

runIfMain(import.meta.url, main);
