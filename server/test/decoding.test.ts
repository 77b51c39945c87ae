// Replaying test_decoding's output (issue #19, data-mode carry-over). A source database gets a
// test_decoding slot and a workload over every kind of value and change (hostile names included);
// each peeked line is parsed and its statements are applied, as a non-superuser role owning the
// tables, to a copy of the tables in a second database that had drifted like a preview; both sides
// must then hold the same rows. Then the parser and statement builder alone, on lines that must
// parse exactly and lines that must be refused.
//
// The harness cluster runs with wal_level=replica, so this file starts its own scratch cluster with
// wal_level=logical (startLocalCluster, the harness's code path: initdb as the postgres OS user).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { startLocalCluster, type LocalCluster } from "../src/platform/dataplane/local-cluster.js";
import { quoteIdent } from "../src/platform/dataplane/sql.js";
import {
  DecodingError,
  parseChangeLine,
  statementFor,
  UNCHANGED_TOAST,
  UnreplayableChange,
  type DecodedChange,
  type QualifiedName,
  type TargetTable,
} from "../src/platform/dataplane/decoding.js";
import { freePort } from "../../test/harness/ports.js";

const HOSTILE_SCHEMA = "we]:ird";
const HOSTILE_TABLE = "t: INSERT: x[int]:1";

/** The tables, created identically in production (source) and in the candidate (as the replaying role). */
const SCHEMA_SQL = `
create schema shop;
create type shop.mood as enum ('sad', 'ok', 'it''s fine');
create domain shop.positive as int check (value > 0);
create type shop.pair as (a int, b text);
create table shop.kinds (
  id int primary key,
  t text, j json, jb jsonb, ta text[], ia int[], raw bytea,
  n numeric, f float8, r real, i2 smallint, i8 bigint, o oid,
  ts timestamptz, d date, iv interval, b bool, bt bit(4), vb varbit,
  m shop.mood, pos shop.positive, p shop.pair, rg int4range, u uuid, ch "char"
);
create table shop.docs (id int primary key, title text, body text);
alter table shop.docs alter column body set storage external;
create table shop.ledger (
  id int generated always as identity primary key,
  amount numeric not null,
  doubled numeric generated always as (amount * 2) stored,
  note text
);
create table shop.audit (id int primary key, who text, note text);
alter table shop.audit replica identity full;
create table shop.tags (owner shop.pair, label text, weight int, primary key (owner, label));
create table shop.counter (id serial primary key, label text);
create table shop.parent (id int primary key);
create table shop.child (id int primary key, parent_id int references shop.parent);
create schema "we]:ird";
create domain "we]:ird"."x]:y" as text check (value <> 'forbidden');
create domain public."x]:y" as int;
create table "we]:ird"."t: INSERT: x[int]:1" (
  "a[int]:1 b" int primary key,
  v "we]:ird"."x]:y",
  w public."x]:y",
  "new-tuple: c" text,
  "quo""te
nl" "we]:ird"."x]:y"[]
);`;

/** Rows both sides hold when the preview is cloned (before the slot). */
const BASE_SQL = `
insert into shop.kinds (id, t, n) select g, 'row ' || g, g from generate_series(1, 5) g;
insert into shop.docs select g, 'doc ' || g, (select string_agg(md5(g || ':' || k), '') from generate_series(1, 300) k) from generate_series(1, 3) g;
insert into shop.ledger (amount, note) values (10, 'opening'), (20, null);
insert into shop.audit values (1, 'ann', null), (2, 'bob', 'x');
insert into shop.tags values (row(1, 'x y'), 'a', 1), (row(2, 'q"'), 'b', 2);
insert into shop.counter (label) values ('a'), ('b');
insert into shop.parent values (1), (2);
insert into shop.child values (1, 1), (2, 2);
insert into "we]:ird"."t: INSERT: x[int]:1" values (1, 'one', 1, 'c', null), (5, 'five', 5, null, array['e']);`;

