// Builds the provider into files plain `node` runs without tsx or node_modules: what a filesystem
// mirror ships. Terraform starts a provider three times for one `terraform plan`, so start time
// counts (the goal is a handshake within 300 ms):
//
// - CommonJS bundles (esbuild): the provider with gRPC; zod; the API's zod schemas, which
//   validation needs; the API client (on Node's fetch), which configuration needs. The provider loads
//   the last three only when first needed, after the handshake: the first of Terraform's three
//   starts (schema only) loads none, the second (validate) not the client. Each library is in
//   one bundle only, so zod is one instance. @grpc/proto-loader stays out: grpc-js loads it only
//   for channelz, which we do not serve.
// - V8's code cache of each bundle, made at build time by running the provider's warm-up
//   (src/warmup.ts), so a start neither parses nor compiles what it runs. A node whose V8 differs
//   rejects the cache and compiles as usual: slower, never wrong.
// - a loader per bundle (BUNDLE_NAME is the provider's), which compiles the bundle with its cache
//   (node:vm) and runs it.
import { execFile } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Plugin } from "esbuild";

export const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));
export const BUNDLE_NAME = "capydb-provider.cjs";
const API_LOADER = "capydb-api.cjs";
const SCHEMAS_LOADER = "capydb-api-schemas.cjs";
const ZOD_LOADER = "capydb-zod.cjs";

const bundleOf = (loader: string) => loader.replace(/\.cjs$/, ".bundle.cjs");
const cacheOf = (loader: string) => loader.replace(/\.cjs$/, ".bundle.v8cache");

function loaderSource(loader: string): string {
  return `"use strict";
// terraform-provider-capydb: built from packages/terraform-provider by src/bundle.ts; do not edit.
// Runs ${bundleOf(loader)}, compiled with V8's code cache (${cacheOf(loader)}) when this node accepts it.
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const { wrap } = require("node:module");
const file = path.join(__dirname, ${JSON.stringify(bundleOf(loader))});
const cacheFile = path.join(__dirname, ${JSON.stringify(cacheOf(loader))});
let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {}
const script = new vm.Script(wrap(fs.readFileSync(file, "utf8")), { filename: file, cachedData });
if (process.env.CAPYDB_PROVIDER_WRITE_CODE_CACHE === "1") {
  process.once("beforeExit", () => fs.writeFileSync(cacheFile, script.createCachedData()));
}
script.runInThisContext().call(module.exports, module.exports, require, module, file, __dirname);
`;
}

/** Makes imports matching `filter` (from files under `fromDir`) requires of `loader` next to the bundle. */
function beside(filter: RegExp, loader: string, fromDir?: string): Plugin {
  return {
    name: `beside-${loader}`,
    setup(b) {
      b.onResolve({ filter }, (args) => (fromDir && !args.importer.startsWith(fromDir) ? undefined : { path: `./${loader}`, external: true }));
    },
  };
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [file, ...args], { env, timeout: 60_000 }, (err, _stdout, stderr) =>
      err ? reject(new Error(`${path.basename(file)} ${args.join(" ")} failed: ${err.message}\n${stderr}`)) : resolve(),
    ),
  );
}

/**
 * esbuild's options for every build of the provider (these bundles and the release's single
 * executable): one CommonJS file for Node 20, minified. import() becomes require(): a script
 * compiled by node:vm, or a single executable's, has no dynamic import.
 */
export const ESBUILD_COMMON = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  minify: true,
  legalComments: "eof",
  supported: { "dynamic-import": false },
  logLevel: "warning",
} as const;

/** The banner of a built file: which script made it. */
export const builtBy = (script: string) => ({ js: `// terraform-provider-capydb: built from packages/terraform-provider by ${script}; do not edit.` });

/** Writes the loaders, bundles and code caches into `outdir`; answers the files written. */
export async function buildBundle(outdir: string): Promise<string[]> {
  const { build } = await import("esbuild");
  fs.mkdirSync(outdir, { recursive: true });
  const common = { ...ESBUILD_COMMON, banner: builtBy("src/bundle.ts") } as const;
  // The API package's own layout: its entry point, and schemas.ts beside it.
  const apiEntry = createRequire(path.join(PACKAGE_DIR, "package.json")).resolve("@capydb/api");
  const apiDir = path.dirname(apiEntry);
  await build({
    ...common,
    entryPoints: [path.join(PACKAGE_DIR, "src", "main.ts")],
    outfile: path.join(outdir, bundleOf(BUNDLE_NAME)),
    external: ["@grpc/proto-loader"],
    plugins: [beside(/^@capydb\/api$/, API_LOADER), beside(/\/api-schemas\.js$/, SCHEMAS_LOADER, path.join(PACKAGE_DIR, "src"))],
  });
  const zodBeside = beside(/^zod$/, ZOD_LOADER);
  await build({
    ...common,
    entryPoints: [createRequire(apiEntry).resolve("zod")],
    outfile: path.join(outdir, bundleOf(ZOD_LOADER)),
  });
  await build({
    ...common,
    entryPoints: [path.join(apiDir, "schemas.ts")],
    outfile: path.join(outdir, bundleOf(SCHEMAS_LOADER)),
    plugins: [zodBeside],
  });
  await build({
    ...common,
    entryPoints: [apiEntry],
    outfile: path.join(outdir, bundleOf(API_LOADER)),
    plugins: [zodBeside, beside(/^\.\/schemas\.js$/, SCHEMAS_LOADER, apiDir)],
  });
  const files: string[] = [];
  for (const loader of [BUNDLE_NAME, ZOD_LOADER, SCHEMAS_LOADER, API_LOADER]) {
    fs.writeFileSync(path.join(outdir, loader), loaderSource(loader));
    fs.rmSync(path.join(outdir, cacheOf(loader)), { force: true });
    files.push(...[loader, bundleOf(loader), cacheOf(loader)].map((f) => path.join(outdir, f)));
  }
  await run(path.join(outdir, BUNDLE_NAME), ["__warmup"], { ...process.env, CAPYDB_PROVIDER_WRITE_CODE_CACHE: "1", NODE_OPTIONS: "" });
  for (const f of files) if (!fs.existsSync(f)) throw new Error(`the build did not write ${f}`);
  return files;
}
