// Lays the provider out as a Terraform filesystem mirror, so `terraform init` installs it with no
// registry:
//
//   <dir>/registry.terraform.io/capydb/capydb/<version>/<os>_<arch>/terraform-provider-capydb_v<version>
//
// (the "unpacked" layout), or with --zip the "packed" one:
//
//   <dir>/registry.terraform.io/capydb/capydb/terraform-provider-capydb_<version>_<os>_<arch>.zip
//
// The package holds the build of src/bundle.ts (a loader, the bundle, its V8 code cache) and the
// executable Terraform runs: a POSIX sh launcher that finds the loader next to itself (through
// symlinks) and `exec`s node on it, so Terraform's signals reach the provider. Nothing points back
// into this checkout: the mirror can be copied anywhere that has Node 20+ on the PATH (or set
// CAPYDB_PROVIDER_NODE to a node binary).
//
//   npx tsx packages/terraform-provider/src/mirror.ts <dir> [--zip] [--platform linux_amd64]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { BUNDLE_NAME, buildBundle } from "./bundle.js";
import { PROVIDER_ADDRESS, PROVIDER_VERSION } from "./registry.js";

export interface MirrorOptions {
  dir: string;
  version?: string;
  /** Terraform's platform name, e.g. linux_amd64 (default: this machine's). */
  platform?: string;
  zip?: boolean;
}

export function currentPlatform(): string {
  const arch = ({ x64: "amd64", arm64: "arm64", ia32: "386", arm: "arm" } as Record<string, string>)[process.arch] ?? process.arch;
  return `${process.platform === "win32" ? "windows" : process.platform}_${arch}`;
}

export const LAUNCHER = `#!/bin/sh
# terraform-provider-capydb launcher: runs the bundle next to this file with node.
set -e
self=$0
while [ -L "$self" ]; do
  target=$(readlink "$self")
  case $target in
    /*) self=$target ;;
    *) self=$(dirname "$self")/$target ;;
  esac
done
exec "\${CAPYDB_PROVIDER_NODE:-node}" "$(cd "$(dirname "$self")" && pwd -P)/${BUNDLE_NAME}" "$@"
`;

interface ZipEntry {
  name: string;
  data: Buffer;
  mode: number;
}

/** A zip archive (deflate) whose entries keep their Unix modes, as Terraform's installer reads them. */
export function zipFiles(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const [local, central] = zipEntry(e.name, e.data, e.mode, offset);
    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const centralSize = centrals.reduce((n, c) => n + c.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

function zipEntry(name: string, data: Buffer, mode: number, offset: number): [Buffer, Buffer] {
  const nameBytes = Buffer.from(name);
  const deflated = zlib.deflateRawSync(data, { level: 9 });
  const crc = zlib.crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4); // version needed
  local.writeUInt16LE(0, 6); // flags
  local.writeUInt16LE(8, 8); // deflate
  local.writeUInt32LE(0, 10); // time, date
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(deflated.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(nameBytes.length, 26);
  local.writeUInt16LE(0, 28);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, so the mode below is honoured
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(0, 8);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(0, 12);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(deflated.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(nameBytes.length, 28);
  central.writeUInt32LE(0, 30); // extra length, comment length
  central.writeUInt32LE(0, 34); // disk, internal attributes
  central.writeUInt32LE(((0o100000 | mode) << 16) >>> 0, 38);
  central.writeUInt32LE(offset, 42); // offset of the local header
  return [Buffer.concat([local, nameBytes, deflated]), Buffer.concat([central, nameBytes])];
}

/** Writes the mirror; answers the path of the executable or zip it wrote. */
export async function writeFilesystemMirror(options: MirrorOptions): Promise<string> {
  const version = options.version ?? PROVIDER_VERSION;
  const platform = options.platform ?? currentPlatform();
  const providerDir = path.join(path.resolve(options.dir), ...PROVIDER_ADDRESS.split("/"));
  const executableName = `terraform-provider-capydb_v${version}`;
  const unpackedDir = path.join(providerDir, version, platform);
  const zipPath = path.join(providerDir, `terraform-provider-capydb_${version}_${platform}.zip`);
  // One layout per version and platform: Terraform refuses a mirror that offers both.
  fs.rmSync(unpackedDir, { recursive: true, force: true });
  fs.rmSync(zipPath, { force: true });

  if (!options.zip) {
    const executable = path.join(unpackedDir, executableName);
    await buildBundle(unpackedDir);
    fs.writeFileSync(executable, LAUNCHER, { mode: 0o755 });
    return executable;
  }
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-provider-build-"));
  try {
    const files = await buildBundle(scratch);
    fs.mkdirSync(providerDir, { recursive: true });
    fs.writeFileSync(
      zipPath,
      zipFiles([
        { name: executableName, data: Buffer.from(LAUNCHER), mode: 0o755 },
        ...files.map((f) => ({ name: path.basename(f), data: fs.readFileSync(f), mode: 0o644 })),
      ]),
    );
    return zipPath;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function usage(): never {
  process.stderr.write("usage: npx tsx packages/terraform-provider/src/mirror.ts <mirror dir> [--zip] [--platform <os>_<arch>] [--version <x.y.z>]\n");
  process.exit(2);
}

async function cli(argv: string[]): Promise<void> {
  const options: MirrorOptions = { dir: "" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--zip") options.zip = true;
    else if (a === "--platform") options.platform = argv[++i] ?? usage();
    else if (a === "--version") options.version = argv[++i] ?? usage();
    else if (a.startsWith("-") || options.dir) usage();
    else options.dir = a;
  }
  if (!options.dir) usage();
  const written = await writeFilesystemMirror(options);
  process.stdout.write(`${written}\n`);
  process.stdout.write(`\nIn your Terraform CLI configuration (TF_CLI_CONFIG_FILE or ~/.terraformrc):\n
provider_installation {
  filesystem_mirror {
    path    = "${path.resolve(options.dir)}"
    include = ["${PROVIDER_ADDRESS}"]
  }
  direct {
    exclude = ["${PROVIDER_ADDRESS}"]
  }
}\n`);
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`mirror: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
