// `npm run pack -- <out dir>`: the three packages a user installs outside this repository, as
// `npm pack` tarballs of JavaScript with type declarations:
//
//   @capydb/api                 the typed client and the API's schemas
//   @capydb/cdktf-constructs    the CDK for Terraform constructs (peers: cdktf, constructs)
//   @capydb/server              the server and the `capydb` CLI (`capydb start`, `capydb cutovers …`)
//
// In this repository the packages export their TypeScript sources (tests and `npm start` run
// them through tsx/vitest). A package is built with its tsconfig.build.json into dist/, then
// staged in <out dir>/.stage/<name> with a manifest whose exports point at dist/ (and without
// `private`, scripts and devDependencies), and packed there. Before packing, every bare import
// in the built JavaScript must be a Node built-in or a declared dependency: a package that
// works here because the workspace hoists something it forgot to declare is refused.
import { execFile } from "node:child_process";
import fs from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

type Exports = Record<string, { types: string; default: string }>;

interface PackageSpec {
  dir: string;
  exports: Exports;
  bin?: Record<string, { file: string; text: string }>;
  /** Imported only when the package runs from its TypeScript sources (never from dist/): not a dependency. */
  sourceOnly?: string[];
  /** Files the built code reads at run time, copied next to it: [from (in src), to (in dist)]. */
  assets?: [string, string][];
}

const entry = (file: string) => ({ types: `./dist/${file}.d.ts`, default: `./dist/${file}.js` });

export const PACKAGES: PackageSpec[] = [
  { dir: "packages/api", exports: { ".": entry("index") } },
  {
    dir: "cdktf-constructs",
    exports: { ".": entry("index"), "./bindings": entry(".gen/providers/capydb/index") },
  },
  {
    dir: "server",
    exports: { ".": entry("server"), "./config": entry("config") },
    bin: {
      capydb: {
        file: "bin/capydb.js",
        // the CLI's module runs itself when argv[1] is a `capydb` executable (this file or npm's link to it)
        text: '#!/usr/bin/env node\n// `capydb`: the operator CLI, and `capydb start` the server.\nawait import("../dist/cli/main.js");\n',
      },
    },
    assets: [["src/platform/store/migrations", "dist/platform/store/migrations"]],
    // the schema-diff worker registers tsx only when it runs as a .ts file
    sourceOnly: ["tsx"],
  },
];

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
}

/** Every file under dir, relative paths. */
function walk(dir: string, base = dir): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const at = path.join(dir, d.name);
    return d.isDirectory() ? walk(at, base) : [path.relative(base, at)];
  });
}

/** The package a bare specifier names ("@a/b/c" → "@a/b", "x/y" → "x"); null for relative ones and built-ins. */
export function packageOf(specifier: string): string | null {
  if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("node:")) return null;
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
  return builtinModules.includes(name) ? null : name;
}

/** The packages the built JavaScript imports (static and dynamic imports with a literal). */
export function importedPackages(distDir: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of walk(distDir).filter((f) => f.endsWith(".js"))) {
    const text = fs.readFileSync(path.join(distDir, file), "utf8");
    const specifiers = [
      ...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+["']([^"']+)["']/gm),
      ...text.matchAll(/^\s*import\s+["']([^"']+)["']/gm),
      ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
      ...text.matchAll(/\b(?:require|resolve)\(\s*["']([^"']+)["']\s*\)/g),
    ].map((m) => m[1]);
    for (const s of specifiers) {
      const pkg = packageOf(s);
      if (pkg && !found.has(pkg)) found.set(pkg, file);
    }
  }
  return found;
}

async function build(dir: string): Promise<void> {
  const abs = path.join(ROOT, dir);
  fs.rmSync(path.join(abs, "dist"), { recursive: true, force: true });
  const tsc = path.join(ROOT, "node_modules/typescript/bin/tsc");
  await run(process.execPath, [tsc, "-p", path.join(abs, "tsconfig.build.json")], { cwd: abs, maxBuffer: 16 * 1024 * 1024 }).catch((err: unknown) => {
    const e = err as { stdout?: string; message: string };
    throw new Error(`building ${dir} failed:\n${e.stdout ?? e.message}`);
  });
}

