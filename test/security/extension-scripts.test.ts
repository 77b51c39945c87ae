// Attack (the CVE-2018-1058 / CVE-2023-39417 class): an allow-listed untrusted extension's
// script runs as a superuser inside the tenant's database, and resolves every name it does
// not qualify along its search_path. A tenant holding only its connection string pre-plants
// what that script could pick up before asking the platform to enable the extension:
//   (a) the platform's extension schema itself, made by the tenant first, so the script
//       would run (and leave superuser objects) in a schema the tenant owns;
//   (b) functions and operators in public (and in a schema named after the superuser, the
//       "$user" of a session whose search_path were left at its default) with the names and
//       argument types the pg_stat_statements scripts use, and a marker they write to;
//   (c) objects in a database the platform believes fresh, before the privileged setup that
//       creates extensions where no tenant object may exist yet;
//   (d) a required extension (cube, trusted: the tenant makes it itself) in its own schema
//       public, next to look-alikes of what the script of the untrusted extension needing it
//       (earthdistance) names: that script would have public on its search_path;
//   (e) a trusted extension placed in the platform's schema itself (PostgreSQL allows it).
// Every trap writes to public.trap_marker and, when a superuser runs it, opens a shell as the
// postgres OS user (COPY TO PROGRAM, a file in markerDir) and makes the tenant a superuser.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import crypto from "node:crypto";
import fs from "node:fs";
import pg from "pg";
import { JobFailedError, type CapyClient, type Job } from "@capydb/api";
import { createDatabase, startTestServer, withDatabase, type TestServer } from "../harness/server.js";
import { psql } from "../harness/sql.js";
import { readyProject, tenant } from "../harness/tenants.js";
import { expectNoTrapFiredIn, makeMarkerDir, plantTrapsInto } from "./traps.js";
import { PLATFORM_EXTENSION_SCHEMA, precreateExtensions, UnsafeDatabaseError } from "../../server/src/platform/dataplane/privileged.js";

let t: TestServer;
let org: CapyClient;
let markerDir: string;
const superuser = () => decodeURIComponent(new URL(inject("pgAdminUrl")).username);

/**
 * Catalog reads as the harness superuser, names resolved in pg_catalog only: the tenant's
 * operators in public must not capture the test's own queries either.
 */
async function catalog<T extends pg.QueryResultRow>(database: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: withDatabase(inject("pgAdminUrl"), database), options: "-c search_path=pg_catalog,pg_temp" });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * The traps of the trap-laden database tests (public.pwn among them), the marker table, and
 * public.trap_fire(tag), which every look-alike below calls: it records the call, and through
 * public.pwn opens a shell and makes the tenant a superuser when a superuser runs it.
 */
function plantMarker(uri: string, role: string): void {
  plantTrapsInto(uri, role, markerDir);
  psql(
    uri,
    `create table public.trap_marker (tag text, who name, superuser boolean);
     grant insert on public.trap_marker to public;
     create function public.trap_fire(tag text) returns boolean language plpgsql volatile as $f$
     begin
       insert into public.trap_marker
         select tag, current_user, r.rolsuper from pg_catalog.pg_roles r where r.rolname operator(pg_catalog.=) current_user;
       perform public.pwn(tag);
       return true;
     end $f$;`,
  );
}

/** Operators on the argument types catalog queries and extension scripts compare, each firing the trap. */
function operatorTraps(schema: string): string {
  const s = ident(schema);
  return [
    ["oid", "oid"],
    ["name", "name"],
    ["boolean", "boolean"],
    ["bigint", "bigint"],
    ["text", "text"],
  ]
    .map(
      ([l, r]) => `
     create function ${s}.trap_eq(${l}, ${r}) returns boolean language plpgsql as $f$
       begin perform public.trap_fire('eq_${l}'); return $1 operator(pg_catalog.=) $2; end $f$;
     create operator ${s}.= (leftarg = ${l}, rightarg = ${r}, function = ${s}.trap_eq);`,
    )
    .join("\n");
}

/** Functions named and typed as those of the pg_stat_statements scripts, plus the operators. */
function scriptTraps(schema: string): string {
  const s = ident(schema);
  return `
    create function ${s}.pg_stat_statements(showtext boolean) returns setof record language plpgsql as $f$
      begin perform public.trap_fire('pg_stat_statements'); return; end $f$;
    create function ${s}.pg_stat_statements_info() returns record language plpgsql as $f$
      begin perform public.trap_fire('pg_stat_statements_info'); return null; end $f$;
    create function ${s}.pg_stat_statements_reset(userid oid, dbid oid, queryid bigint) returns void language plpgsql as $f$
      begin perform public.trap_fire('pg_stat_statements_reset'); end $f$;
    ${operatorTraps(schema)}`;
}

