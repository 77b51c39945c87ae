// Which extensions a custom-format archive creates, and in which schema: read from the
// archive's table of contents (pg_restore --section=pre-data prints the definitions
// without connecting anywhere), so a restore target gets the untrusted extensions the
// archive needs made by the platform beforehand — the tenant's role, which runs the
// restore, cannot make them. The archive may be a tenant's upload: what it names is
// only a wish, filtered by the caller against the cluster and the allowlist.
import { spawn } from "node:child_process";
import readline from "node:readline";
import type { Readable } from "node:stream";
import { pgTool } from "./pg-binaries.js";
import { childEnv } from "./child-env.js";
import type { ExtensionPlacement } from "./privileged.js";

const CREATE_EXTENSION = /^CREATE EXTENSION IF NOT EXISTS ("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*) WITH SCHEMA ("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*);$/;

function unquote(ident: string): string {
  return ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident;
}

/** The extensions the archive (a file, or a stream of it) creates; [] when it is not one pg_restore reads. */
export async function extensionsInArchive(binDir: string | null, archive: { file: string } | { stream: Readable }): Promise<ExtensionPlacement[]> {
  const child = spawn(pgTool(binDir, "pg_restore"), ["--section=pre-data", "--file=-", ...("file" in archive ? ["--", archive.file] : [])], {
    env: childEnv({ LC_ALL: "C.UTF-8", LANG: "C.UTF-8" }),
    stdio: ["file" in archive ? "ignore" : "pipe", "pipe", "ignore"],
  });
  if ("stream" in archive) {
    child.stdin!.on("error", () => {}); // pg_restore stops reading once it has the table of contents
    archive.stream.on("error", () => child.kill("SIGTERM"));
    archive.stream.pipe(child.stdin!);
  }
  const found: ExtensionPlacement[] = [];
  const exited = new Promise<void>((resolve) => {
    child.on("close", () => resolve());
    child.on("error", () => resolve());
  });
  for await (const line of readline.createInterface({ input: child.stdout! })) {
    const m = CREATE_EXTENSION.exec(line);
    if (m) found.push({ name: unquote(m[1]), schema: unquote(m[2]) });
  }
  await exited;
  if ("stream" in archive) {
    archive.stream.unpipe(child.stdin!);
    archive.stream.destroy();
  }
  return found;
}
