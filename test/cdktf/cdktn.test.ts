// Can CDK Terrain (cdktn 0.24, the community fork of CDKTF) consume these constructs?
//
// The claim the README makes, tested here: yes, unchanged (hand-written constructs and generated
// bindings alike), when the name `cdktf` resolves to the cdktn package — what a consumer gets
// with `"cdktf": "npm:cdktn@0.24.0"` plus `"overrides": { "cdktf": "$cdktf" }` in package.json.
// Each scenario is a scratch project whose node_modules point `cdktf` at the cdktn package
// installed in this repository, running the example app with tsx as a user would.
// Mixing instead (a cdktn App/stack around constructs built on the real cdktf 0.21) fails at synth.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_DIR, REPO_DIR, TSX, explain, providerMirror, run, synthesizeExample, tempDir, terraformEnv, terraformVersion } from "./support.js";

const CDKTN_DIR = path.join(REPO_DIR, "node_modules", "cdktn");
const cdktnVersion = fs.existsSync(CDKTN_DIR)
  ? (JSON.parse(fs.readFileSync(path.join(CDKTN_DIR, "package.json"), "utf8")) as { version: string }).version
  : null;
if (!cdktnVersion) console.warn("cdktf cdktn.test.ts: skipped: cdktn is not installed (npm i -w cdktf-constructs -D cdktn@0.24.0)");
const tfVersion = await terraformVersion();
if (cdktnVersion && !tfVersion) console.warn("cdktf cdktn.test.ts: terraform validate of cdktn's output skipped: no `terraform` on the PATH");

function link(target: string, at: string): void {
  fs.mkdirSync(path.dirname(at), { recursive: true });
  fs.symlinkSync(target, at, "dir");
}

/**
 * A consumer project: @capydb/cdktf-constructs (a copy of the package: its src/ and package.json)
 * and the example app, with `cdktf` → cdktn and `constructs` → this repository's copy.
 */
function consumerProject(root: string): string {
  const pkg = path.join(root, "capydb-cdktf-constructs");
  fs.mkdirSync(pkg, { recursive: true });
  fs.cpSync(path.join(PACKAGE_DIR, "src"), path.join(pkg, "src"), { recursive: true });
  fs.copyFileSync(path.join(PACKAGE_DIR, "package.json"), path.join(pkg, "package.json"));
  fs.cpSync(path.join(PACKAGE_DIR, "examples"), path.join(root, "examples"), { recursive: true });
  link(CDKTN_DIR, path.join(root, "node_modules", "cdktf"));
  link(path.join(REPO_DIR, "node_modules", "constructs"), path.join(root, "node_modules", "constructs"));
  link(pkg, path.join(root, "node_modules", "@capydb", "cdktf-constructs"));
  return path.join(root, "examples", "basic", "main.ts");
}

/** cdk.tf.json without what legitimately differs between runs: the version stamp and the state path. */
function comparable(stackDir: string): unknown {
  const doc = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")) as {
    "//"?: { metadata?: { version?: string } };
    terraform: { backend?: { local?: { path?: string } } };
  };
  delete doc["//"]?.metadata?.version;
  delete doc.terraform.backend?.local?.path;
  return doc;
}

