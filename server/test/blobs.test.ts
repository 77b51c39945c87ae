// One conformance suite for every BlobStore: the filesystem store in a temp dir and
// the S3 store against s3rver (an in-process S3-protocol server) on loopback.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { Readable } from "node:stream";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { BlobNotFound, createBlobStore, FilesystemBlobStore, S3BlobStore, type BlobStore } from "../src/platform/blobs/index.js";

const MB = 1024 * 1024;
const BUCKET = "capydb-test";
const PREFIX = "/capy/backups/"; // slashes on purpose: keys must come out as capy/backups/<key>
const ACCESS_KEY_ID = "S3RVER"; // s3rver only knows this key id (and does not check SigV4 signatures)
const SECRET = `capydb-secret-${crypto.randomBytes(8).toString("hex")}`;

interface Harness {
  store: BlobStore;
  /** Names under the store's storage that look like leftovers of an unfinished put. */
  leftovers(): Promise<string[]>;
  teardown(): Promise<void>;
}

interface S3Harness extends Harness {
  store: S3BlobStore;
  server: S3rver;
  /** "METHOD url" of every request the S3 server received. */
  requests: string[];
  stopServer(): Promise<void>;
}

async function tempDir(tag: string): Promise<string> {
  return fs.promises.mkdtemp(path.join(os.tmpdir(), `capydb-blobs-${tag}-`));
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.promises.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(path.join(entry.parentPath, entry.name));
  }
  return out;
}

async function filesystemHarness(): Promise<Harness> {
  const dir = await tempDir("fs");
  return {
    store: new FilesystemBlobStore(path.join(dir, "blobs")),
    leftovers: async () => (await walk(dir)).filter((f) => f.includes(".partial")),
    teardown: () => fs.promises.rm(dir, { recursive: true, force: true }),
  };
}

async function s3Harness(): Promise<S3Harness> {
  const dir = await tempDir("s3");
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: BUCKET, configs: [] }],
  });
  const { port } = await server.run();
  const requests: string[] = [];
  (server as unknown as { httpServer: Server }).httpServer.prependListener("request", (req) => {
    requests.push(`${req.method} ${req.url}`);
  });
  let running = true;
  const store = new S3BlobStore({
    bucket: BUCKET,
    prefix: PREFIX,
    endpoint: `http://127.0.0.1:${port}`,
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET,
    maxAttempts: 2,
  });
  const stopServer = async () => {
    if (running) {
      running = false;
      await server.close();
    }
  };
  return {
    store,
    server,
    requests,
    stopServer,
    // s3rver keeps in-progress multipart parts in its own temp area; what matters is
    // that no object (and nothing half-written) is visible in the bucket.
    leftovers: async () => [],
    teardown: async () => {
      store.destroy();
      await stopServer();
      await fs.promises.rm(dir, { recursive: true, force: true });
    },
  };
}

// 12 MB of random bytes, streamed in odd-sized chunks (so S3 goes multipart: 5 MB parts).
const payload = crypto.randomBytes(12 * MB);
const payloadSha256 = crypto.createHash("sha256").update(payload).digest("hex");

