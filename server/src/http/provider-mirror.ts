// The Terraform provider, served by the server it manages: the release files that
// `npm run release -w packages/terraform-provider -- <dir>` wrote (CAPYDB_PROVIDER_RELEASE_DIR),
// and a provider network mirror over them (Terraform's "Provider Network Mirror Protocol"), so
// that a CLI configuration with
//
//   provider_installation {
//     network_mirror { url = "https://<capydb>/terraform/providers/v1/" }
//   }
//
// installs it (Terraform talks to network mirrors over HTTPS only: CAPYDB_TLS_CERT_FILE /
// CAPYDB_TLS_KEY_FILE, or a proxy in front). Public, like the provider itself: no API key.
//
//   GET /terraform/providers/v1/:hostname/capydb/capydb/index.json         {"versions":{"0.1.0":{}}}
//   GET /terraform/providers/v1/:hostname/capydb/capydb/0.1.0.json         {"archives":{"linux_amd64":{"url":"…zip","hashes":["h1:…","zh:…"]}}}
//   GET /terraform/providers/v1/:hostname/capydb/capydb/<the zip>          the archive
//   GET /terraform/releases/:version/<file>                                 the release files
//
// Only the file names of a release are served, each matched against the directory's listing:
// no other path reaches the file system.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import zlib from "node:zlib";
import type { FastifyInstance, FastifyReply } from "fastify";
import { notFound } from "./errors.js";

export const PROVIDER_MIRROR_ROUTE = "/terraform/providers/v1/:hostname/:namespace/:type/:file";
export const PROVIDER_RELEASE_ROUTE = "/terraform/releases/:version/:file";
const NAMESPACE = "capydb";
const TYPE = "capydb";
const PREFIX = `terraform-provider-${TYPE}_`;
const ZIP = /^terraform-provider-capydb_(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)_([a-z0-9]+_[a-z0-9]+)\.zip$/;
const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

const inflateRaw = promisify(zlib.inflateRaw);

interface Archive {
  version: string;
  platform: string;
  file: string;
}

/** The archives of the release directory, and its other files by version. */
function listRelease(dir: string): { archives: Archive[]; files: Map<string, Set<string>> } {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    names = [];
  }
  const archives: Archive[] = [];
  const files = new Map<string, Set<string>>();
  const add = (version: string, name: string) => {
    if (!files.has(version)) files.set(version, new Set(["terraform-registry-manifest.json"].filter((n) => names.includes(n))));
    files.get(version)!.add(name);
  };
  for (const name of names) {
    const zip = ZIP.exec(name);
    if (zip) {
      archives.push({ version: zip[1], platform: zip[2], file: name });
      add(zip[1], name);
    }
  }
  for (const name of names) {
    for (const suffix of ["_SHA256SUMS", "_manifest.json"]) {
      if (!name.startsWith(PREFIX) || !name.endsWith(suffix)) continue;
      const version = name.slice(PREFIX.length, -suffix.length);
      if (VERSION.test(version) && files.has(version)) add(version, name);
    }
  }
  return { archives, files };
}

interface Hashes {
  mtimeMs: number;
  size: number;
  hashes: string[];
}

/** An archive's hashes: "h1:" (of its contents, as Terraform's lock file records) and "zh:" (of the zip). */
async function archiveHashes(file: string, cache: Map<string, Hashes>): Promise<string[]> {
  const stat = await fs.promises.stat(file);
  const cached = cache.get(file);
  if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached.hashes;
  const zip = await fs.promises.readFile(file);
  const zh = `zh:${crypto.createHash("sha256").update(zip).digest("hex")}`;
  let hashes = [zh];
  try {
    hashes = [await h1OfZip(zip), zh];
  } catch {
    // not a zip this reader understands: Terraform checks the zh: hash alone
  }
  cache.set(file, { mtimeMs: stat.mtimeMs, size: stat.size, hashes });
  return hashes;
}

/**
 * Go's dirhash.Hash1 over the zip's files, as Terraform computes "h1:": the SHA-256 of the lines
 * "<sha256 hex of the file>  <name>\n", sorted by name, in base64.
 */
