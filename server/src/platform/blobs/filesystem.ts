// The filesystem blob store: objects under a root directory, written to a
// temporary file, fsynced and renamed into place, so a reader never sees half an object.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { assertSafeKey, BlobNotFound, meteringStream, type BlobStore, type FileTarget, type PutResult } from "./store.js";

export class FilesystemBlobStore implements BlobStore {
  readonly description: string;

  constructor(private readonly root: string) {
    this.description = `filesystem ${root}`;
  }

  private file(key: string): string {
    assertSafeKey(key);
    return path.join(this.root, key);
  }

  private async partialFile(key: string): Promise<{ target: string; tmp: string }> {
    const target = this.file(key);
    try {
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
    } catch (err) {
      throw new Error(`blob store unavailable (${this.description}): ${(err as Error).message}`);
    }
    return { target, tmp: `${target}.partial-${process.pid}-${crypto.randomBytes(4).toString("hex")}` };
  }

  async fileTarget(key: string): Promise<FileTarget> {
    const { target, tmp } = await this.partialFile(key);
    let fd: number;
    try {
      fd = fs.openSync(tmp, "wx", 0o600);
    } catch (err) {
      throw new Error(`blob store write failed (${this.description}): ${(err as Error).message}`);
    }
    let open = true;
    const close = () => {
      if (open) fs.closeSync(fd);
      open = false;
    };
    return {
      fd,
      async commit() {
        try {
          await new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
          close();
          const meter = meteringStream();
          await pipeline(fs.createReadStream(tmp), meter.stream, async (chunks: AsyncIterable<Buffer>) => {
            for await (const _ of chunks); // only the hash and the size are wanted
          });
          await fs.promises.rename(tmp, target);
          return meter.result();
        } catch (err) {
          close();
          await fs.promises.rm(tmp, { force: true });
          throw err;
        }
      },
      async abort() {
        close();
        await fs.promises.rm(tmp, { force: true });
      },
    };
  }

  async put(key: string, body: Readable): Promise<PutResult> {
    const { target, tmp } = await this.partialFile(key);
    const meter = meteringStream();
    try {
      await pipeline(body, meter.stream, fs.createWriteStream(tmp, { flags: "wx", mode: 0o600 }));
      const fd = await fs.promises.open(tmp, "r");
      await fd.sync();
      await fd.close();
      await fs.promises.rename(tmp, target);
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      const e = err as NodeJS.ErrnoException;
      // the source failing is the caller's story; the store failing is ours to name
      if (e.code && /^E[A-Z]+$/.test(e.code) && (e as { path?: string }).path) throw new Error(`blob store write failed (${this.description}): ${e.message}`);
      throw err;
    }
    return meter.result();
  }

  async get(key: string): Promise<Readable> {
    return fs.createReadStream(await this.localFile(key));
  }

  async localFile(key: string): Promise<string> {
    const file = this.file(key);
    try {
      await fs.promises.access(file, fs.constants.R_OK);
    } catch {
      throw new BlobNotFound(`blob ${key} not found in ${this.description}`);
    }
    return file;
  }

  async stat(key: string): Promise<{ sizeBytes: number } | null> {
    const file = this.file(key);
    try {
      return { sizeBytes: (await fs.promises.stat(file)).size };
    } catch {
      return null;
    }
  }

  async sweepAbandoned(): Promise<string[]> {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(this.root, { withFileTypes: true, recursive: true });
    } catch {
      return []; // no blobs yet, or the directory is unavailable (the next put says so)
    }
    const removed: string[] = [];
    for (const entry of entries) {
      const m = /\.partial-(\d+)-[0-9a-f]{8}$/.exec(entry.name);
      if (!entry.isFile() || !m) continue;
      if (processAlive(Number(m[1]))) continue; // still being written (by this or another server process on the host)
      const file = path.join(entry.parentPath, entry.name);
      await fs.promises.rm(file, { force: true });
      removed.push(path.relative(this.root, file));
    }
    return removed;
  }

  async delete(key: string): Promise<void> {
    await fs.promises.rm(this.file(key), { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
