// Picks the blob store from configuration: CAPYDB_BLOB_URL unset → <dataDir>/blobs
// on the local filesystem; file:///abs/path → that directory; s3://bucket/prefix →
// an S3-compatible store (endpoint, region, credentials from the CAPYDB_S3_* settings).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FilesystemBlobStore } from "./filesystem.js";
import { S3BlobStore } from "./s3.js";
import type { BlobStore } from "./store.js";

export * from "./store.js";
export * from "./filesystem.js";
export * from "./s3.js";

export interface BlobStoreConfig {
  blobUrl: string | null;
  dataDir: string;
  s3Endpoint?: string | null;
  s3Region?: string | null;
  s3AccessKeyId?: string | null;
  s3SecretAccessKey?: string | null;
  s3ForcePathStyle?: boolean | null;
}

export function createBlobStore(config: BlobStoreConfig): BlobStore {
  const url = config.blobUrl?.trim() || null;
  if (url === null) return new FilesystemBlobStore(path.join(config.dataDir, "blobs"));

  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === "file") {
    let dir: string;
    try {
      dir = fileURLToPath(url);
    } catch (err) {
      throw new Error(`invalid blob URL ${JSON.stringify(url)}: ${(err as Error).message} (expected file:///absolute/path)`);
    }
    if (!path.isAbsolute(dir)) throw new Error(`invalid blob URL ${JSON.stringify(url)}: expected file:///absolute/path`);
    return new FilesystemBlobStore(path.resolve(dir));
  }
  if (scheme === "s3") {
    // Never echo an s3 URL back whole: someone may have put credentials in it.
    const m = /^s3:\/\/([^/?#]+)\/?([^?#]*)$/i.exec(url);
    if (!m) throw new Error("invalid blob URL: expected s3://bucket or s3://bucket/prefix");
    const bucket = m[1]!;
    if (bucket.includes("@") || bucket.includes(":")) {
      throw new Error("invalid blob URL: s3://bucket/prefix must not contain credentials or a port; use the CAPYDB_S3_* settings");
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/.test(bucket)) {
      throw new Error(`invalid blob URL: bad S3 bucket name ${JSON.stringify(bucket.slice(0, 100))}`);
    }
    let prefix: string;
    try {
      prefix = decodeURIComponent(m[2] ?? "");
    } catch {
      throw new Error("invalid blob URL: bad percent-encoding in the s3 prefix");
    }
    return new S3BlobStore({
      bucket,
      prefix,
      endpoint: config.s3Endpoint || null,
      region: config.s3Region || null,
      accessKeyId: config.s3AccessKeyId || null,
      secretAccessKey: config.s3SecretAccessKey || null,
      forcePathStyle: config.s3ForcePathStyle ?? null,
    });
  }
  throw new Error(
    `unsupported blob URL scheme ${JSON.stringify(scheme ? `${scheme}:` : url.slice(0, 20))}: CAPYDB_BLOB_URL must be file:///absolute/path or s3://bucket/prefix (or unset for <dataDir>/blobs)`,
  );
}