/** Nothing the tenant planted ran: for anyone (the marker table), as a superuser (the shell), nor made it one. */
async function expectNothingFired(uri: string, role: string): Promise<void> {
  expect(psql(uri, "select count(*) from public.trap_marker"), "trap calls").toBe("0");
  expectNoTrapFiredIn(markerDir, "while the platform worked on extensions");
  const rows = await catalog<{ rolsuper: boolean }>("postgres", "select rolsuper from pg_roles where rolname = $1", [role]);
  expect(rows).toEqual([{ rolsuper: false }]);
}

async function jobFailure(job: { id: string }): Promise<Job> {
  const err = await org.waitForJob(job.id, { timeoutMs: 60_000 }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, "the job should have failed").toBeInstanceOf(JobFailedError);
  return (err as JobFailedError).job;
}

async function extensionIn(database: string, name: string): Promise<{ schema: string; owner: string } | undefined> {
  const rows = await catalog<{ schema: string; owner: string }>(
    database,
    "select n.nspname::text as schema, pg_get_userbyid(e.extowner)::text as owner from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = $1",
    [name],
  );
  return rows[0];
}

/**
 * Everything an extension's objects (and its views' rewrite rules) depend on, with the schema it
 * lives in: what its script resolved its unqualified names to.
 */
async function referencesOf(database: string, name: string): Promise<Array<{ what: string; schema: string | null }>> {
  return catalog(
    database,
    `with ext as (select oid from pg_extension where extname = $1),
          members as (select d.classid, d.objid from pg_depend d, ext where d.refclassid = 'pg_extension'::regclass and d.refobjid = ext.oid and d.deptype = 'e'),
          dependents as (select classid, objid from members
                         union select 'pg_rewrite'::regclass, r.oid from pg_rewrite r join members m on m.classid = 'pg_class'::regclass and m.objid = r.ev_class
                         union select 'pg_constraint'::regclass, k.oid from pg_constraint k join members m on m.classid = 'pg_type'::regclass and m.objid = k.contypid)
     select distinct pg_describe_object(d.refclassid, d.refobjid, 0) as what, (pg_identify_object(d.refclassid, d.refobjid, 0)).schema as schema
       from pg_depend d join dependents x on x.classid = d.classid and x.objid = d.objid
      where d.deptype in ('n', 'a') and d.refclassid <> 'pg_extension'::regclass
      order by 1`,
    [name],
  );
}

beforeAll(async () => {
  markerDir = makeMarkerDir();
  // earthdistance: untrusted, and it requires cube, which is trusted (a tenant makes it itself).
  t = await startTestServer({ CAPYDB_EXTENSION_ALLOWLIST: "pg_stat_statements,earthdistance", CAPYDB_JOB_MAX_ATTEMPTS: "3" });
  org = await tenant(t, "Planter");
});
afterAll(async () => {
  await org?.close();
  await t?.stop();
  fs.rmSync(markerDir, { recursive: true, force: true });
});