function streamOf(data: Buffer, opts: { failAfter?: number } = {}): Readable {
  return Readable.from(
    (async function* () {
      const chunk = 100_003;
      for (let off = 0; off < data.length; off += chunk) {
        if (opts.failAfter !== undefined && off >= opts.failAfter) throw new Error("source exploded halfway");
        yield data.subarray(off, Math.min(off + chunk, data.length));
        if ((off / chunk) % 16 === 0) await new Promise((r) => setImmediate(r));
      }
    })(),
    { objectMode: false },
  );
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const kinds: { name: "filesystem" | "s3"; setup: () => Promise<Harness> }[] = [
  { name: "filesystem", setup: filesystemHarness },
  { name: "s3", setup: s3Harness },
];

describe.each(kinds)("$name blob store", ({ name, setup }) => {
  let h: Harness;
  beforeAll(async () => {
    h = await setup();
  });
  afterAll(async () => {
    await h?.teardown();
  });

  it("round-trips a multi-MB stream with matching size and sha256", async () => {
    const result = await h.store.put("backups/p1/b1.dump", streamOf(payload));
    expect(result).toEqual({ sizeBytes: payload.length, sha256: payloadSha256 });
    const back = await readAll(await h.store.get("backups/p1/b1.dump"));
    expect(back.length).toBe(payload.length);
    expect(crypto.createHash("sha256").update(back).digest("hex")).toBe(payloadSha256);
    expect(await h.store.stat("backups/p1/b1.dump")).toEqual({ sizeBytes: payload.length });
  });

  it("stores small and empty objects", async () => {
    expect(await h.store.put("small", Readable.from([Buffer.from("hello")]))).toEqual({
      sizeBytes: 5,
      sha256: crypto.createHash("sha256").update("hello").digest("hex"),
    });
    expect((await readAll(await h.store.get("small"))).toString()).toBe("hello");
    const empty = await h.store.put("empty", Readable.from([]));
    expect(empty.sizeBytes).toBe(0);
    expect(await h.store.stat("empty")).toEqual({ sizeBytes: 0 });
    expect((await readAll(await h.store.get("empty"))).length).toBe(0);
  });

  it("stat of a missing key is null; get rejects with BlobNotFound", async () => {
    expect(await h.store.stat("backups/none/missing.dump")).toBeNull();
    await expect(h.store.get("backups/none/missing.dump")).rejects.toBeInstanceOf(BlobNotFound);
  });

  it("delete removes the object and is idempotent", async () => {
    await h.store.put("to-delete", Readable.from([Buffer.from("bye")]));
    await h.store.delete("to-delete");
    expect(await h.store.stat("to-delete")).toBeNull();
    await expect(h.store.get("to-delete")).rejects.toBeInstanceOf(BlobNotFound);
    await h.store.delete("to-delete");
    await h.store.delete("never/existed");
  });

  it("a put whose source errors halfway leaves nothing under the key", async () => {
    const failing = streamOf(payload, { failAfter: 7 * MB });
    await expect(h.store.put("backups/p1/broken.dump", failing)).rejects.toThrow(/source exploded halfway/);
    expect(await h.store.stat("backups/p1/broken.dump")).toBeNull();
    await expect(h.store.get("backups/p1/broken.dump")).rejects.toBeInstanceOf(BlobNotFound);
    expect(await h.leftovers()).toEqual([]);
    if (name === "s3") {
      // The multipart upload was started (a 5 MB part was ready) and then aborted.
      const { requests } = h as S3Harness;
      expect(requests.some((r) => r.startsWith("POST ") && r.includes("broken.dump?uploads"))).toBe(true);
      expect(requests.some((r) => r.startsWith("DELETE ") && r.includes("broken.dump?uploadId="))).toBe(true);
    }
  });

  it("a file target (filesystem only) is written by a child process, visible only on commit, gone on abort", async () => {
    if (!h.store.fileTarget) {
      expect(name).toBe("s3"); // S3 objects stream through the server
      return;
    }
    const target = await h.store.fileTarget("backups/p1/direct.dump");
    // a child process writes the object through the descriptor, as pg_dump does
    const child = spawn("head", ["-c", String(3 * MB), "/dev/urandom"], { stdio: ["ignore", target.fd, "ignore"] });
    await new Promise((resolve) => child.on("close", resolve));
    expect(await h.store.stat("backups/p1/direct.dump")).toBeNull();
    const stored = await target.commit();
    expect(stored.sizeBytes).toBe(3 * MB);
    const back = await readAll(await h.store.get("backups/p1/direct.dump"));
    expect(crypto.createHash("sha256").update(back).digest("hex")).toBe(stored.sha256);
    expect(await h.leftovers()).toEqual([]);

    const dropped = await h.store.fileTarget("backups/p1/dropped.dump");
    fs.writeSync(dropped.fd, "half an object");
    await dropped.abort();
    expect(await h.store.stat("backups/p1/dropped.dump")).toBeNull();
    expect(await h.leftovers()).toEqual([]);
  });

  it("sweeping abandoned partial objects (filesystem only) removes those whose writer process is gone, and nothing else", async () => {
    if (!h.store.sweepAbandoned) {
      expect(name).toBe("s3"); // incomplete multipart uploads are the bucket's lifecycle rule's to abort
      return;
    }
    const store = h.store as FilesystemBlobStore;
    await store.put("backups/p2/kept.dump", Readable.from([Buffer.from("complete")]));
    const dead = spawn("true");
    await new Promise((resolve) => dead.on("close", resolve));
    const root = (store as unknown as { root: string }).root;
    const orphan = path.join(root, "backups/p2/b9.dump.partial-" + dead.pid + "-0123abcd");
    const live = path.join(root, "backups/p2/b8.dump.partial-" + process.pid + "-4567cdef");
    fs.writeFileSync(orphan, "half");
    fs.writeFileSync(live, "being written");
    expect(await store.sweepAbandoned()).toEqual(["backups/p2/b9.dump.partial-" + dead.pid + "-0123abcd"]);
    expect(fs.existsSync(orphan)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    expect((await readAll(await store.get("backups/p2/kept.dump"))).toString()).toBe("complete");
    fs.rmSync(live);
  });

  it("a failed put over an existing object keeps the old object", async () => {
    await h.store.put("keep", Readable.from([Buffer.from("old contents")]));
    await expect(h.store.put("keep", streamOf(payload, { failAfter: 6 * MB }))).rejects.toThrow(/source exploded/);
    expect((await readAll(await h.store.get("keep"))).toString()).toBe("old contents");
    expect(await h.leftovers()).toEqual([]);
  });

  it("rejects unsafe keys", async () => {
    for (const key of ["../x", "/abs", "a//b", "", "a/../b", "a/./b", "a/", "a\\b", "a b"]) {
      await expect(h.store.put(key, Readable.from([Buffer.from("x")])), key).rejects.toThrow(/invalid blob key/);
      await expect(h.store.get(key), key).rejects.toThrow(/invalid blob key/);
      // FilesystemBlobStore.stat catches the key error and answers null (nothing is looked up).
      const stat = await h.store.stat(key).then(
        (v) => v,
        (e: unknown) => e as Error,
      );
      if (stat !== null) expect((stat as Error).message, key).toMatch(/invalid blob key/);
      await expect(h.store.delete(key), key).rejects.toThrow(/invalid blob key/);
    }
  });

  it.runIf(name === "s3")("keys live under the prefix without double slashes", async () => {
    const s3 = h as S3Harness;
    const endpoint = (s3.server as unknown as { httpServer: Server }).httpServer.address() as AddressInfo;
    const root = new S3BlobStore({
      bucket: BUCKET,
      prefix: "",
      endpoint: `http://127.0.0.1:${endpoint.port}`,
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: SECRET,
    });
    try {
      expect(s3.store.objectKey("backups/p1/b1.dump")).toBe("capy/backups/backups/p1/b1.dump");
      expect(await root.stat("capy/backups/small")).toEqual({ sizeBytes: 5 });
    } finally {
      root.destroy();
    }
  });

  it.runIf(name === "s3")("a presigned PUT URL accepts an upload", async () => {
    const s3 = h as S3Harness;
    const url = await s3.store.presignPut("uploads/u1.dump", 300);
    expect(url).toContain("X-Amz-Signature=");
    expect(url).toContain("/capy/backups/uploads/u1.dump");
    expect(url).not.toContain(SECRET);
    expect(url.toLowerCase()).not.toContain("checksum");
    const body = crypto.randomBytes(200_000);
    const res = await fetch(url, { method: "PUT", body });
    expect(res.status).toBe(200);
    expect(await s3.store.stat("uploads/u1.dump")).toEqual({ sizeBytes: body.length });
    expect((await readAll(await s3.store.get("uploads/u1.dump"))).equals(body)).toBe(true);
  });

  // Keep last: stops the server.
  it.runIf(name === "s3")("with the server down, put rejects without leaking the secret", async () => {
    const s3 = h as S3Harness;
    await s3.stopServer();
    const err = await s3.store.put("down/x", Readable.from([Buffer.from("x")])).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/ECONNREFUSED|connect/i);
    expect(err!.message).not.toContain(SECRET);
    expect(String(err!.stack)).not.toContain(SECRET);
    expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain(SECRET);
    const statErr = await s3.store.stat("down/x").then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(statErr).toBeInstanceOf(Error);
    expect(statErr!.message).not.toContain(SECRET);
  });
});

describe("createBlobStore", () => {
  it("defaults to <dataDir>/blobs on the filesystem", () => {
    const store = createBlobStore({ blobUrl: null, dataDir: "/var/capydb" });
    expect(store).toBeInstanceOf(FilesystemBlobStore);
    expect(store.description).toBe("filesystem /var/capydb/blobs");
  });

  it("takes file:///abs/path", () => {
    const store = createBlobStore({ blobUrl: "file:///srv/capydb%20blobs", dataDir: "/var/capydb" });
    expect(store).toBeInstanceOf(FilesystemBlobStore);
    expect(store.description).toBe("filesystem /srv/capydb blobs");
  });

  it("takes s3://bucket/prefix", () => {
    const store = createBlobStore({
      blobUrl: "s3://my-bucket/capy/prod/",
      dataDir: "/var/capydb",
      s3Endpoint: "http://127.0.0.1:9000",
      s3AccessKeyId: "AKIA",
      s3SecretAccessKey: SECRET,
    });
    expect(store).toBeInstanceOf(S3BlobStore);
    const s3 = store as S3BlobStore;
    expect(s3.bucket).toBe("my-bucket");
    expect(s3.objectKey("a/b")).toBe("capy/prod/a/b");
    expect(s3.description).not.toContain(SECRET);
    s3.destroy();
    const bare = createBlobStore({ blobUrl: "s3://bucket", dataDir: "/x" }) as S3BlobStore;
    expect(bare.objectKey("k")).toBe("k");
    bare.destroy();
  });

  it("rejects other URLs with a clear message, never echoing credentials", () => {
    expect(() => createBlobStore({ blobUrl: "http://example.com/x", dataDir: "/x" })).toThrow(/unsupported blob URL scheme "http:"/);
    expect(() => createBlobStore({ blobUrl: "/just/a/path", dataDir: "/x" })).toThrow(/unsupported blob URL/);
    expect(() => createBlobStore({ blobUrl: "file://relative/path", dataDir: "/x" })).toThrow(/file:\/\/\/absolute\/path/);
    let message = "";
    try {
      createBlobStore({ blobUrl: `s3://AKIA:${SECRET}@bucket/p`, dataDir: "/x" });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/credentials/);
    expect(message).not.toContain(SECRET);
    expect(() => createBlobStore({ blobUrl: "s3://", dataDir: "/x" })).toThrow(/s3:\/\/bucket/);
    expect(() => createBlobStore({ blobUrl: "s3://bucket/p", dataDir: "/x", s3AccessKeyId: "only-the-id" })).toThrow(/together/);
  });
});