/** What the preview did on its own: production's insert of 50 must win, its update of 3 must bring the row back. */
const PREVIEW_DRIFT_SQL = `
insert into shop.kinds (id, t) values (50, 'the preview''s own row');
delete from shop.kinds where id = 3;`;

/** Production's writes after the slot: each entry runs on its own (one transaction, unless it says BEGIN). */
const WORKLOAD = [
  `insert into shop.kinds values (10,
     E'it''s a "quote", a back\\\\slash, a new\\nline, a tab\\t, ünïcødé 🐘, and x: INSERT: y[int]:1 new-tuple: z[text]:''w''',
     '{"a": "b\\"c", "n": [1, null]}', '{"k": "v''s", "e": "\\u00e9"}',
     array['a b', 'c"d', null, E'back\\\\slash', 'null', ''], array[1, null, 3],
     '\\x00ff5c27', 'NaN', 'Infinity', '-Infinity', -32768, 9223372036854775807, 4294967295,
     '2026-01-02 03:04:05.678901+05:30', '2026-01-02', '1 year 2 mons 3 days 04:05:06.7', true, B'0101', B'',
     'it''s fine', 7, row(3, E'x "y"\\nz'), '[1,5)', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'q')`,
  `insert into shop.kinds (id, t, n, f, r, i8, b, vb, raw) values
     (11, 'unchanged-toast-datum', 'Infinity', 'NaN', 1.5e-7, -9223372036854775808, false, B'1', '\\x'),
     (12, 'null', 12345678901234567890.123456789, 0.1::float8 + 0.2::float8, -0.0, 0, null, null, null),
     (13, null, '-Infinity', '-Infinity', 'Infinity', null, null, null, null)`,
  "insert into shop.kinds (id, t) values (50, 'production''s row 50')",
  `update shop.kinds set t = 'changed', jb = '{"x": 1}' where id = 1`,
  "update shop.kinds set id = 200, t = 'moved' where id = 2",
  "update shop.kinds set n = 33 where id = 3",
  "delete from shop.kinds where id = 4",
  "update shop.docs set title = 'retitled' where id = 1",
  "update shop.docs set body = 'short now' where id = 2",
  "delete from shop.docs where id = 3",
  "insert into shop.ledger (amount, note) values (5, 'five'), (6.5, E'six\\npoint five')",
  "update shop.ledger set amount = 11 where id = 1",
  "delete from shop.ledger where id = 2",
  "update shop.audit set note = 'now set' where id = 1",
  "update shop.audit set id = 3 where id = 2",
  "insert into shop.audit values (4, null, null)",
  "delete from shop.audit where id = 3",
  "update shop.tags set weight = 10 where label = 'a'",
  "update shop.tags set owner = row(20, 'moved') where label = 'b'",
  "insert into shop.tags values (row(3, 'new'), 'c', 3)",
  "delete from shop.tags where weight = 10",
  `begin;
   insert into shop.counter (label) values ('kept');
   savepoint s;
   insert into shop.counter (label) values ('rolled back');
   rollback to savepoint s;
   update shop.counter set label = 'A' where id = 1;
   commit;`,
  "begin; insert into shop.kinds (id) values (99); rollback;",
  "truncate shop.counter restart identity",
  "insert into shop.counter (label) values ('after the restart')",
  "truncate shop.parent cascade",
  "insert into shop.parent values (7); insert into shop.child values (7, 7)",
  `insert into "we]:ird"."t: INSERT: x[int]:1" values
     (2, E'it''s\\n"x"', 2, E' new-tuple: "a[int]:1 b"[integer]:9', array['q"', null, 'b]:c']::"we]:ird"."x]:y"[])`,
  `update "we]:ird"."t: INSERT: x[int]:1" set "a[int]:1 b" = 3 where "a[int]:1 b" = 2`,
  `update "we]:ird"."t: INSERT: x[int]:1" set v = 'uno', "new-tuple: c" = null where "a[int]:1 b" = 1`,
  `delete from "we]:ird"."t: INSERT: x[int]:1" where "a[int]:1 b" = 5`,
  "select pg_logical_emit_message(true, 'capydb', 'a transactional message')",
  "select pg_logical_emit_message(false, 'capydb', 'a message outside transactions')",
  `begin;
   insert into shop.kinds (id, t) values (14, 'in a transaction of several tables');
   update shop.docs set title = 'retitled twice' where id = 1;
   delete from shop.ledger where id = 3;
   commit;`,
];

