// What the tests need on the machine, checked before the shared cluster starts: a missing
// program otherwise shows up minutes later, tests deep, as an unrelated failure ("pooled
// connections are not available"). As root on Debian/Ubuntu the check installs what is missing
// (as .ci/run does); anywhere else it stops the run with one message naming the packages.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { findPgBinDir, postgresOsUser } from "../../server/src/platform/dataplane/pg-binaries.js";
import { findPgBouncer } from "../../server/src/platform/dataplane/pooler.js";

export interface Prerequisite {
  /** What is missing, as a person would name it. */
  what: string;
  /** The Debian/Ubuntu package that provides it. */
  debian: string;
  present(): boolean;
}

/** An executable of that name in a directory of the PATH (the tests run psql and friends by name). */
export function onPath(name: string): boolean {
  return (process.env.PATH ?? "").split(path.delimiter).some((dir) => {
    if (!dir) return false;
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function succeeds(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

export const REQUIRED: Prerequisite[] = [
  {
    // Found the way the harness finds them; as root, the postgres OS user (the package makes it) runs them.
    what: "the PostgreSQL server (initdb, pg_ctl, postgres)",
    debian: "postgresql",
    present: () => succeeds(() => findPgBinDir(null)) && succeeds(() => postgresOsUser()),
  },
  {
    what: "psql, pg_dump and pg_restore on the PATH",
    debian: "postgresql-client",
    present: () => ["psql", "pg_dump", "pg_restore"].every(onPath),
  },
  {
    what: "PgBouncer (pooled connections)",
    debian: "pgbouncer",
    present: () => findPgBouncer(null) !== null,
  },
  {
    // As root, the copy-on-write tests format a loop-mounted image XFS (test/harness/reflink.ts);
    // anyone else cannot mount one, and those tests run the copy path instead, saying so.
    what: "mkfs.xfs (the copy-on-write data plane's tests, as root)",
    debian: "xfsprogs",
    present: () => typeof process.getuid !== "function" || process.getuid() !== 0 || ["/usr/sbin/mkfs.xfs", "/sbin/mkfs.xfs"].some((p) => fs.existsSync(p)),
  },
];

/** Optional: without it the tests that run `terraform` skip, each saying why. */
export const TERRAFORM = {
  present: () => onPath("terraform"),
  note: "terraform is not on the PATH: the Terraform provider and CDKTF tests that run it are skipped (install Terraform 1.11.4 to run them)",
};

export class MissingPrerequisites extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MissingPrerequisites";
  }
}

/** The one message for what is still missing. */
export function missingMessage(missing: Prerequisite[]): string {
  const packages = [...new Set(missing.map((p) => p.debian))];
  return (
    `the tests need ${missing.map((p) => p.what).join("; ")}, not found on this machine. ` +
    `Install the package${packages.length > 1 ? "s" : ""}: apt-get install ${packages.join(" ")} ` +
    `(Debian/Ubuntu names; npm test run as root there installs them itself). Then run the tests again.`
  );
}

/** As root with apt-get: the same installation .ci/run does. */
export function canInstallWithApt(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0 && onPath("apt-get");
}

export function aptInstall(packages: string[]): void {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: ["ignore", "ignore", "inherit"], env });
  execFileSync("apt-get", ["install", "-y", "-qq", ...packages], { stdio: ["ignore", "ignore", "inherit"], env });
}

export interface EnsureOptions {
  required?: Prerequisite[];
  terraform?: { present(): boolean; note: string };
  canInstall?: () => boolean;
  install?: (debianPackages: string[]) => void;
  log?: (line: string) => void;
}

/**
 * Installs what is missing when it can, then throws MissingPrerequisites naming the packages of
 * whatever is still missing. Terraform is only reported.
 */
export function ensurePrerequisites(options: EnsureOptions = {}): void {
  const {
    required = REQUIRED,
    terraform = TERRAFORM,
    canInstall = canInstallWithApt,
    install = aptInstall,
    log = (line: string) => process.stderr.write(`[test harness] ${line}\n`),
  } = options;
  let missing = required.filter((p) => !p.present());
  if (missing.length > 0 && canInstall()) {
    const packages = [...new Set(missing.map((p) => p.debian))];
    log(`installing ${packages.join(" ")} (missing: ${missing.map((p) => p.what).join("; ")})`);
    try {
      install(packages);
    } catch (err) {
      log(`apt-get install ${packages.join(" ")} failed: ${(err as Error).message}`);
    }
    missing = missing.filter((p) => !p.present());
  }
  if (missing.length > 0) throw new MissingPrerequisites(missingMessage(missing));
  if (!terraform.present()) log(terraform.note);
}

/**
 * For the global setup: a thrown error there reaches the reader after vitest's "No test files
 * found", which sends them looking in the wrong place; the message alone says what to do.
 */
export function ensurePrerequisitesOrExit(): void {
  try {
    ensurePrerequisites();
  } catch (err) {
    if (!(err instanceof MissingPrerequisites)) throw err;
    process.stderr.write(`\nnpm test cannot run: ${err.message}\n\n`);
    process.exit(1);
  }
}
