// `npm run generate`: the provider's schema → @cdktf/provider-generator → src/.gen/ (committed).
//
// The schema comes from the provider itself (`terraform-provider-capydb schema`, the format of
// `terraform providers schema -json`), so the bindings follow packages/terraform-provider with no
// registry and no `cdktf get`. The generator writes CommonJS-flavoured TypeScript; two mechanical
// edits make it an ES module package under NodeNext (see esmify below). Everything here is
// deterministic: test/cdktf/bindings.test.ts regenerates into a scratch directory and fails when
// the committed files differ.
//
//   npm run generate             rewrite src/.gen from the provider's current schema
//   npm run generate -- --check  exit 1 (and list the files) when src/.gen is stale
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));
export const GENERATED_DIR = path.join(PACKAGE_DIR, "src", ".gen");
export const PROVIDER_EXECUTABLE = path.join(PACKAGE_DIR, "..", "packages", "terraform-provider", "bin", "terraform-provider-capydb");

/** The part of `terraform providers schema -json` the generator reads. */
export interface ProviderSchemaJson {
  format_version: string;
  provider_schemas: Record<string, unknown>;
  provider_versions?: Record<string, string>;
}

export interface ProviderDescription {
  schema: ProviderSchemaJson;
  /** e.g. "0.1.0", from `terraform-provider-capydb version`. */
  version: string;
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Asks the provider for its schema and version (asynchronously: callers may serve HTTP meanwhile). */
export async function readProvider(executable = PROVIDER_EXECUTABLE): Promise<ProviderDescription> {
  const [schemaText, versionText] = await Promise.all([run(executable, ["schema"]), run(executable, ["version"])]);
  const version = /(\d+\.\d+\.\d+\S*)\s*$/.exec(versionText.trim())?.[1];
  if (!version) throw new Error(`cannot read a version from "${versionText.trim()}"`);
  return { schema: JSON.parse(schemaText) as ProviderSchemaJson, version };
}

/**
 * The version constraint recorded in the bindings' metadata: the patch releases of the version
 * they were generated from. (cdktf 0.21 writes the exact `providerVersion` into
 * `required_providers` when it has one, so a synthesized stack pins the version the bindings were
 * generated from; a new provider version means running `npm run generate` again.)
 */
export function versionConstraint(version: string): string {
  const [major, minor] = version.split(".");
  return `~> ${major}.${minor}.0`;
}

/**
 * The two edits that turn the generator's output into an ES module package:
 * - relative specifiers get explicit `/index.js` (NodeNext resolves nothing implicitly);
 * - lazy-index.ts goes: it defines getters on CommonJS `exports`, which an ES module has not.
 */
function esmify(dir: string): void {
  fs.rmSync(path.join(dir, "providers", "capydb", "lazy-index.ts"), { force: true });
  for (const file of listFiles(dir)) {
    if (!file.endsWith(".ts")) continue;
    const full = path.join(dir, file);
    const text = fs.readFileSync(full, "utf8");
    const fixed = text.replace(/(from\s+['"])(\.{1,2}\/[^'"]+?)(['"])/g, (_m, open: string, spec: string, close: string) =>
      spec.endsWith(".js") ? `${open}${spec}${close}` : `${open}${spec}/index.js${close}`,
    );
    if (fixed !== text) fs.writeFileSync(full, fixed);
  }
}

const GENERATED_README = `# Generated bindings: do not edit

Written by \`npm run generate\` (scripts/generate-bindings.ts) from the schema that
\`packages/terraform-provider/bin/terraform-provider-capydb schema\` prints, with
\`@cdktf/provider-generator\`. These are the L1 classes (one per Terraform resource, data source and
the provider); the hand-written constructs in \`src/\` build on them. A test fails when these files
differ from a fresh generation: after changing the provider's schema, run \`npm run generate\`.

(The "Docs at Terraform Registry" links the generator writes point at registry.terraform.io,
which does not host this provider: the attribute descriptions above them are the documentation.)
`;

/**
 * Loads the generator, quietly and privately. @cdktf/commons spawns `terraform version` as it
 * loads: Terraform prints a warning when TF_CLI_CONFIG_FILE names a missing file, so the spawn
 * gets an empty configuration then; and where that spawn fails (no terraform), commons reports the
 * error to HashiCorp's checkpoint service (and writes ~/.cdktf/config.json) unless
 * CHECKPOINT_DISABLE is set, which it reads once, as it loads. Both variables are restored after.
 */
async function loadGenerator() {
  const saved = { TF_CLI_CONFIG_FILE: process.env.TF_CLI_CONFIG_FILE, CHECKPOINT_DISABLE: process.env.CHECKPOINT_DISABLE };
  if (saved.TF_CLI_CONFIG_FILE !== undefined && !fs.existsSync(saved.TF_CLI_CONFIG_FILE)) process.env.TF_CLI_CONFIG_FILE = os.devNull;
  process.env.CHECKPOINT_DISABLE = "1";
  try {
    const generator = await import("@cdktf/provider-generator");
    const commons = await import("@cdktf/commons");
    return {
      CodeMaker: generator.CodeMaker,
      TerraformProviderGenerator: generator.TerraformProviderGenerator,
      ConstructsMakerProviderTarget: commons.ConstructsMakerProviderTarget,
      LANGUAGES: commons.LANGUAGES,
      TerraformProviderConstraint: commons.TerraformProviderConstraint,
    };
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** Generates the bindings of `provider` into `outDir` (emptied first). */
export async function generateBindings(outDir: string, provider: ProviderDescription): Promise<void> {
  const { CodeMaker, TerraformProviderGenerator, ConstructsMakerProviderTarget, LANGUAGES, TerraformProviderConstraint } = await loadGenerator();

  const fqpns = Object.keys(provider.schema.provider_schemas);
  if (fqpns.length !== 1) throw new Error(`expected the schema of one provider, got ${fqpns.join(", ") || "none"}`);
  const schema = { ...provider.schema, provider_versions: { [fqpns[0]]: provider.version } };
  const code = new CodeMaker();
  const generator = new TerraformProviderGenerator(code, schema as never);
  const source = fqpns[0].split("/").slice(-2).join("/"); // capydb/capydb
  generator.generate(
    new ConstructsMakerProviderTarget(new TerraformProviderConstraint(`${source}@${versionConstraint(provider.version)}`), LANGUAGES[0]),
  );

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-bindings-"));
  try {
    await code.save(scratch);
    esmify(scratch);
    fs.writeFileSync(path.join(scratch, "README.md"), GENERATED_README);
    fs.rmSync(outDir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(outDir), { recursive: true });
    fs.cpSync(scratch, outDir, { recursive: true });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** Files under `dir`, relative, sorted. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

/** Files that differ between two trees (added, removed or changed), relative paths. */
export function diffTrees(expectedDir: string, actualDir: string): string[] {
  const expected = listFiles(expectedDir);
  const actual = listFiles(actualDir);
  const all = [...new Set([...expected, ...actual])].sort();
  return all.filter((f) => {
    const a = path.join(expectedDir, f);
    const b = path.join(actualDir, f);
    return !fs.existsSync(a) || !fs.existsSync(b) || !fs.readFileSync(a).equals(fs.readFileSync(b));
  });
}

async function main(argv: string[]): Promise<number> {
  const check = argv.includes("--check");
  const provider = await readProvider();
  if (!check) {
    await generateBindings(GENERATED_DIR, provider);
    process.stdout.write(`generated ${listFiles(GENERATED_DIR).length} files into ${path.relative(process.cwd(), GENERATED_DIR) || "."} (provider ${provider.version})\n`);
    return 0;
  }
  const fresh = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-bindings-check-"));
  try {
    await generateBindings(fresh, provider);
    const stale = diffTrees(fresh, GENERATED_DIR);
    if (stale.length === 0) {
      process.stdout.write("src/.gen is up to date\n");
      return 0;
    }
    process.stderr.write(`src/.gen differs from a fresh generation (run npm run generate):\n${stale.map((f) => `  ${f}`).join("\n")}\n`);
    return 1;
  } finally {
    fs.rmSync(fresh, { recursive: true, force: true });
  }
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`generate: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