let root: string;
let cluster: LocalCluster;
let replayerUrl: string;

function urlFor(database: string, user?: { name: string; password: string }): string {
  const u = new URL(cluster.adminUrl);
  u.pathname = `/${database}`;
  if (user) {
    u.username = user.name;
    u.password = user.password;
  }
  return u.toString();
}

async function withClient<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

const qualified = (t: QualifiedName) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/** The candidate's table as the replayer sees it in the catalogue: columns, and the primary key in index order. */
async function loadTarget(c: pg.Client, table: QualifiedName): Promise<TargetTable> {
  const rel = await c.query<{ oid: number }>(
    "select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = $2",
    [table.schema, table.name],
  );
  if (rel.rows.length !== 1) throw new Error(`no table ${qualified(table)} in the candidate`);
  const oid = rel.rows[0].oid;
  const cols = await c.query<{ name: string; generated: boolean; identity_always: boolean }>(
    "select attname::text as name, attgenerated <> '' as generated, attidentity = 'a' as identity_always from pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped",
    [oid],
  );
  const keys = await c.query<{ name: string }>(
    `select a.attname::text as name from pg_index i, unnest(i.indkey::int2[]) with ordinality k(attnum, ord), pg_attribute a
      where i.indrelid = $1 and i.indisprimary and a.attrelid = i.indrelid and a.attnum = k.attnum order by k.ord`,
    [oid],
  );
  return {
    columns: new Map(cols.rows.map((r) => [r.name, { generated: r.generated, identityAlways: r.identity_always }])),
    keyColumns: keys.rows.map((r) => r.name),
  };
}

