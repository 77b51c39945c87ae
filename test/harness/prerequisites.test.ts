// The prerequisites check's decisions, with the machine replaced by flags: what it installs,
// when it stops, and the one message it stops with.
import { describe, expect, it } from "vitest";
import { ensurePrerequisites, MissingPrerequisites, REQUIRED, type Prerequisite } from "./prerequisites.js";

function machine(absent: string[], options: { canInstall?: boolean; installWorks?: boolean; terraform?: boolean } = {}) {
  const missing = new Set(absent);
  const installed: string[][] = [];
  const log: string[] = [];
  const required: Prerequisite[] = REQUIRED.map((p) => ({ ...p, present: () => !missing.has(p.debian) }));
  const run = () =>
    ensurePrerequisites({
      required,
      terraform: { present: () => options.terraform ?? true, note: "terraform skipped" },
      canInstall: () => options.canInstall ?? false,
      install: (packages) => {
        installed.push(packages);
        if (options.installWorks ?? true) for (const p of packages) missing.delete(p);
      },
      log: (line) => log.push(line),
    });
  return { run, installed, log };
}

describe("prerequisites", () => {
  it("with everything present it installs nothing and says nothing", () => {
    const m = machine([]);
    m.run();
    expect(m.installed).toEqual([]);
    expect(m.log).toEqual([]);
  });

  it("without PgBouncer, where it cannot install, it stops with one message naming the package", () => {
    const m = machine(["pgbouncer"]);
    expect(m.run).toThrow(MissingPrerequisites);
    expect(m.run).toThrow(
      "the tests need PgBouncer (pooled connections), not found on this machine. Install the package: apt-get install pgbouncer (Debian/Ubuntu",
    );
    expect(m.installed).toEqual([]);
  });

  it("names every missing package once, in one message", () => {
    const m = machine(["postgresql", "postgresql-client", "pgbouncer"]);
    expect(m.run).toThrow("Install the packages: apt-get install postgresql postgresql-client pgbouncer (Debian/Ubuntu");
  });

  it("as root on Debian it installs exactly what is missing, says so, and goes on", () => {
    const m = machine(["postgresql-client", "pgbouncer"], { canInstall: true });
    m.run();
    expect(m.installed).toEqual([["postgresql-client", "pgbouncer"]]);
    expect(m.log).toEqual([expect.stringMatching(/^installing postgresql-client pgbouncer \(missing: psql, pg_dump and pg_restore on the PATH; PgBouncer/)]);
  });

  it("stops with the message when installing did not bring what was missing", () => {
    const m = machine(["pgbouncer"], { canInstall: true, installWorks: false });
    expect(m.run).toThrow(/apt-get install pgbouncer/);
    expect(m.installed).toEqual([["pgbouncer"]]);
  });

  it("without Terraform it goes on and says which tests skip", () => {
    const m = machine([], { terraform: false });
    m.run();
    expect(m.log).toEqual(["terraform skipped"]);
  });
});