describe("what a tenant pre-plants before an allow-listed untrusted extension's script runs", () => {
  it("(a) its own schema named like the platform's: refused for good with a clear message, nothing created in it", async () => {
    const { project, uri } = await readyProject(org, "squatter");
    plantMarker(uri, project.role_name);
    psql(
      uri,
      `create schema ${PLATFORM_EXTENSION_SCHEMA}; create table ${PLATFORM_EXTENSION_SCHEMA}.notes(id int); ${operatorTraps(PLATFORM_EXTENSION_SCHEMA)}`,
    );
    const tenantObjects = `select count(*)::int as n from (
        select relowner as owner from pg_class where relnamespace = $1::regnamespace
        union all select proowner from pg_proc where pronamespace = $1::regnamespace
        union all select typowner from pg_type where typnamespace = $1::regnamespace
        union all select oprowner from pg_operator where oprnamespace = $1::regnamespace) o
      where o.owner <> (select oid from pg_roles where rolname = $2)`;

    for (let attempt = 0; attempt < 2; attempt++) {
      const job = await jobFailure((await org.enableExtension(project.id, "pg_stat_statements")).job);
      expect(job.error).toMatch(/schema capydb_extensions was made by the project, not the platform: rename or drop it/);
      expect(job).toMatchObject({ attempts: 1, retry_classification: "permanent" });
      expect(await extensionIn(project.database_name, "pg_stat_statements")).toBeUndefined();
      // nothing of anyone else's (a superuser's) appeared in the tenant's schema
      expect((await catalog<{ n: number }>(project.database_name, tenantObjects, [PLATFORM_EXTENSION_SCHEMA, project.role_name]))[0].n).toBe(0);
    }
    await expectNothingFired(uri, project.role_name);

    // The advice holds: once the tenant's schema is out of the way, the platform makes its own.
    psql(uri, `alter schema ${PLATFORM_EXTENSION_SCHEMA} rename to mine`);
    await org.waitForJob((await org.enableExtension(project.id, "pg_stat_statements")).job.id, { timeoutMs: 60_000 });
    expect(await extensionIn(project.database_name, "pg_stat_statements")).toEqual({ schema: PLATFORM_EXTENSION_SCHEMA, owner: superuser() });
    const owner = await catalog<{ owner: string }>(
      project.database_name,
      "select pg_get_userbyid(nspowner)::text as owner from pg_namespace where nspname = $1",
      [PLATFORM_EXTENSION_SCHEMA],
    );
    expect(owner).toEqual([{ owner: superuser() }]);
    expect((await catalog<{ n: number }>(project.database_name, tenantObjects, ["mine", project.role_name]))[0].n).toBe(0);
    await expectNothingFired(uri, project.role_name);
  });

  it("(b) look-alike functions and operators in public: the script resolves only the platform's schema and pg_catalog", async () => {
    const { project, uri } = await readyProject(org, "planter");
    plantMarker(uri, project.role_name);
    psql(uri, scriptTraps("public"));
    // The "$user" schema of the superuser, first on a default search_path.
    psql(uri, `create schema ${ident(superuser())}; ${scriptTraps(superuser())}`);

    await org.waitForJob((await org.enableExtension(project.id, "pg_stat_statements")).job.id, { timeoutMs: 60_000 });
    expect(await extensionIn(project.database_name, "pg_stat_statements")).toEqual({ schema: PLATFORM_EXTENSION_SCHEMA, owner: superuser() });

    // Its objects all live in the platform's schema...
    const members = await catalog<{ schema: string | null; what: string }>(
      project.database_name,
      `select (pg_identify_object(d.classid, d.objid, d.objsubid)).schema as schema, pg_describe_object(d.classid, d.objid, d.objsubid) as what
         from pg_depend d where d.refclassid = 'pg_extension'::regclass and d.deptype = 'e'
          and d.refobjid = (select oid from pg_extension where extname = 'pg_stat_statements')`,
    );
    expect(members.length).toBeGreaterThanOrEqual(4);
    expect(members.filter((m) => m.schema !== PLATFORM_EXTENSION_SCHEMA)).toEqual([]);
    // ...and depend on nothing of the tenant's: the view calls the extension's own function.
    const refs = await referencesOf(project.database_name, "pg_stat_statements");
    expect(refs.map((r) => r.what)).toContain(`function ${PLATFORM_EXTENSION_SCHEMA}.pg_stat_statements(boolean)`);
    expect(refs.filter((r) => r.schema !== null && r.schema !== "pg_catalog" && r.schema !== PLATFORM_EXTENSION_SCHEMA)).toEqual([]);
    const procs = await catalog<{ schema: string; owner: string }>(
      project.database_name,
      "select n.nspname::text as schema, pg_get_userbyid(p.proowner)::text as owner from pg_proc p join pg_namespace n on n.oid = p.pronamespace where p.proname = 'pg_stat_statements' order by 1",
    );
    expect(procs).toEqual(
      [
        { schema: PLATFORM_EXTENSION_SCHEMA, owner: superuser() },
        { schema: "public", owner: project.role_name },
        { schema: superuser(), owner: project.role_name },
      ].sort((x, y) => (x.schema < y.schema ? -1 : 1)),
    );
    await expectNothingFired(uri, project.role_name);

    // Disabling drops the extension's objects only: the tenant's look-alikes stay its own.
    await org.waitForJob((await org.disableExtension(project.id, "pg_stat_statements")).job.id, { timeoutMs: 60_000 });
    expect(await extensionIn(project.database_name, "pg_stat_statements")).toBeUndefined();
    const left = await catalog<{ owner: string }>(
      project.database_name,
      "select pg_get_userbyid(proowner)::text as owner from pg_proc where proname = 'pg_stat_statements' and pronamespace = 'public'::regnamespace",
    );
    expect(left).toEqual([{ owner: project.role_name }]);
    await expectNothingFired(uri, project.role_name);
  });

  it("(c) the setup that assumes a fresh database refuses one holding any object a tenant made", async () => {
    const { project, uri } = await readyProject(org, "stale");
    const pgStatStatements = [{ name: "pg_stat_statements", schema: "public" }];
    const precreate = (database: string) => precreateExtensions(t.server.ctx.clusters, project.cluster_id, database, pgStatStatements);
    const made: string[] = [];
    /** A database as the platform makes one, the tenant's role given CONNECT and CREATE (as it gets them later). */
    const reachable = async () => {
      const database = `capy_ext_fresh_${crypto.randomBytes(4).toString("hex")}`;
      await createDatabase(t.adminUrl, database);
      made.push(database);
      await catalog("postgres", `grant connect, temporary, create on database ${ident(database)} to ${ident(project.role_name)}`);
      const u = new URL(uri);
      const admin = new URL(inject("pgAdminUrl"));
      u.hostname = admin.hostname;
      u.port = admin.port;
      u.pathname = `/${database}`;
      u.search = "";
      return { database, tenantUri: u.toString() };
    };
    try {
      // Untouched: the extension is made (the check does not refuse everything).
      const untouched = await reachable();
      await precreate(untouched.database);
      expect(await extensionIn(untouched.database, "pg_stat_statements")).toEqual({ schema: "public", owner: superuser() });

      const plants: Record<string, string> = {
        "a table": "create schema lair; create table lair.notes (id int)",
        "a function": "create schema lair; create function lair.f() returns int language sql as 'select 1'",
        "an operator over a built-in function": "create schema lair; create operator lair.=== (leftarg = int4, rightarg = int4, function = pg_catalog.int4eq)",
        "a domain": "create schema lair; create domain lair.positive as int check (value > 0)",
        "a collation": `create schema lair; create collation lair.trap (locale = 'C')`,
        "an empty schema": "create schema lair",
        "default privileges": "alter default privileges grant all on tables to public",
      };
      const accepted: string[] = [];
      for (const [kind, sql] of Object.entries(plants)) {
        const { database, tenantUri } = await reachable();
        psql(tenantUri, sql);
        const refusal = await precreate(database).then(
          () => null,
          (err: unknown) => err,
        );
        if (!(refusal instanceof UnsafeDatabaseError)) {
          accepted.push(`${kind}: ${refusal === null ? "the extension was made" : String(refusal)}`);
          continue;
        }
        expect(refusal.message).toMatch(/already holds objects a tenant made/);
        expect(await extensionIn(database, "pg_stat_statements"), kind).toBeUndefined();
      }
      expect(accepted).toEqual([]);
      // The project's own live database, handed to its tenant (schema public is the tenant's).
      await expect(precreate(project.database_name)).rejects.toThrow(UnsafeDatabaseError);
      expect(await extensionIn(project.database_name, "pg_stat_statements")).toBeUndefined();
    } finally {
      for (const database of made) await catalog("postgres", `drop database if exists ${ident(database)} with (force)`);
    }
  });

  it("(d) a required extension the tenant installed in its own schema: refused, nothing created; made alongside otherwise", async () => {
    const { project, uri } = await readyProject(org, "requirer");
    plantMarker(uri, project.role_name);
    // cube is trusted: the tenant makes it in public itself (its objects are the bootstrap
    // superuser's, but the schema is the tenant's), next to look-alikes of what earthdistance's
    // script names: with public on the script's search_path they would sit right behind it.
    psql(uri, "create extension cube schema public");
    psql(
      uri,
      `create function public.earth() returns float8 language plpgsql as $f$
         begin perform public.trap_fire('earth'); return 6378168; end $f$;
       create function public.geo_distance(point, point) returns float8 language plpgsql as $f$
         begin perform public.trap_fire('geo_distance'); return 0; end $f$;
       create function public.cube_is_point(public.cube, integer default 0) returns boolean language plpgsql as $f$
         begin return public.trap_fire('cube_is_point'); end $f$;
       ${operatorTraps("public")}`,
    );

    for (let attempt = 0; attempt < 2; attempt++) {
      const job = await jobFailure((await org.enableExtension(project.id, "earthdistance")).job);
      expect(job.error).toMatch(/extension "earthdistance" needs "cube", installed in schema public which the project owns/);
      expect(job).toMatchObject({ attempts: 1, retry_classification: "permanent" });
      expect(await extensionIn(project.database_name, "earthdistance")).toBeUndefined();
      expect(await catalog(project.database_name, "select 1 from pg_type where typname = 'earth'")).toEqual([]);
    }
    await expectNothingFired(uri, project.role_name);

    // Without the tenant's cube, the platform makes cube alongside, in its own schema, and
    // earthdistance's domain checks call that cube's functions.
    psql(uri, "drop extension cube cascade");
    await org.waitForJob((await org.enableExtension(project.id, "earthdistance")).job.id, { timeoutMs: 60_000 });
    expect(await extensionIn(project.database_name, "earthdistance")).toEqual({ schema: PLATFORM_EXTENSION_SCHEMA, owner: superuser() });
    expect(await extensionIn(project.database_name, "cube")).toEqual({ schema: PLATFORM_EXTENSION_SCHEMA, owner: superuser() });
    const refs = await referencesOf(project.database_name, "earthdistance");
    expect(refs.map((r) => r.what)).toContain(`function ${PLATFORM_EXTENSION_SCHEMA}.cube_is_point(${PLATFORM_EXTENSION_SCHEMA}.cube)`);
    expect(refs.filter((r) => r.schema !== null && r.schema !== "pg_catalog" && r.schema !== PLATFORM_EXTENSION_SCHEMA)).toEqual([]);
    await expectNothingFired(uri, project.role_name);
  });

  it("(e) a trusted extension the tenant puts in the platform's schema: PostgreSQL's code, out of the tenant's reach", async () => {
    const { project, uri } = await readyProject(org, "lodger");
    plantMarker(uri, project.role_name);
    await org.waitForJob((await org.enableExtension(project.id, "pg_stat_statements")).job.id, { timeoutMs: 60_000 });
    // PostgreSQL runs a trusted extension's script as the bootstrap superuser and does not ask for
    // CREATE on the target schema: the tenant can place cube in the platform's schema. What it gets
    // there is PostgreSQL's own code, owned by the bootstrap superuser; nothing of its own.
    psql(uri, `create extension cube schema ${PLATFORM_EXTENSION_SCHEMA}`);
    expect(await extensionIn(project.database_name, "cube")).toEqual({ schema: PLATFORM_EXTENSION_SCHEMA, owner: project.role_name });
    const s = PLATFORM_EXTENSION_SCHEMA;
    for (const attempt of [
      `create function ${s}.cube_is_point(${s}.cube, integer default 0) returns boolean language sql as 'select public.trap_fire(''cube_is_point'')'`,
      `alter function ${s}.cube_is_point(${s}.cube) owner to current_user`,
      `alter extension cube drop function ${s}.cube_is_point(${s}.cube)`,
      `drop function ${s}.cube_is_point(${s}.cube)`,
      "alter extension cube set schema public",
      `create operator ${s}.= (leftarg = oid, rightarg = oid, function = public.trap_eq)`,
    ]) {
      expect(() => psql(uri, attempt), attempt).toThrow(/permission denied|must be owner|cannot drop/);
    }
    const foreign = await catalog<{ what: string }>(
      project.database_name,
      `select pg_describe_object(classid, objid, objsubid) as what from (
         select 'pg_proc'::regclass as classid, oid as objid, 0 as objsubid, proowner as owner from pg_proc where pronamespace = $1::regnamespace
         union all select 'pg_type'::regclass, oid, 0, typowner from pg_type where typnamespace = $1::regnamespace
         union all select 'pg_operator'::regclass, oid, 0, oprowner from pg_operator where oprnamespace = $1::regnamespace
         union all select 'pg_class'::regclass, oid, 0, relowner from pg_class where relnamespace = $1::regnamespace) o
       where not (select rolsuper from pg_roles where oid = o.owner)`,
      [PLATFORM_EXTENSION_SCHEMA],
    );
    expect(foreign).toEqual([]);

    // earthdistance then finds its cube in the platform's schema: what its script resolves is
    // PostgreSQL's code there and in pg_catalog.
    await org.waitForJob((await org.enableExtension(project.id, "earthdistance")).job.id, { timeoutMs: 60_000 });
    const refs = await referencesOf(project.database_name, "earthdistance");
    expect(refs.map((r) => r.what)).toContain(`function ${PLATFORM_EXTENSION_SCHEMA}.cube_is_point(${PLATFORM_EXTENSION_SCHEMA}.cube)`);
    expect(refs.filter((r) => r.schema !== null && r.schema !== "pg_catalog" && r.schema !== PLATFORM_EXTENSION_SCHEMA)).toEqual([]);
    await expectNothingFired(uri, project.role_name);
  });
});
