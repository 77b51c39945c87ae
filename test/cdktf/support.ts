// Shared by the cdktf-constructs tests: cdktf's Testing matchers for vitest, the real Terraform
// CLI with the provider installed from a filesystem mirror, and the example app run with tsx.
//
// Every tool runs asynchronously (execFile, never execFileSync): the end-to-end test serves the
// CapyDB API from this same process, and a synchronous child would stall it.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type App, Testing, type TestingAppConfig } from "cdktf";
import { toBeValidTerraform } from "cdktf/lib/testing/matchers.js";
import { afterAll, expect } from "vitest";
import { writeFilesystemMirror } from "../../packages/terraform-provider/src/mirror.js";
import { PROVIDER_ADDRESS } from "../../packages/terraform-provider/src/registry.js";

export const REPO_DIR = fileURLToPath(new URL("../..", import.meta.url));
export const PACKAGE_DIR = path.join(REPO_DIR, "cdktf-constructs");
export const EXAMPLE_MAIN = path.join(PACKAGE_DIR, "examples", "basic", "main.ts");
export const TSX = path.join(REPO_DIR, "node_modules", ".bin", "tsx");
export const EXAMPLE_STACK = "capydb-example";

// ------------------------------------------------------------------ apps

let appsRoot: string | undefined;
// Registered while the test file that imports this module is being collected.
afterAll(() => {
  if (appsRoot) fs.rmSync(appsRoot, { recursive: true, force: true });
});

/**
 * Testing.app() whose outdir lies under one temporary directory, removed when the test file ends
 * (Testing.app's own default makes a temporary directory per app and never removes it).
 */
export function testingApp(options: TestingAppConfig = {}): App {
  appsRoot ??= fs.mkdtempSync(path.join(os.tmpdir(), "capydb-cdktf-apps-"));
  return Testing.app({ outdir: fs.mkdtempSync(path.join(appsRoot, "app-")), ...options });
}

// ------------------------------------------------------------------ matchers

/** A generated L1 class (or anything with the static `tfResourceType` of the bindings). */
interface TfType {
  readonly tfResourceType: string;
}

interface SynthesizedJson {
  resource?: Record<string, Record<string, unknown>>;
  provider?: Record<string, unknown[]>;
}

function typeName(t: TfType | string): string {
  return typeof t === "string" ? t : t.tfResourceType;
}

expect.extend({
  /** Testing.toHaveResourceWithProperties, with a failure message that shows what was synthesized. */
  toHaveResourceWithProperties(received: string, type: TfType | string, properties: Record<string, unknown> = {}) {
    const name = typeName(type);
    const pass = Testing.toHaveResourceWithProperties(received, name, properties);
    const found = (JSON.parse(received) as SynthesizedJson).resource?.[name] ?? {};
    return {
      pass,
      message: () =>
        `expected ${pass ? "no " : ""}${name} with ${JSON.stringify(properties)}; synthesized ${name}: ${JSON.stringify(Object.values(found), null, 2)}`,
    };
  },
  toHaveProviderWithProperties(received: string, type: TfType | string, properties: Record<string, unknown> = {}) {
    const name = typeName(type);
    const pass = Testing.toHaveProviderWithProperties(received, name, properties);
    return {
      pass,
      message: () =>
        `expected ${pass ? "no " : ""}provider ${name} with ${JSON.stringify(properties)}; synthesized: ${JSON.stringify((JSON.parse(received) as SynthesizedJson).provider)}`,
    };
  },
  /** cdktf's toBeValidTerraform: `terraform init` + `terraform validate` in each synthesized stack. */
  toBeValidTerraform(received: string) {
    const result = toBeValidTerraform(received);
    return { pass: result.pass, message: () => result.message };
  },
});

declare module "vitest" {
  // Declaration merging needs vitest's own type parameter, default and all.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  interface Matchers<T = any> {
    toHaveResourceWithProperties(type: TfType | string, properties?: Record<string, unknown>): T;
    toHaveProviderWithProperties(type: TfType | string, properties?: Record<string, unknown>): T;
    toBeValidTerraform(): T;
  }
}

// ------------------------------------------------------------------ processes

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export function run(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, env: options.env ?? process.env, timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr, ms: performance.now() - started });
      },
    );
  });
}

/** A failed run, shown whole: what the tool said is the diagnosis. */
export function explain(r: RunResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** `terraform version`'s first line, or null when there is no terraform on the PATH. */
export async function terraformVersion(): Promise<string | null> {
  const r = await run("terraform", ["version"], { timeoutMs: 30_000 });
  return r.code === 0 ? r.stdout.split("\n")[0].trim() : null;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Lays the provider out as a filesystem mirror under `root` (packages/terraform-provider's
 * src/mirror.ts) and writes a Terraform CLI configuration that installs capydb/capydb from it and
 * nothing from the registry. Answers the configuration's path, for TF_CLI_CONFIG_FILE.
 */
export async function providerMirror(root: string): Promise<string> {
  const mirrorDir = path.join(root, "mirror");
  await writeFilesystemMirror({ dir: mirrorDir });
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
  return cliConfig;
}

/** The environment Terraform runs in: the mirror, no prompts, no checkpoint calls, no inherited logging. */
export function terraformEnv(cliConfig: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TF_CLI_CONFIG_FILE: cliConfig, TF_IN_AUTOMATION: "1", TF_INPUT: "0", CHECKPOINT_DISABLE: "1", ...extra };
  delete env.TF_LOG;
  delete env.TF_LOG_PATH;
  return env;
}

/**
 * Runs the example app (examples/basic/main.ts) with tsx, the way a user runs it, in `cwd` (where
 * its local state file will live) with `context` as CDKTF_CONTEXT_JSON. Answers the stack's
 * directory, holding cdk.tf.json.
 */
export async function synthesizeExample(cwd: string, outdir: string, context: Record<string, unknown> = {}): Promise<{ stackDir: string; run: RunResult }> {
  fs.mkdirSync(cwd, { recursive: true });
  const r = await run(TSX, [EXAMPLE_MAIN], {
    cwd,
    env: { ...process.env, CDKTF_OUTDIR: outdir, CDKTF_CONTEXT_JSON: JSON.stringify(context) },
    timeoutMs: 120_000,
  });
  if (r.code !== 0) throw new Error(`the example app failed:\n${explain(r)}`);
  return { stackDir: path.join(outdir, "stacks", EXAMPLE_STACK), run: r };
}
