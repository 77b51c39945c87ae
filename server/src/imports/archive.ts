// What an uploaded dump is: pg_dump's custom format ("PGDMP" magic) or tar (a ustar
// header). Anything else — a plain SQL script above all — is refused: feeding a
// script to psql would let its meta-commands run shell commands on our host.
import { PassThrough, type Readable } from "node:stream";

export class NotAnArchive extends Error {}

export const PLAIN_SQL_REFUSAL =
  "this is not a pg_dump archive (it looks like a plain SQL script). Plain scripts are refused because psql meta-commands in them " +
  "could run commands on the server. Make a custom-format dump instead: pg_dump --format=custom --no-owner --no-privileges " +
  "--dbname=postgresql://user@host/db --file=db.dump (or --format=tar)";

export function archiveFormat(head: Buffer): "custom" | "tar" | null {
  if (head.length >= 5 && head.subarray(0, 5).toString("latin1") === "PGDMP") return "custom";
  if (head.length >= 262 && head.subarray(257, 262).toString("latin1") === "ustar") return "tar";
  return null;
}

/**
 * Reads the first bytes of a stream to tell its format, and returns a stream that
 * still yields every byte (the head included).
 */
export async function sniffArchive(source: Readable): Promise<{ format: "custom" | "tar"; stream: Readable }> {
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator = source[Symbol.asyncIterator]();
  while (size < 512) {
    const next = await iterator.next();
    if (next.done) break;
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    chunks.push(chunk);
    size += chunk.length;
  }
  const head = Buffer.concat(chunks);
  const format = archiveFormat(head);
  if (!format) {
    source.destroy();
    throw new NotAnArchive(PLAIN_SQL_REFUSAL);
  }
  const out = new PassThrough();
  out.write(head);
  (async () => {
    try {
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        if (!out.write(next.value)) await new Promise((r) => out.once("drain", r));
      }
      out.end();
    } catch (err) {
      out.destroy(err as Error);
    }
  })();
  return { format, stream: out };
}
