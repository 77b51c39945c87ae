// Running the real Terraform CLI from tests and benchmarks: asynchronously (the CapyDB server of a
// test runs in the same process, so a synchronous spawn would deadlock it), in a working directory
// of its own, with the provider installed from a filesystem mirror built from this checkout.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeFilesystemMirror } from "../src/mirror.js";
import { PROVIDER_ADDRESS } from "../src/registry.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `terraform version`'s first line, or null when there is no terraform on the PATH. */
export function terraformVersion(): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("terraform", ["version"], { timeout: 30_000 }, (err, stdout) => resolve(err ? null : stdout.split("\n")[0].trim()));
  });
}

/** Builds the mirror into a fresh directory and writes a CLI configuration that installs from it. */
export async function prepareMirror(root: string, options: { zip?: boolean } = {}): Promise<{ mirrorDir: string; cliConfig: string; pluginCache: string }> {
  const mirrorDir = path.join(root, "mirror");
  await writeFilesystemMirror({ dir: mirrorDir, zip: options.zip });
  const cliConfig = path.join(root, "terraform.rc");
  fs.writeFileSync(
    cliConfig,
    `provider_installation {
  filesystem_mirror {
    path    = ${JSON.stringify(mirrorDir)}
    include = [${JSON.stringify(PROVIDER_ADDRESS)}]
  }
  direct {
    exclude = [${JSON.stringify(PROVIDER_ADDRESS)}]
  }
}
`,
  );
  return { mirrorDir, cliConfig, pluginCache: path.join(root, "plugin-cache") };
}

export class Workspace {
  readonly dir: string;
  private logCount = 0;
  readonly logFiles: string[] = [];

  constructor(
    root: string,
    name: string,
    private readonly env: Record<string, string>,
  ) {
    this.dir = path.join(root, name);
    fs.mkdirSync(this.dir, { recursive: true });
  }

  write(mainTf: string): void {
    fs.writeFileSync(path.join(this.dir, "main.tf"), mainTf);
  }

  /** Runs terraform; with `trace`, TF_LOG=trace goes to a log file kept in `logFiles`. */
  run(args: string[], options: { trace?: boolean; env?: Record<string, string>; timeoutMs?: number; noColorFlag?: boolean } = {}): Promise<RunResult> {
    const inherited = { ...process.env };
    // Logging is decided here, not by whoever started the tests.
    delete inherited.TF_LOG;
    delete inherited.TF_LOG_PATH;
    const env: NodeJS.ProcessEnv = {
      ...inherited,
      TF_IN_AUTOMATION: "1",
      TF_INPUT: "0",
      CHECKPOINT_DISABLE: "1",
      ...this.env,
      ...options.env,
    };
    if (options.trace) {
      const log = path.join(this.dir, `trace-${++this.logCount}-${args[0]}.log`);
      env.TF_LOG = "trace";
      env.TF_LOG_PATH = log;
      this.logFiles.push(log);
    }
    const started = performance.now();
    return new Promise((resolve) => {
      execFile(
        "terraform",
        options.noColorFlag === false ? args : [...args, "-no-color"],
        { cwd: this.dir, env, timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
          resolve({ code, stdout, stderr, ms: performance.now() - started });
        },
      );
    });
  }

  /** `terraform show -json`'s resources, by address, as attribute values. */
  async state(): Promise<Record<string, Record<string, unknown>>> {
    const r = await this.run(["show", "-json"]);
    if (r.code !== 0) throw new Error(`terraform show failed: ${r.stderr}`);
    const doc = JSON.parse(r.stdout) as { values?: { root_module?: { resources?: Array<{ address: string; values: Record<string, unknown> }> } } };
    return Object.fromEntries((doc.values?.root_module?.resources ?? []).map((res) => [res.address, res.values]));
  }
}

export function tempRoot(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A failed run, shown whole: what Terraform said is the diagnosis. */
export function explain(r: RunResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/**
 * The head of a test configuration: the provider required (at this version, or any), the API key
 * as a sensitive variable (given with TF_VAR_capydb_api_key, never in a file), and the provider
 * pointed at the server under test.
 */
export function providerBlocks(url: string, options: { version?: string } = {}): string {
  const source = options.version
    ? `capydb = {
      source  = "capydb/capydb"
      version = "${options.version}"
    }`
    : `capydb = { source = "capydb/capydb" }`;
  return `
terraform {
  required_providers {
    ${source}
  }
}

variable "capydb_api_key" {
  type      = string
  sensitive = true
}

provider "capydb" {
  api_url = "${url}"
  api_key = var.capydb_api_key
}
`;
}