describe.skipIf(!cdktnVersion)(`cdktn ${cdktnVersion ?? ""} consuming the same constructs`, () => {
  let root: string;
  let consumerMain: string;
  let cdktfStackDir: string;
  let cdktnStackDir: string;

  beforeAll(async () => {
    root = tempDir("capydb-cdktn-");
    consumerMain = consumerProject(path.join(root, "consumer"));
    // The same example, synthesized with cdktf 0.21 (this repository) and with cdktn.
    ({ stackDir: cdktfStackDir } = await synthesizeExample(path.join(root, "cdktf-run"), path.join(root, "cdktf-out")));
    const r = await run(TSX, [consumerMain], {
      cwd: path.dirname(consumerMain),
      env: { ...process.env, CDKTF_OUTDIR: path.join(root, "cdktn-out") },
      timeoutMs: 120_000,
    });
    expect(r.code, explain(r)).toBe(0);
    cdktnStackDir = path.join(root, "cdktn-out", "stacks", "capydb-example");
  }, 180_000);

  afterAll(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it("synthesizes the same Terraform configuration as cdktf 0.21, apart from the version stamp", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, "cdktn-out", "manifest.json"), "utf8")) as { version: string };
    expect(manifest.version).toBe(cdktnVersion); // it really was cdktn
    expect(JSON.parse(fs.readFileSync(path.join(cdktfStackDir, "..", "..", "manifest.json"), "utf8")).version).toBe("0.21.0");
    expect(comparable(cdktnStackDir)).toEqual(comparable(cdktfStackDir));
  });

  it("runs the constructs' synth-time validation", async () => {
    const script = path.join(path.dirname(consumerMain), "invalid.ts");
    fs.writeFileSync(
      script,
      `import { App, TerraformStack } from "cdktf";
import { CapyProject, CapyProvider } from "@capydb/cdktf-constructs";
const app = new App();
const stack = new TerraformStack(app, "invalid");
new CapyProvider(stack, "capydb");
new CapyProject(stack, "db", { name: "", extensions: ["citext", "citext"], backupSchedule: { hour: 24, minute: 60 } });
app.synth();
`,
    );
    const r = await run(TSX, [script], { cwd: path.dirname(script), env: { ...process.env, CDKTF_OUTDIR: path.join(root, "invalid-out") } });
    expect(r.code).not.toBe(0);
    for (const problem of [
      '[invalid/db] name must not be empty; got ""',
      '[invalid/db] extensions: "citext" is listed more than once',
      "[invalid/db/BackupSchedule] backupSchedule.hour must be an integer from 0 to 23 (UTC); got 24",
      "[invalid/db/BackupSchedule] backupSchedule.minute must be an integer from 0 to 59; got 60",
    ]) {
      expect(r.stderr, explain(r)).toContain(problem);
    }
  }, 60_000);

  it.skipIf(!tfVersion)(
    "what cdktn synthesizes passes terraform init (filesystem mirror) and terraform validate",
    async () => {
      const env = terraformEnv(await providerMirror(path.join(root, "tf")));
      const init = await run("terraform", ["init", "-input=false", "-no-color"], { cwd: cdktnStackDir, env });
      expect(init.code, explain(init)).toBe(0);
      const validate = await run("terraform", ["validate", "-json"], { cwd: cdktnStackDir, env });
      expect(validate.code, explain(validate)).toBe(0);
      expect(JSON.parse(validate.stdout)).toMatchObject({ valid: true, error_count: 0 });
    },
    120_000,
  );

  it("but a cdktn App and stack around constructs built on the real cdktf 0.21 fail at synth (so alias, do not mix)", async () => {
    const mixed = path.join(root, "mixed");
    link(CDKTN_DIR, path.join(mixed, "node_modules", "cdktn"));
    link(PACKAGE_DIR, path.join(mixed, "node_modules", "@capydb", "cdktf-constructs")); // its cdktf: 0.21
    fs.writeFileSync(
      path.join(mixed, "main.ts"),
      `import { App, TerraformStack } from "cdktn";
import { CapyProject, CapyProvider } from "@capydb/cdktf-constructs";
const app = new App();
const stack = new TerraformStack(app, "mixed");
new CapyProvider(stack, "capydb");
new CapyProject(stack, "db", { name: "shop" });
app.synth();
`,
    );
    const r = await run(TSX, [path.join(mixed, "main.ts")], { cwd: mixed, env: { ...process.env, CDKTF_OUTDIR: path.join(mixed, "out") } });
    expect(r.code).not.toBe(0);
    expect(r.stderr, explain(r)).toMatch(/TypeError: .* is not a function/);
  }, 60_000);
});
