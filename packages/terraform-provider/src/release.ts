// The provider's release files, as Terraform users and HashiCorp's release tooling expect them:
//
//   terraform-provider-capydb_<version>_linux_amd64.zip   a single executable, no Node needed
//   terraform-provider-capydb_<version>_manifest.json     = terraform-registry-manifest.json
//   terraform-provider-capydb_<version>_SHA256SUMS        sha256sum's format, over the two above
//   terraform-registry-manifest.json                      {"version":1,"metadata":{"protocol_versions":["6.0"]}}
//
// The executable is a Node single-executable application (SEA): this node's own binary with the
// provider injected as a blob (postject). Node 20's SEA runs one CommonJS script that may require
// only built-in modules, so esbuild bundles everything into one file; the blob carries V8's code
// cache of that script (useCodeCache), so a start does not compile it. The platform is the one
// this node runs on: a release for another platform is built on that platform.
//
//   npm run release -w packages/terraform-provider -- <out dir>
//
// A CapyDB server with CAPYDB_PROVIDER_RELEASE_DIR=<out dir> serves these files and a provider
// network mirror (server/src/http/provider-mirror.ts).
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ESBUILD_COMMON, PACKAGE_DIR, builtBy } from "./bundle.js";
import { currentPlatform, zipFiles } from "./mirror.js";
import { PROVIDER_VERSION } from "./registry.js";

export const PROVIDER_TYPE = "capydb";
export const REGISTRY_MANIFEST = { version: 1, metadata: { protocol_versions: ["6.0"] } };
/** The fuse Node's SEA looks for in its binary (postject flips it once the blob is in). */
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

export interface ReleaseFiles {
  version: string;
  platform: string;
  zip: string;
  sha256sums: string;
  manifest: string;
  registryManifest: string;
}

/** The names of one version's release files (the server serves only these). */
export function releaseFileNames(version: string, platform: string) {
  const base = `terraform-provider-${PROVIDER_TYPE}_${version}`;
  return {
    zip: `${base}_${platform}.zip`,
    sha256sums: `${base}_SHA256SUMS`,
    manifest: `${base}_manifest.json`,
    registryManifest: "terraform-registry-manifest.json",
    executable: `terraform-provider-${PROVIDER_TYPE}_v${version}`,
  };
}

function run(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { ...options, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${path.basename(file)} ${args.join(" ")} failed: ${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
}

/** One CommonJS file holding the provider and everything it requires but Node's built-ins. */
export async function buildSeaScript(outfile: string): Promise<void> {
  const { build } = await import("esbuild");
  await build({
    entryPoints: [path.join(PACKAGE_DIR, "src", "main.ts")],
    outfile,
    ...ESBUILD_COMMON,
    // grpc-js requires it only for channelz, which the provider does not serve.
    external: ["@grpc/proto-loader"],
    banner: builtBy("src/release.ts"),
    // The @capydb/api package resolves from the provider's own package.
    absWorkingDir: PACKAGE_DIR,
  });
}

/** Builds the single executable at `executable`, in `scratch` (`useCodeCache: false` only to measure what the cache saves). */
export async function buildSingleExecutable(executable: string, scratch: string, options: { useCodeCache?: boolean } = {}): Promise<void> {
  const script = path.join(scratch, "provider-sea.cjs");
  const blob = path.join(scratch, "provider-sea.blob");
  const seaConfig = path.join(scratch, "sea-config.json");
  await buildSeaScript(script);
  fs.writeFileSync(seaConfig, JSON.stringify({ main: script, output: blob, disableExperimentalSEAWarning: true, useCodeCache: options.useCodeCache ?? true }));
  await run(process.execPath, ["--experimental-sea-config", seaConfig], { cwd: scratch, env: { PATH: process.env.PATH ?? "" } });
  fs.copyFileSync(process.execPath, executable);
  fs.chmodSync(executable, 0o755);
  const { inject } = createRequire(path.join(PACKAGE_DIR, "package.json"))("postject") as {
    inject(file: string, resource: string, data: Buffer, options: { sentinelFuse: string }): Promise<void>;
  };
  // postject logs its progress to stdout (console.log): keep it quiet.
  const log = console.log;
  console.log = () => {};
  try {
    await inject(executable, "NODE_SEA_BLOB", fs.readFileSync(blob), { sentinelFuse: SEA_FUSE });
  } finally {
    console.log = log;
  }
}

export function sha256(data: Buffer | string): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}

/**
 * Terraform's "h1:" hash of a package (Go's dirhash.Hash1): the SHA-256 of the lines
 * "<sha256 hex>  <file name>\n" of its files, sorted by name, in base64.
 */
export function h1Hash(files: Array<{ name: string; data: Buffer }>): string {
  const summary = [...files]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((f) => `${sha256(f.data)}  ${f.name}\n`)
    .join("");
  return `h1:${crypto.createHash("sha256").update(summary).digest("base64")}`;
}

/** Writes the release files into `outDir`; answers their paths. */
export async function writeRelease(outDir: string, options: { version?: string } = {}): Promise<ReleaseFiles> {
  const version = options.version ?? PROVIDER_VERSION;
  const platform = currentPlatform();
  const names = releaseFileNames(version, platform);
  fs.mkdirSync(outDir, { recursive: true });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-provider-release-"));
  try {
    const executable = path.join(scratch, names.executable);
    await buildSingleExecutable(executable, scratch);
    const files: ReleaseFiles = {
      version,
      platform,
      zip: path.join(outDir, names.zip),
      sha256sums: path.join(outDir, names.sha256sums),
      manifest: path.join(outDir, names.manifest),
      registryManifest: path.join(outDir, names.registryManifest),
    };
    fs.writeFileSync(files.zip, zipFiles([{ name: names.executable, data: fs.readFileSync(executable), mode: 0o755 }]));
    const manifest = JSON.stringify(REGISTRY_MANIFEST) + "\n";
    fs.writeFileSync(files.manifest, manifest);
    fs.writeFileSync(files.registryManifest, manifest);
    // As HashiCorp's release tooling: the archives and the manifest, sorted by name.
    const sums = [files.zip, files.manifest]
      .map((f) => `${sha256(fs.readFileSync(f))}  ${path.basename(f)}\n`)
      .sort((a, b) => (a.slice(66) < b.slice(66) ? -1 : 1))
      .join("");
    fs.writeFileSync(files.sha256sums, sums);
    return files;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

async function cli(argv: string[]): Promise<void> {
  if (argv.length !== 1 || argv[0].startsWith("-")) {
    process.stderr.write("usage: npm run release -w packages/terraform-provider -- <out dir>\n");
    process.exit(2);
  }
  // npm runs the script in the package's directory; a relative <out dir> is the caller's.
  const outDir = path.resolve(process.env.INIT_CWD ?? process.cwd(), argv[0]);
  const files = await writeRelease(outDir);
  for (const f of [files.zip, files.sha256sums, files.manifest, files.registryManifest]) {
    process.stdout.write(`${f} (${fs.statSync(f).size} bytes)\n`);
  }
  process.stdout.write(`\nServe them with a CapyDB server: CAPYDB_PROVIDER_RELEASE_DIR=${outDir}\n`);
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`release: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
