// Terraform with the capydb provider: `terraform plan` of a 20-resource configuration that has
// nothing to change (wall time), and how fast the provider is ready (its handshake line).
//
//   npx tsx test/bench/terraform.ts      (BENCH_RUNS=5 plans, BENCH_STARTS=20 provider starts)
//
// The provider is installed the way users install it, from a filesystem mirror built from this
// checkout (the self-contained bundle). Provider readiness is measured two ways: by starting the
// mirror's executable with go-plugin's environment and timing its first stdout line (with the CPU
// time it used by then), and as Terraform sees it in a TF_LOG=debug plan ("starting plugin" →
// "using plugin"). The TypeScript-sources launcher (bin/, for dev_overrides) is timed for
// comparison. Prints figures, asserts nothing. Needs `terraform` on the PATH.
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CapyClient } from "@capydb/api";
import { makeServerCertificate } from "../../packages/terraform-provider/src/plugin/certs.js";
import { MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE } from "../../packages/terraform-provider/src/plugin/server.js";
import { currentPlatform } from "../../packages/terraform-provider/src/mirror.js";
import { PROVIDER_ADDRESS, PROVIDER_VERSION } from "../../packages/terraform-provider/src/registry.js";
import { Workspace, prepareMirror, terraformVersion } from "../../packages/terraform-provider/test/terraform-cli.js";
import { REPO_ROOT, envInt, fmt, printHeader, printTable, processCpuSeconds, runIfMain, startServer, summarize, type BenchServer } from "./lib.js";

const GOAL_READY_MS = 300;
const GOAL_PLAN_MS = 3_000;
const PROJECTS = 4; // × (project + schedule + 2 extensions + preview) = 20 resources

function config(url: string): string {
  const blocks: string[] = [];
  for (let i = 0; i < PROJECTS; i++) {
    blocks.push(`
resource "capydb_project" "p${i}" {
  name              = "bench-tf-${i}"
  statement_timeout = "30s"
}
resource "capydb_scheduled_backup" "s${i}" {
  project_id  = capydb_project.p${i}.id
  cron_hour   = ${i}
  cron_minute = 30
}
resource "capydb_extension" "pgcrypto${i}" {
  project_id = capydb_project.p${i}.id
  name       = "pgcrypto"
}
resource "capydb_extension" "citext${i}" {
  project_id = capydb_project.p${i}.id
  name       = "citext"
}
resource "capydb_preview_database" "pr${i}" {
  project_id  = capydb_project.p${i}.id
  ttl_seconds = 3600
  depends_on  = [capydb_extension.pgcrypto${i}, capydb_extension.citext${i}]
}`);
  }
  return `terraform {
  required_providers {
    capydb = { source = "capydb/capydb", version = "${PROVIDER_VERSION}" }
  }
}
provider "capydb" {
  api_url = "${url}"
}
${blocks.join("\n")}
`;
}

interface Start {
  readyMs: number;
  cpuMs: number;
}

/** Starts a provider executable as go-plugin does and times its handshake line. */
function timeHandshake(executable: string, clientCertPem: string): Promise<Start> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(executable, [], {
      env: { ...process.env, [MAGIC_COOKIE_KEY]: MAGIC_COOKIE_VALUE, PLUGIN_PROTOCOL_VERSIONS: "5,6", PLUGIN_CLIENT_CERT: clientCertPem },
      stdio: ["ignore", "pipe", "ignore"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (!out.includes("\n")) return;
      const readyMs = performance.now() - started;
      const cpuMs = processCpuSeconds(child.pid!) * 1000;
      if (!/^1\|6\|unix\|/.test(out)) reject(new Error(`unexpected handshake: ${out}`));
      child.kill("SIGTERM");
      child.once("exit", () => resolve({ readyMs, cpuMs }));
    });
    child.once("error", reject);
  });
}

/** "starting plugin" → "using plugin" intervals in a Terraform debug log, in ms. */
function handshakesInLog(log: string): number[] {
  const out: number[] = [];
  let start: number | null = null;
  for (const line of log.split("\n")) {
    const ts = Date.parse(line.slice(0, line.indexOf(" ")));
    if (line.includes("provider: starting plugin:") && line.includes("capydb")) start = ts;
    else if (line.includes("provider: using plugin: version=6") && start !== null) {
      out.push(ts - start);
      start = null;
    }
  }
  return out;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve) => execFile(cmd, args, (err, stdout) => resolve(err ? "" : stdout.trim())));
}