/** Builds, stages and packs one package; answers the tarball's path. */
async function pack(spec: PackageSpec, outDir: string, versions: Map<string, string>): Promise<string> {
  const src = path.join(ROOT, spec.dir);
  await build(spec.dir);
  for (const [from, to] of spec.assets ?? []) fs.cpSync(path.join(src, from), path.join(src, to), { recursive: true });
  const manifest = readJson(path.join(src, "package.json"));
  const name = manifest.name as string;
  const dependencies = { ...((manifest.dependencies ?? {}) as Record<string, string>) };
  const peers = (manifest.peerDependencies ?? {}) as Record<string, string>;
  // the packages of this repository depend on each other's exact version
  for (const dep of Object.keys(dependencies)) if (versions.has(dep)) dependencies[dep] = versions.get(dep)!;
  const undeclared = [...importedPackages(path.join(src, "dist"))].filter(
    ([pkg]) => !(pkg in dependencies) && !(pkg in peers) && pkg !== name && !(spec.sourceOnly ?? []).includes(pkg),
  );
  if (undeclared.length) {
    throw new Error(`${name} imports packages it does not declare: ${undeclared.map(([pkg, file]) => `${pkg} (dist/${file})`).join(", ")}`);
  }

  const stage = path.join(outDir, ".stage", name.replace("/", "+"));
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  fs.cpSync(path.join(src, "dist"), path.join(stage, "dist"), { recursive: true });
  const readme = fs.existsSync(path.join(src, "README.md")) ? path.join(src, "README.md") : path.join(ROOT, "README.md");
  fs.copyFileSync(readme, path.join(stage, "README.md"));
  fs.copyFileSync(path.join(ROOT, "LICENSE"), path.join(stage, "LICENSE"));
  const bin: Record<string, string> = {};
  for (const [command, b] of Object.entries(spec.bin ?? {})) {
    fs.mkdirSync(path.dirname(path.join(stage, b.file)), { recursive: true });
    fs.writeFileSync(path.join(stage, b.file), b.text, { mode: 0o755 });
    bin[command] = `./${b.file}`;
  }
  const root = readJson(path.join(ROOT, "package.json"));
  const staged: Record<string, unknown> = {
    name,
    version: manifest.version,
    description: manifest.description ?? root.description,
    license: manifest.license,
    type: "module",
    engines: root.engines,
    exports: spec.exports,
    types: spec.exports["."].types,
    ...(Object.keys(bin).length ? { bin } : {}),
    files: ["dist", "README.md", "LICENSE", ...Object.values(spec.bin ?? {}).map((b) => b.file)],
    dependencies,
    ...(Object.keys(peers).length ? { peerDependencies: peers } : {}),
  };
  fs.writeFileSync(path.join(stage, "package.json"), JSON.stringify(staged, null, 2) + "\n");
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", outDir], {
    cwd: stage,
    maxBuffer: 16 * 1024 * 1024,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", npm_config_update_notifier: "false" },
  });
  const [info] = JSON.parse(stdout) as { filename: string }[];
  return path.join(outDir, info.filename);
}

/** Packs every package into outDir (dependencies first); answers the tarballs by package name. */
export async function packAll(outDir: string): Promise<Map<string, string>> {
  fs.mkdirSync(outDir, { recursive: true });
  const versions = new Map(
    PACKAGES.map((p) => [readJson(path.join(ROOT, p.dir, "package.json")).name as string, readJson(path.join(ROOT, p.dir, "package.json")).version as string]),
  );
  const tarballs = new Map<string, string>();
  for (const spec of PACKAGES) {
    const name = readJson(path.join(ROOT, spec.dir, "package.json")).name as string;
    tarballs.set(name, await pack(spec, outDir, versions));
  }
  fs.rmSync(path.join(outDir, ".stage"), { recursive: true, force: true });
  return tarballs;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write("usage: npm run pack -- <out dir>\n");
    process.exit(2);
  }
  packAll(path.resolve(out)).then(
    (tarballs) => {
      for (const [name, file] of tarballs) process.stdout.write(`${name}: ${file}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`pack: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
