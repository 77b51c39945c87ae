// Blob storage for backups and uploaded dumps: the local filesystem by default,
// any S3-compatible store when CAPYDB_BLOB_URL=s3://bucket/prefix. Objects are
// streamed in and out, never buffered whole in memory.
import crypto from "node:crypto";
import { Transform, type Readable } from "node:stream";

export interface PutResult {
  sizeBytes: number;
  /** Hex sha256 of the bytes stored, computed while streaming. */
  sha256: string;
}

export interface BlobStore {
  /** A short description for logs and errors ("filesystem /var/capydb/blobs", "s3://bucket/prefix"). */
  readonly description: string;
  /**
   * Stores the stream under key. The object becomes visible only when the whole
   * stream was written: a failed or interrupted put leaves nothing under key.
   */
  put(key: string, body: Readable): Promise<PutResult>;
  /** Streams the object; rejects with BlobNotFound when there is none. */
  get(key: string): Promise<Readable>;
  /** Size of the object, or null when it does not exist. */
  stat(key: string): Promise<{ sizeBytes: number } | null>;
  /** Deletes the object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Where the store is a local directory: a new file that a child process can write
   * the object into directly (its stdout), skipping a trip through this process.
   * Like put, the object becomes visible only on commit.
   */
  fileTarget?(key: string): Promise<FileTarget>;
  /**
   * Where the store is a local directory: the object's own file, for a child process
   * to read directly (pg_restore --jobs needs a seekable file, not a pipe). Rejects
   * with BlobNotFound when there is none.
   */
  localFile?(key: string): Promise<string>;
  /**
   * Removes partial objects whose writer is gone (a server killed mid-put) and
   * answers their names. Stores that clean up after themselves (S3: abort incomplete
   * multipart uploads with a lifecycle rule) do not have it.
   */
  sweepAbandoned?(): Promise<string[]>;
}

export interface FileTarget {
  /** Open for writing, exclusively ours. */
  readonly fd: number;
  /** Closes the file, hashes it, makes it durable and visible under its key. */
  commit(): Promise<PutResult>;
  /** Closes and removes the file: nothing appears under the key. */
  abort(): Promise<void>;
}

export class BlobNotFound extends Error {}

/** Keys are ours (backups/<project>/<backup>.dump): refuse anything that could escape a prefix. */
export function assertSafeKey(key: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,500}$/.test(key) || key.split("/").some((part) => part === "" || part === "." || part === "..")) {
    throw new Error(`invalid blob key: ${JSON.stringify(key.slice(0, 100))}`);
  }
}

/** A pass-through that hashes (sha256) and counts what streams through it. */
export function meteringStream(): { stream: Transform; result(): PutResult } {
  const hash = crypto.createHash("sha256");
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  return { stream, result: () => ({ sizeBytes: size, sha256: hash.digest("hex") }) };
}
