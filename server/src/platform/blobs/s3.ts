// The S3 blob store: objects in any S3-compatible service (AWS, MinIO, R2, Ceph...).
// Uploads stream through a hashing Transform into lib-storage's Upload, which sends
// one PutObject for small objects and a multipart upload otherwise; S3 only makes
// an object visible when the PutObject or CompleteMultipartUpload succeeds, and a
// failed multipart upload is aborted, so a failed put leaves nothing under the key.
import { Readable } from "node:stream";
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { assertSafeKey, BlobNotFound, meteringStream, type BlobStore, type PutResult } from "./store.js";

export interface S3BlobStoreConfig {
  bucket: string;
  /** Key prefix inside the bucket ("" for the bucket root); leading/trailing slashes are ignored. */
  prefix: string;
  /** For S3-compatible services ("http://127.0.0.1:9000"); AWS when unset. */
  endpoint?: string | null;
  /** Defaults to "us-east-1". */
  region?: string | null;
  /** Both or neither; when neither, the AWS default credential chain is used. */
  accessKeyId?: string | null;
  secretAccessKey?: string | null;
  /** Path-style addressing (endpoint/bucket/key); defaults to true when endpoint is set. */
  forcePathStyle?: boolean | null;
  /** SDK attempts per request (default 3). */
  maxAttempts?: number;
  /** Multipart part size in bytes (default and minimum 5 MiB). */
  partSize?: number;
  /** Parts uploaded concurrently (default 4); memory use is about partSize * queueSize. */
  queueSize?: number;
}

/** An S3 failure, with a message that never carries credentials. */
export class S3BlobError extends Error {
  constructor(
    message: string,
    /** The S3/SDK error name ("AccessDenied", "NoSuchBucket", "ECONNREFUSED"...). */
    readonly code: string | undefined,
    readonly httpStatus: number | undefined,
  ) {
    super(message);
    this.name = "S3BlobError";
  }
}

const MIN_PART_SIZE = 5 * 1024 * 1024;

export class S3BlobStore implements BlobStore {
  readonly description: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly secrets: string[];
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(config: S3BlobStoreConfig) {
    if (!config.bucket || /[/\s@]/.test(config.bucket)) {
      throw new Error(`invalid S3 bucket name ${JSON.stringify(config.bucket.slice(0, 100))}`);
    }
    if (Boolean(config.accessKeyId) !== Boolean(config.secretAccessKey)) {
      throw new Error("S3 access key id and secret access key must be given together");
    }
    this.bucket = config.bucket;
    this.prefix = config.prefix.replace(/^\/+|\/+$/g, "").replace(/\/{2,}/g, "/");
    const endpoint = config.endpoint || undefined;
    this.description = `s3://${this.bucket}/${this.prefix}${endpoint ? ` at ${redactUrl(endpoint)}` : ""}`;
    this.partSize = Math.max(MIN_PART_SIZE, config.partSize ?? MIN_PART_SIZE);
    this.queueSize = Math.max(1, config.queueSize ?? 4);
    this.secrets = [config.secretAccessKey, config.accessKeyId].filter((s): s is string => !!s);
    const clientConfig: S3ClientConfig = {
      region: config.region || "us-east-1",
      endpoint,
      forcePathStyle: config.forcePathStyle ?? Boolean(endpoint),
      maxAttempts: config.maxAttempts,
      // Newer SDKs add CRC checksums (and aws-chunked trailers for streams) to every
      // request by default, which many S3-compatible services reject or store
      // verbatim; only send them when an operation requires it.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    };
    if (config.accessKeyId && config.secretAccessKey) {
      clientConfig.credentials = { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey };
    }
    this.client = new S3Client(clientConfig);
  }

  /** The object key in the bucket for a blob key. */
  objectKey(key: string): string {
    assertSafeKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  async put(key: string, body: Readable): Promise<PutResult> {
    const objectKey = this.objectKey(key);
    const metering = meteringStream();
    const meter = metering.stream;
    // Forward source errors (and premature closes) into the meter, which the Upload
    // is reading: the upload then fails and aborts its multipart upload.
    let sourceError: Error | undefined;
    body.on("error", (err) => {
      sourceError ??= err;
      meter.destroy(err);
    });
    body.on("close", () => {
      if (!body.readableEnded) {
        sourceError ??= new Error("blob source stream closed before its end");
        meter.destroy(sourceError);
      }
    });
    body.pipe(meter);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: objectKey, Body: meter },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      body.unpipe(meter);
      body.destroy();
      meter.destroy();
      // A source-stream error is the caller's, not S3's: rethrow it unchanged.
      if (sourceError) throw sourceError;
      throw this.wrap(err, "put", key);
    }
    return metering.result();
  }

  async get(key: string): Promise<Readable> {
    const objectKey = this.objectKey(key);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      const stream = res.Body;
      if (stream instanceof Readable) return stream;
      if (stream && typeof (stream as { transformToWebStream?: unknown }).transformToWebStream === "function") {
        return Readable.fromWeb((stream as unknown as { transformToWebStream(): never }).transformToWebStream());
      }
      throw new S3BlobError(`S3 get of ${key} in ${this.description} returned no body`, undefined, undefined);
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFound(`blob ${key} not found in ${this.description}`);
      if (err instanceof S3BlobError) throw err;
      throw this.wrap(err, "get", key);
    }
  }

  async stat(key: string): Promise<{ sizeBytes: number } | null> {
    const objectKey = this.objectKey(key);
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return { sizeBytes: res.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.wrap(err, "stat", key);
    }
  }

  async delete(key: string): Promise<void> {
    const objectKey = this.objectKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (err) {
      if ((err as { name?: string }).name === "NoSuchKey") return;
      throw this.wrap(err, "delete", key);
    }
  }

  /** A URL a client can PUT the object's bytes to (no extra headers needed) until it expires. */
  async presignPut(key: string, expiresInSeconds: number): Promise<string> {
    const objectKey = this.objectKey(key);
    try {
      return await getSignedUrl(this.client, new PutObjectCommand({ Bucket: this.bucket, Key: objectKey }), {
        expiresIn: expiresInSeconds,
      });
    } catch (err) {
      throw this.wrap(err, "presign", key);
    }
  }

  /** Releases the client's sockets. */
  destroy(): void {
    this.client.destroy();
  }

  private wrap(err: unknown, op: string, key: string): S3BlobError {
    const e = (err ?? {}) as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const code = e.code ?? e.name;
    const status = e.$metadata?.httpStatusCode;
    let detail = typeof e.message === "string" && e.message ? e.message : String(code ?? "unknown error");
    // The SDK's own messages carry no credentials, but a proxy or a misbehaving
    // server could echo anything back: scrub them anyway.
    for (const secret of this.secrets) detail = detail.split(secret).join("[redacted]");
    detail = detail.slice(0, 500);
    return new S3BlobError(
      `S3 ${op} of ${key} in ${this.description} failed: ${code ? `${code}: ` : ""}${detail}${status ? ` (HTTP ${status})` : ""}`,
      code,
      status,
    );
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  // A missing bucket is a misconfiguration, not a missing blob (HeadObject cannot
  // tell the two apart: its 404 has no body).
  return !!e && e.name !== "NoSuchBucket" && (e.name === "NoSuchKey" || e.name === "NotFound" || e.$metadata?.httpStatusCode === 404);
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    u.search = "";
    return u.toString().replace(/\/$/, "");
  } catch {
    return "(invalid endpoint)";
  }
}