async function h1OfZip(zip: Buffer): Promise<string> {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error("no end of central directory");
  const count = zip.readUInt16LE(end + 10);
  let p = zip.readUInt32LE(end + 16);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error("bad central directory");
    const method = zip.readUInt16LE(p + 10);
    const compressedSize = zip.readUInt32LE(p + 20);
    const nameLength = zip.readUInt16LE(p + 28);
    const extraLength = zip.readUInt16LE(p + 30);
    const commentLength = zip.readUInt16LE(p + 32);
    const localOffset = zip.readUInt32LE(p + 42);
    const name = zip.toString("utf8", p + 46, p + 46 + nameLength);
    p += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith("/")) continue; // directories are not hashed
    const dataStart = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const raw = zip.subarray(dataStart, dataStart + compressedSize);
    const data = method === 0 ? raw : method === 8 ? await inflateRaw(raw) : null;
    if (!data) throw new Error(`compression method ${method}`);
    lines.push(`${crypto.createHash("sha256").update(data).digest("hex")}  ${name}\n`);
  }
  lines.sort((a, b) => (a.slice(66) < b.slice(66) ? -1 : a.slice(66) > b.slice(66) ? 1 : 0));
  return `h1:${crypto.createHash("sha256").update(lines.join("")).digest("base64")}`;
}

function sendFile(reply: FastifyReply, file: string): FastifyReply {
  const type = file.endsWith(".zip") ? "application/zip" : file.endsWith(".json") ? "application/json" : "text/plain; charset=utf-8";
  const size = fs.statSync(file).size;
  return reply.type(type).header("content-length", size).send(fs.createReadStream(file));
}

export function providerMirrorRoutes(app: FastifyInstance, releaseDir: string | null): void {
  const cache = new Map<string, Hashes>();
  const release = () => {
    if (!releaseDir) {
      throw notFound(
        "this server does not serve the Terraform provider: set CAPYDB_PROVIDER_RELEASE_DIR to the directory " +
          "`npm run release -w packages/terraform-provider -- <dir>` wrote, and restart it",
      );
    }
    return listRelease(releaseDir);
  };

  app.get<{ Params: { hostname: string; namespace: string; type: string; file: string } }>(PROVIDER_MIRROR_ROUTE, async (req, reply) => {
    const { namespace, type, file } = req.params;
    const { archives } = release();
    if (namespace.toLowerCase() !== NAMESPACE || type.toLowerCase() !== TYPE) {
      throw notFound(`this mirror serves only the ${NAMESPACE}/${TYPE} provider, not ${namespace}/${type}`);
    }
    if (file === "index.json") {
      if (archives.length === 0) throw notFound(`no provider release in CAPYDB_PROVIDER_RELEASE_DIR`);
      return { versions: Object.fromEntries(archives.map((a) => [a.version, {}])) };
    }
    if (file.endsWith(".json")) {
      const version = file.slice(0, -".json".length);
      const ofVersion = archives.filter((a) => a.version === version);
      if (ofVersion.length === 0) throw notFound(`no release of the provider with version ${version.slice(0, 100)}`);
      const entries = await Promise.all(
        ofVersion.map(async (a) => [a.platform, { url: a.file, hashes: await archiveHashes(path.join(releaseDir!, a.file), cache) }] as const),
      );
      return { archives: Object.fromEntries(entries) };
    }
    const archive = archives.find((a) => a.file === file);
    if (!archive) throw notFound(`no such file in the provider mirror: ${file.slice(0, 200)}`);
    return sendFile(reply, path.join(releaseDir!, archive.file));
  });

  app.get<{ Params: { version: string; file: string } }>(PROVIDER_RELEASE_ROUTE, async (req, reply) => {
    const { version, file } = req.params;
    const names = release().files.get(version);
    if (!names) throw notFound(`no release of the provider with version ${version.slice(0, 100)}`);
    if (!names.has(file)) throw notFound(`no such file in release ${version}: ${file.slice(0, 200)}`);
    return sendFile(reply, path.join(releaseDir!, file));
  });
}