/** Each table's row count and a digest of its rows, read as the superuser. */
async function fingerprints(database: string, tables: QualifiedName[]): Promise<Record<string, string>> {
  return withClient(urlFor(database), async (c) => {
    const out: Record<string, string> = {};
    for (const t of tables) {
      const { rows } = await c.query<{ n: number; digest: string }>(
        `select count(*)::int as n, md5(coalesce(string_agg(whole_row::text, ',' order by whole_row::text), '')) as digest from ${qualified(t)} whole_row`,
      );
      out[qualified(t)] = `${rows[0].n} rows, ${rows[0].digest}`;
    }
    return out;
  });
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-decoding-"));
  fs.chmodSync(root, 0o755);
  cluster = await startLocalCluster({
    dir: path.join(root, "pg"),
    port: await freePort(),
    // synchronous_commit stays on: decoding reads only flushed WAL, and every commit below must be in it
    settings: { wal_level: "logical", fsync: "off", full_page_writes: "off", max_connections: "40" },
  });
  const replayer = { name: "replayer", password: crypto.randomBytes(18).toString("base64url") };
  replayerUrl = urlFor("candidate", replayer);
  await withClient(cluster.adminUrl, async (c) => {
    await c.query(`create role replayer login password '${replayer.password}'`);
    await c.query("create database production");
    // the candidate's owner is the replaying role, so it owns every table it replays into (and public, as pg_database_owner)
    await c.query("create database candidate owner replayer");
  });
  await withClient(urlFor("production"), (c) => c.query(SCHEMA_SQL + BASE_SQL));
  await withClient(replayerUrl, (c) => c.query(SCHEMA_SQL + BASE_SQL));
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe("replaying production's writes from test_decoding", () => {
  it("leaves the candidate with exactly production's rows, as a non-superuser, hostile names and every value kind included", async () => {
    const replayerIsSuperuser = await withClient(replayerUrl, (c) =>
      c.query<{ rolsuper: boolean }>("select rolsuper from pg_roles where rolname = current_user"),
    );
    expect(replayerIsSuperuser.rows[0].rolsuper).toBe(false);

    const lines = await withClient(urlFor("production"), async (c) => {
      await c.query("select pg_create_logical_replication_slot('carry_over', 'test_decoding')");
      for (const sql of WORKLOAD) await c.query(sql);
      const upto = await c.query<{ lsn: string }>("select pg_current_wal_insert_lsn()::text as lsn");
      const { rows } = await c.query<{ lsn: string; xid: string; data: string }>(
        "select lsn::text, xid::text, data from pg_logical_slot_peek_changes('carry_over', $1::pg_lsn, NULL, 'include-xids', 'on', 'include-timestamp', 'on', 'skip-empty-xacts', 'on')",
        [upto.rows[0].lsn],
      );
      return rows.map((r) => r.data);
    });
    // the workload reached the cases this test is about
    expect(lines.some((l) => l.includes("[text]:unchanged-toast-datum"))).toBe(true);
    expect(lines.some((l) => l.startsWith(`table ${qualified({ schema: HOSTILE_SCHEMA, name: HOSTILE_TABLE })}: UPDATE: old-key: `))).toBe(true);
    expect(lines).toContain("table shop.counter: TRUNCATE: restart_seqs");
    expect(lines).toContain("table shop.parent, shop.child: TRUNCATE: cascade");
    expect(lines.some((l) => l.startsWith("message: "))).toBe(true);

    await withClient(replayerUrl, (c) => c.query(PREVIEW_DRIFT_SQL));
    const tables = await withClient(urlFor("production"), async (c) => {
      const { rows } = await c.query<QualifiedName>(
        "select n.nspname::text as schema, c.relname::text as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind = 'r' and n.nspname = any($1) order by 1, 2",
        [["shop", HOSTILE_SCHEMA]],
      );
      return rows;
    });
    expect(tables).toHaveLength(9);
    const production = await fingerprints("production", tables);
    const before = await fingerprints("candidate", tables);
    for (const t of tables) expect(before[qualified(t)], `${qualified(t)} differs before the replay`).not.toBe(production[qualified(t)]);

    const counts = { statements: 0, fallbacks: 0, transactions: 0 };
    await withClient(replayerUrl, async (c) => {
      const targets = new Map<string, TargetTable>();
      for (const line of lines) {
        const change = parseChangeLine(line);
        if (change.kind === "begin") await c.query("BEGIN");
        if (change.kind === "commit") {
          await c.query("COMMIT");
          counts.transactions++;
        }
        let target: TargetTable | null = null;
        if (change.kind === "insert" || change.kind === "update" || change.kind === "delete") {
          const key = qualified(change.table);
          target = targets.get(key) ?? (await loadTarget(c, change.table));
          targets.set(key, target);
        }
        for (const statement of statementFor(change, target)) {
          const result = await c.query(statement.text, statement.values);
          counts.statements++;
          if (statement.ifNoRows && result.rowCount === 0) {
            await c.query(statement.ifNoRows.text, statement.ifNoRows.values);
            counts.fallbacks++;
          }
        }
      }
    });

    expect(await fingerprints("candidate", tables)).toEqual(production);
    // only the row the preview had deleted needed its update turned into an insert
    expect(counts.fallbacks).toBe(1);
    expect(counts.transactions).toBe(lines.filter((l) => l.startsWith("COMMIT ")).length);
    expect(counts.statements).toBeGreaterThan(30);
  });
});

describe("parseChangeLine", () => {
  const col = (name: string, type: string, value: string | null | typeof UNCHANGED_TOAST) => ({ name, type, value });

  it("reads every value form test_decoding prints", () => {
    const line =
      "table public.t: INSERT: id[integer]:-7 n[numeric]:NaN f[double precision]:-Infinity r[real]:1.5e-07 b[boolean]:false " +
      "bt[bit]:B'0101' vb[bit varying]:B'' o[oid]:4294967295 t[text]:'it''s ''null'' \\ \n new-tuple: x[int]:1' " +
      "e[text]:'' z[text]:null big[text]:unchanged-toast-datum a[text[]]:'{\"a b\",NULL}' c[\"char\"]:'q'";
    expect(parseChangeLine(line)).toEqual({
      kind: "insert",
      table: { schema: "public", name: "t" },
      newTuple: [
        col("id", "integer", "-7"),
        col("n", "numeric", "NaN"),
        col("f", "double precision", "-Infinity"),
        col("r", "real", "1.5e-07"),
        col("b", "boolean", "false"),
        col("bt", "bit", "0101"),
        col("vb", "bit varying", ""),
        col("o", "oid", "4294967295"),
        col("t", "text", "it's 'null' \\ \n new-tuple: x[int]:1"),
        col("e", "text", ""),
        col("z", "text", null),
        col("big", "text", UNCHANGED_TOAST),
        col("a", "text[]", '{"a b",NULL}'),
        col("c", '"char"', "q"),
      ],
    });
  });

  it("reads hostile names as units: quoted table, column and type names with brackets, colons, quotes and newlines", () => {
    const line =
      'table "we]:ird"."t: INSERT: x[int]:1": UPDATE: old-key: "a[int]:1 b"[integer]:1 new-tuple: "a[int]:1 b"[integer]:2 ' +
      'v["we]:ird"."x]:y"]:\'it\'\'s\' w["x]:y"]:\'5\' "new-tuple: c"[text]:null "quo""te\nnl"["we]:ird"."x]:y"[]]:\'{"q\\"",NULL}\'';
    expect(parseChangeLine(line)).toEqual({
      kind: "update",
      table: { schema: "we]:ird", name: "t: INSERT: x[int]:1" },
      oldKey: [col("a[int]:1 b", "integer", "1")],
      newTuple: [
        col("a[int]:1 b", "integer", "2"),
        col("v", '"we]:ird"."x]:y"', "it's"),
        col("w", '"x]:y"', "5"),
        col("new-tuple: c", "text", null),
        col('quo"te\nnl', '"we]:ird"."x]:y"[]', '{"q\\"",NULL}'),
      ],
    });
  });

  it("reads updates without an old key, deletes, truncates, transaction boundaries and messages", () => {
    expect(parseChangeLine("table s.t: UPDATE: id[integer]:1")).toEqual({
      kind: "update",
      table: { schema: "s", name: "t" },
      oldKey: null,
      newTuple: [col("id", "integer", "1")],
    });
    expect(parseChangeLine("table s.t: DELETE: (no-tuple-data)")).toEqual({ kind: "delete", table: { schema: "s", name: "t" }, oldKey: null });
    expect(parseChangeLine("table s.t: DELETE: id[integer]:1")).toEqual({
      kind: "delete",
      table: { schema: "s", name: "t" },
      oldKey: [col("id", "integer", "1")],
    });
    expect(parseChangeLine('table s.a, "x, y"."b: TRUNCATE:": TRUNCATE: (no-flags)')).toEqual({
      kind: "truncate",
      tables: [
        { schema: "s", name: "a" },
        { schema: "x, y", name: "b: TRUNCATE:" },
      ],
      restartSeqs: false,
      cascade: false,
    });
    expect(parseChangeLine("table s.a: TRUNCATE: restart_seqs cascade")).toMatchObject({ restartSeqs: true, cascade: true });
    expect(parseChangeLine("table s.a: TRUNCATE: cascade")).toMatchObject({ restartSeqs: false, cascade: true });
    expect(parseChangeLine("BEGIN 735")).toEqual({ kind: "begin", xid: 735 });
    expect(parseChangeLine("BEGIN")).toEqual({ kind: "begin", xid: null });
    expect(parseChangeLine("COMMIT 735 (at 2026-12-01 18:36:34.312823+00)")).toEqual({ kind: "commit", xid: 735, at: "2026-12-01 18:36:34.312823+00" });
    expect(parseChangeLine("COMMIT 735")).toEqual({ kind: "commit", xid: 735, at: null });
    expect(parseChangeLine("message: transactional: 1 prefix: p, sz: 3 content:a\nb")).toEqual({ kind: "message" });
  });

  it("reads a value of megabytes whole", () => {
    const value = "x''y ".repeat(200_000);
    const change = parseChangeLine(`table s.t: INSERT: id[integer]:1 body[text]:'${value}' tail[integer]:2`);
    expect(change).toMatchObject({
      kind: "insert",
      newTuple: [col("id", "integer", "1"), col("body", "text", "x'y ".repeat(200_000)), col("tail", "integer", "2")],
    });
  });

  it.each([
    ["an empty line", ""],
    ["an unknown line", "ROLLBACK 5"],
    ["a two-phase commit", "COMMIT PREPARED 'gid', txid 5"],
    ["a BEGIN with junk", "BEGIN five"],
    ["a header without action", "table s.t"],
    ["an unknown action", "table s.t: UPSERT: id[integer]:1"],
    ["an unqualified table", "table t: INSERT: id[integer]:1"],
    ["an unterminated quoted table name", 'table "s.t: INSERT: id[integer]:1'],
    ["an unterminated quoted value", "table s.t: INSERT: t[text]:'it''s"],
    ["a type without its closing bracket", "table s.t: INSERT: id[integer:1"],
    ["an unterminated quoted type", 'table s.t: INSERT: id["x]:1'],
    ["no colon after the type", "table s.t: INSERT: id[integer] 1"],
    ["junk after a value", "table s.t: INSERT: id[integer]:1 junk"],
    ["a bare value for a quoted type", "table s.t: INSERT: t[text]:hello"],
    ["a quoted value for a bare type", "table s.t: INSERT: id[integer]:'1'"],
    ["a number that is not one", "table s.t: INSERT: id[integer]:1x"],
    ["a bit string for another type", "table s.t: INSERT: t[text]:B'01'"],
    ["a bit string of other digits", "table s.t: INSERT: b[bit]:B'012'"],
    ["an old key without new tuple", "table s.t: UPDATE: old-key: id[integer]:1"],
    ["an INSERT without tuple data", "table s.t: INSERT: (no-tuple-data)"],
    ["several tables for a DELETE", "table s.a, s.b: DELETE: id[integer]:1"],
    ["unknown TRUNCATE flags", "table s.t: TRUNCATE: everything"],
    ["junk after (no-tuple-data)", "table s.t: DELETE: (no-tuple-data) x"],
    ["a column without a name", "table s.t: INSERT: [integer]:1"],
  ])("refuses %s", (_what, line) => {
    expect(() => parseChangeLine(line)).toThrow(DecodingError);
  });

  it("quotes only the start of a huge bad line in its error", () => {
    const secretish = "s3cret-".repeat(100_000);
    const line = `table s.t: INSERT: t[text]:'${secretish}' n[integer]:oops`;
    let message = "";
    try {
      parseChangeLine(line);
    } catch (err) {
      expect(err).toBeInstanceOf(DecodingError);
      message = (err as Error).message;
    }
    expect(message).toContain(`of ${line.length}, in the line starting`);
    expect(message.length).toBeLessThan(300);
  });
});

describe("statementFor", () => {
  const table = { schema: "s", name: "t" };
  const target = (keyColumns: string[], columns: Record<string, { generated?: boolean; identityAlways?: boolean }>): TargetTable => ({
    keyColumns,
    columns: new Map(Object.entries(columns).map(([name, c]) => [name, { generated: c.generated ?? false, identityAlways: c.identityAlways ?? false }])),
  });
  const insert = (values: Record<string, string | null>): DecodedChange => ({
    kind: "insert",
    table,
    newTuple: Object.entries(values).map(([name, value]) => ({ name, type: "text", value })),
  });

  it("upserts inserts on the key, skips generated columns, keeps identity values, and binds every value", () => {
    const t = target(["id"], { id: { identityAlways: true }, v: {}, g: { generated: true }, w: {} });
    expect(statementFor(insert({ id: "1", v: "'); drop table x; --", g: "2", w: null }), t)).toEqual([
      {
        text: 'INSERT INTO "s"."t" ("id", "v", "w") OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3) ON CONFLICT ("id") DO UPDATE SET "v" = EXCLUDED."v", "w" = EXCLUDED."w"',
        values: ["1", "'); drop table x; --", null],
      },
    ]);
    expect(statementFor(insert({ a: "1", b: "2" }), target(["a", "b"], { a: {}, b: {} }))[0].text).toMatch(/ON CONFLICT \("a", "b"\) DO NOTHING$/);
    expect(statementFor(insert({ a: "1" }), target([], { a: {} }))[0].text).toBe('INSERT INTO "s"."t" ("a") OVERRIDING SYSTEM VALUE VALUES ($1)');
  });

  it("updates by the old key when there is one, and offers an insert for a missing row only when the whole row was printed", () => {
    const t = target(["id"], { id: {}, v: {}, big: {} });
    const moved = statementFor(
      {
        kind: "update",
        table,
        oldKey: [{ name: "id", type: "integer", value: "1" }],
        newTuple: [
          { name: "id", type: "integer", value: "2" },
          { name: "v", type: "text", value: "x" },
          { name: "big", type: "text", value: "y" },
        ],
      },
      t,
    )[0];
    expect(moved.text).toBe('UPDATE "s"."t" SET "id" = $1, "v" = $2, "big" = $3 WHERE "id" OPERATOR(pg_catalog.=) COALESCE($4, (NULL::"s"."t")."id")');
    expect(moved.values).toEqual(["2", "x", "y", "1"]);
    expect(moved.ifNoRows?.text).toMatch(/^INSERT INTO "s"."t" \("id", "v", "big"\)/);

    const toasted = statementFor(
      {
        kind: "update",
        table,
        oldKey: null,
        newTuple: [
          { name: "id", type: "integer", value: "2" },
          { name: "v", type: "text", value: "x" },
          { name: "big", type: "text", value: UNCHANGED_TOAST },
        ],
      },
      t,
    )[0];
    expect(toasted).toEqual({ text: 'UPDATE "s"."t" SET "v" = $1 WHERE "id" OPERATOR(pg_catalog.=) COALESCE($2, (NULL::"s"."t")."id")', values: ["x", "2"] });
  });

  it("refuses what the candidate cannot take, naming the table and what is missing", () => {
    const t = target(["id"], { id: {} });
    expect(() => statementFor(insert({ id: "1", gone: "x" }), t)).toThrow(new UnreplayableChange(table, 'column "gone" is not in the candidate\'s table'));
    expect(() => statementFor({ kind: "delete", table, oldKey: null }, t)).toThrow(/"s"."t": production printed no key for a DELETE/);
    expect(() => statementFor({ kind: "delete", table, oldKey: [{ name: "other", type: "integer", value: "1" }] }, t)).toThrow(/does not hold key column "id"/);
    expect(() => statementFor({ kind: "delete", table, oldKey: [{ name: "id", type: "integer", value: "1" }] }, target([], { id: {} }))).toThrow(
      /no primary key/,
    );
  });

  it("truncates every listed table with production's flags", () => {
    expect(statementFor({ kind: "truncate", tables: [table, { schema: "a b", name: 'c"d' }], restartSeqs: true, cascade: true }, null)).toEqual([
      { text: 'TRUNCATE "s"."t", "a b"."c""d" RESTART IDENTITY CASCADE', values: [] },
    ]);
  });
});
