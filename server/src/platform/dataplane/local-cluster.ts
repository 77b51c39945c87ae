// A PostgreSQL cluster of our own under the data directory: the embedded default
// of `npm start`, and what the test harness starts. Initialised once, reused after.
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { findPgBinDir, postgresOsUser, type OsUser } from "./pg-binaries.js";
import { childEnv } from "./child-env.js";

const execFileAsync = promisify(execFile);

export interface LocalClusterOptions {
  /** The cluster's data directory (PGDATA). */
  dir: string;
  port: number;
  binDir?: string | null;
  /** Extra postgresql.conf settings, e.g. { fsync: "off" } for throwaway test clusters. */
  settings?: Record<string, string>;
  log?: (msg: string) => void;
}

export interface LocalCluster {
  adminUrl: string;
  port: number;
  dir: string;
  binDir: string;
  osUser: OsUser | null;
  stop(): Promise<void>;
}

const SUPERUSER = "capydb_admin";

/**
 * Connection slots only superusers may take. Every session of the platform (the
 * control plane on the embedded cluster, the admin pools) is the superuser's and
 * no tenant role is one, so tenants holding every other slot still leave the
 * platform this many connections to work and to clean up with.
 */
export const PLATFORM_RESERVED_CONNECTIONS = 10;

async function run(cmd: string, args: string[], user: OsUser | null, opts: { cwd?: string } = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, {
      uid: user?.uid,
      gid: user?.gid,
      cwd: opts.cwd ?? "/",
      // The postmaster and every backend inherit this: never our secrets.
      env: childEnv({ LC_ALL: "C.UTF-8", LANG: "C.UTF-8" }),
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${path.basename(cmd)} failed: ${(e.stderr || e.message).trim()}`);
  }
}

function chownTree(p: string, user: OsUser | null): void {
  if (user) fs.chownSync(p, user.uid, user.gid);
}

async function isRunning(binDir: string, dir: string, user: OsUser | null): Promise<boolean> {
  try {
    await run(path.join(binDir, "pg_ctl"), ["-D", dir, "status"], user);
    return true;
  } catch {
    return false;
  }
}

function assertRoomForTenants(settings: Record<string, string>): void {
  const max = Number(settings.max_connections);
  const reserved = Number(settings.superuser_reserved_connections);
  if (!(max > reserved * 2)) {
    throw new Error(
      `max_connections (${settings.max_connections}) must be more than twice superuser_reserved_connections (${settings.superuser_reserved_connections}): the platform keeps those slots for itself`,
    );
  }
}

/** A cluster initialised before the reserve existed gets it at its next start. */
function keepPlatformReserve(dir: string, log: (msg: string) => void): void {
  const confFile = path.join(dir, "postgresql.conf");
  const conf = fs.readFileSync(confFile, "utf8");
  if (/^\s*superuser_reserved_connections\s*=/m.test(conf)) return;
  const maxConnections = [...conf.matchAll(/^\s*max_connections\s*=\s*(\d+)/gm)].pop()?.[1];
  if (maxConnections && Number(maxConnections) <= PLATFORM_RESERVED_CONNECTIONS * 2) return; // no room: left as configured
  log(`keeping ${PLATFORM_RESERVED_CONNECTIONS} connection slots for the platform (superuser_reserved_connections; applies from the next PostgreSQL start)`);
  fs.appendFileSync(confFile, `\n# written by CapyDB\nsuperuser_reserved_connections = ${PLATFORM_RESERVED_CONNECTIONS}\n`);
}

/**
 * A postmaster started by an older version, which handed it our whole environment,
 * keeps that environment until it restarts: say so, since we do not restart a
 * running cluster under its tenants. (Linux: elsewhere there is no /proc to read.)
 */
function warnOfInheritedSecrets(dir: string, log: (msg: string) => void): void {
  try {
    const pid = Number(fs.readFileSync(path.join(dir, "postmaster.pid"), "utf8").split("\n")[0]);
    const names = fs
      .readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .map((v) => v.split("=")[0]);
    const inherited = names.filter((n) => /^(CAPYDB_|AWS_)/.test(n));
    if (inherited.length > 0) {
      log(
        `PostgreSQL (pid ${pid}) was started with ${inherited.join(", ")} in its environment, readable by its OS user: restart it (pg_ctl -D ${dir} restart) to drop them`,
      );
    }
  } catch {
    // no /proc, or the pid file changed under us: nothing to say
  }
}

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const log = options.log ?? (() => {});
  const binDir = findPgBinDir(options.binDir ?? null);
  const user = postgresOsUser();
  const dir = path.resolve(options.dir);
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  // The superuser password lives beside PGDATA, readable by us only.
  const passwordFile = path.join(parent, "pg-superuser-password");
  let password: string;
  if (fs.existsSync(passwordFile)) {
    password = fs.readFileSync(passwordFile, "utf8").trim();
  } else {
    password = crypto.randomBytes(24).toString("base64url");
    fs.writeFileSync(passwordFile, password + "\n", { mode: 0o600 });
  }

  if (!fs.existsSync(path.join(dir, "PG_VERSION"))) {
    const settings: Record<string, string> = {
      listen_addresses: "'127.0.0.1'",
      port: String(options.port),
      unix_socket_directories: "''",
      max_connections: "300",
      superuser_reserved_connections: String(PLATFORM_RESERVED_CONNECTIONS),
      password_encryption: "'scram-sha-256'",
      log_line_prefix: "'%m [%p] %q%u@%d '",
      ...options.settings,
    };
    assertRoomForTenants(settings);
    log(`initialising a PostgreSQL cluster in ${dir}`);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownTree(dir, user);
    if (user) {
      // Fail early with a clear message when the OS user cannot reach the directory.
      try {
        await run("test", ["-w", dir], user);
      } catch {
        throw new Error(`PostgreSQL runs as "${user.name}", who cannot write to ${dir}: choose a CAPYDB_DATA_DIR that user can reach`);
      }
    }
    const pwfile = path.join(parent, `.initdb-pwfile-${process.pid}`);
    fs.writeFileSync(pwfile, password + "\n", { mode: 0o600 });
    chownTree(pwfile, user);
    try {
      await run(
        path.join(binDir, "initdb"),
        ["-D", dir, "-U", SUPERUSER, `--pwfile=${pwfile}`, "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"],
        user,
      );
    } finally {
      fs.rmSync(pwfile, { force: true });
    }
    const conf = Object.entries(settings)
      .map(([k, v]) => `${k} = ${v}`)
      .join("\n");
    fs.appendFileSync(path.join(dir, "postgresql.conf"), `\n# written by CapyDB\n${conf}\n`);
  } else {
    keepPlatformReserve(dir, log);
  }

  if (!(await isRunning(binDir, dir, user))) {
    log(`starting PostgreSQL on 127.0.0.1:${options.port}`);
    await run(path.join(binDir, "pg_ctl"), ["-D", dir, "-l", path.join(dir, "postgres.log"), "-w", "-t", "60", "-o", `-p ${options.port}`, "start"], user);
  } else {
    warnOfInheritedSecrets(dir, log);
  }

  const adminUrl = `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${options.port}/postgres`;
  return {
    adminUrl,
    port: options.port,
    dir,
    binDir,
    osUser: user,
    async stop() {
      if (await isRunning(binDir, dir, user)) {
        log("stopping PostgreSQL");
        await run(path.join(binDir, "pg_ctl"), ["-D", dir, "-m", "fast", "-w", "-t", "60", "stop"], user);
      }
    },
  };
}