export async function main(): Promise<void> {
  const runs = envInt("BENCH_RUNS", 5);
  const starts = envInt("BENCH_STARTS", 20);
  printHeader(
    "Terraform: `terraform plan` of 20 resources with no changes, and provider start time",
    `${runs !== 5 || starts !== 20 ? `BENCH_RUNS=${runs} BENCH_STARTS=${starts} ` : ""}npx tsx test/bench/terraform.ts`,
  );
  const tf = await terraformVersion();
  if (!tf) {
    process.stdout.write("Skipped: no `terraform` on the PATH.\n");
    return;
  }
  process.stdout.write(`${tf}; provider ${PROVIDER_VERSION} from a filesystem mirror (bundle, plain node ${process.version}).\n`);

  const root = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-bench-tf-"));
  let server: BenchServer | null = null;
  let admin: CapyClient | null = null;
  let ws: Workspace | null = null;
  try {
    process.stderr.write("bench: building the mirror and starting a CapyDB server\n");
    const cli = await prepareMirror(root);
    server = await startServer();
    admin = new CapyClient({ baseUrl: server.url, apiKey: server.adminKey, retries: 0 });
    const { organization } = await admin.createOrganization({ name: "bench-terraform" });
    const { secret } = await admin.createApiKey(organization.id, { name: "bench-terraform" });

    ws = new Workspace(root, "ws", { TF_CLI_CONFIG_FILE: cli.cliConfig, CAPYDB_API_KEY: secret });
    ws.write(config(server.url));
    const init = await ws.run(["init", "-input=false"]);
    if (init.code !== 0) throw new Error(`terraform init failed:\n${init.stdout}\n${init.stderr}`);
    process.stderr.write("bench: terraform apply (20 resources)\n");
    const apply = await ws.run(["apply", "-auto-approve", "-input=false"]);
    if (apply.code !== 0) throw new Error(`terraform apply failed:\n${apply.stdout}\n${apply.stderr}`);

    process.stderr.write(`bench: 1 warm-up + ${runs} plans\n`);
    const plans: number[] = [];
    for (let i = -1; i < runs; i++) {
      const r = await ws.run(["plan", "-detailed-exitcode", "-input=false", "-lock=false"]);
      if (r.code !== 0) throw new Error(`expected a plan with no changes, got exit ${r.code}:\n${r.stdout}\n${r.stderr}`);
      if (i >= 0) plans.push(r.ms);
    }
    const debug = await ws.run(["plan", "-detailed-exitcode", "-input=false", "-lock=false"], {
      trace: false,
      env: { TF_LOG: "debug", TF_LOG_PATH: path.join(root, "debug.log") },
    });
    const seen = handshakesInLog(fs.readFileSync(path.join(root, "debug.log"), "utf8"));

    process.stderr.write(`bench: ${starts} provider starts (mirror bundle) and 3 from the TypeScript sources\n`);
    const clientCert = makeServerCertificate().certPem;
    const executable = path.join(
      cli.mirrorDir,
      ...PROVIDER_ADDRESS.split("/"),
      PROVIDER_VERSION,
      currentPlatform(),
      `terraform-provider-capydb_v${PROVIDER_VERSION}`,
    );
    await timeHandshake(executable, clientCert); // warm the page cache
    const bundled: Start[] = [];
    for (let i = 0; i < starts; i++) bundled.push(await timeHandshake(executable, clientCert));
    const devLauncher = path.join(REPO_ROOT, "packages", "terraform-provider", "bin", "terraform-provider-capydb");
    await timeHandshake(devLauncher, clientCert);
    const dev: Start[] = [];
    for (let i = 0; i < 3; i++) dev.push(await timeHandshake(devLauncher, clientCert));
    const bare: number[] = [];
    const bareCpu: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const usage = JSON.parse(await run(process.execPath, ["-e", "process.stdout.write(JSON.stringify(process.cpuUsage()))"])) as {
        user: number;
        system: number;
      };
      bare.push(performance.now() - t0);
      bareCpu.push((usage.user + usage.system) / 1000);
    }

    const row = (name: string, values: number[]) => {
      const s = summarize(values);
      return [name, s.n, fmt(s.min, 0), fmt(s.p50, 0), fmt(s.p90, 0), fmt(s.max, 0)];
    };
    process.stdout.write(
      `Times in ms. Load average at the end: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(", ")} on ${os.cpus().length} CPUs.\n\n`,
    );
    printTable(
      ["series", "n", "min", "p50", "p90", "max"],
      [
        row("terraform plan, 20 resources, no changes (wall)", plans),
        row(
          "provider ready: handshake line after spawn (mirror bundle)",
          bundled.map((s) => s.readyMs),
        ),
        row(
          "  CPU time it used by then (user + sys)",
          bundled.map((s) => s.cpuMs),
        ),
        row("provider ready as Terraform saw it in the debug plan", seen),
        row(
          "provider ready from the TypeScript sources (bin/, tsx)",
          dev.map((s) => s.readyMs),
        ),
        row("floor: bare `node -e` (spawn to exit)", bare),
        row("  CPU time it used (user + sys)", bareCpu),
      ],
    );
    const planP50 = summarize(plans).p50;
    const readyP50 = summarize(bundled.map((s) => s.readyMs)).p50;
    process.stdout.write(
      `\nA plan starts the provider ${seen.length} time(s) (debug run: ${fmt(debug.ms, 0)} ms with logging); apply of the 20 resources took ${fmt(apply.ms, 0)} ms.\n` +
        `Goal: provider ready <= ${GOAL_READY_MS} ms: ${readyP50 <= GOAL_READY_MS ? "MET" : "NOT MET"} (p50 ${fmt(readyP50, 0)} ms). ` +
        `Goal: plan <= ${fmt(GOAL_PLAN_MS, 0)} ms: ${planP50 <= GOAL_PLAN_MS ? "MET" : "NOT MET"} (p50 ${fmt(planP50, 0)} ms).\n`,
    );
  } finally {
    if (ws) {
      process.stderr.write("bench: terraform destroy\n");
      await ws.run(["destroy", "-auto-approve", "-input=false"]).catch(() => undefined);
    }
    await admin?.close();
    await server?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, main);
