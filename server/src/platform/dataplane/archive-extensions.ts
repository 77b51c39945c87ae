// Which extensions a custom-format archive creates, and in which schema: read from the
// archive's table of contents (pg_restore --section=pre-data prints the definitions
// without connecting anywhere), so a restore target gets the untrusted extensions the
// archive needs made by the platform beforehand — the tenant's role, which runs the
// restore, cannot make them. The archive may be a tenant's upload: what it names is
// only a wish, filtered by the caller against the cluster and the allowlist.
import readline from "node:readline";
import type { Readable } from "node:stream";
import { pgTool } from "./pg-binaries.js";
import { childEnv } from "./child-env.js";
import { spawnInOwnGroup } from "../jobs/tools.js";
import { TransientError } from "../jobs/errors.js";
import type { ExtensionPlacement } from "./privileged.js";

const CREATE_EXTENSION = /^CREATE EXTENSION IF NOT EXISTS ("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*) WITH SCHEMA ("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*);$/;

function unquote(ident: string): string {
  return ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident;
}

/**
 * The extensions the archive (a file, or a stream of it) creates; [] when it is not one
 * pg_restore reads (the restore itself then says what is wrong with it). Run in a
 * process group of its own, like every tool, so a Ctrl-C of the server's terminal does
 * not reach it; killed by a signal, it is a transient failure of the job.
 */
export async function extensionsInArchive(binDir: string | null, archive: { file: string } | { stream: Readable }): Promise<ExtensionPlacement[]> {
  const child = spawnInOwnGroup(pgTool(binDir, "pg_restore"), ["--section=pre-data", "--file=-", ...("file" in archive ? ["--", archive.file] : [])], {
    env: childEnv({ LC_ALL: "C.UTF-8", LANG: "C.UTF-8" }),
    stdio: ["file" in archive ? "ignore" : "pipe", "pipe", "ignore"],
  });
  if ("stream" in archive) {
    child.stdin!.on("error", () => {}); // pg_restore stops reading once it has the table of contents
    archive.stream.on("error", () => child.kill("SIGTERM"));
    archive.stream.pipe(child.stdin!);
  }
  const found: ExtensionPlacement[] = [];
  const exited = new Promise<NodeJS.Signals | null>((resolve) => {
    child.on("close", (_code, signal) => resolve(signal));
    child.on("error", () => resolve(null));
  });
  for await (const line of readline.createInterface({ input: child.stdout! })) {
    const m = CREATE_EXTENSION.exec(line);
    if (m) found.push({ name: unquote(m[1]), schema: unquote(m[2]) });
  }
  const signal = await exited;
  if ("stream" in archive) {
    archive.stream.unpipe(child.stdin!);
    archive.stream.destroy();
  }
  if (signal) throw new TransientError(`reading the archive's table of contents was interrupted (pg_restore got ${signal})`);
  return found;
}
