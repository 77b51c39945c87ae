// Schema diffs of previews against production (issue #17, first slice): migra's statements
// from production's schema to the preview's, each classified with production's real table
// sizes. A corpus of migrations is applied to a preview (reset to production between them);
// each asserts the statements' kinds and risks.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CapyClient, Project, SchemaDiff } from "@capydb/api";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { psql } from "../../test/harness/sql.js";
import { organization, readyProject } from "../../test/harness/tenants.js";

let t: TestServer;
let org: CapyClient;
let project: Project;
let prod: string;
let previewId: string;
let previewUri: string;

beforeAll(async () => {
  // a table of 1 MB or more is "big": events is (about 3 MB), tags is not
  t = await startTestServer({ CAPYDB_SCHEMA_DIFF_BIG_TABLE_MB: "1" });
  ({ client: org } = await organization(t, "Schema diffs", "sd"));
  ({ project, uri: prod } = await readyProject(org, "app"));
  psql(
    prod,
    `create table events (id int primary key, kind text not null, payload text, at timestamptz default now());
     insert into events select g, 'k' || (g % 7), repeat('x', 40), now() from generate_series(1, 30000) g;
     create table tags (label varchar(20) primary key, note text);
     insert into tags values ('a', null), ('b', 'bee');
     create type mood as enum ('sad', 'ok', 'happy');
     create table moods (id int primary key, m mood);
     create sequence counters;`,
  );
  const { preview, job } = await org.createPreview(project.id, { name: "migrations" });
  await org.waitForJob(job.id, { timeoutMs: 120_000 });
  previewId = preview.id;
  previewUri = await org.getPreviewConnectionUri(preview.id);
}, 180_000);

afterAll(async () => {
  await org?.close();
  await t?.stop();
});

/** Resets the preview to production, applies the migration to it, and answers its diff. */
async function diffAfter(migration: string): Promise<SchemaDiff> {
  await org.waitForJob((await org.resetPreview(previewId, {})).job.id, { timeoutMs: 120_000 });
  psql(previewUri, migration);
  const { job } = await org.createSchemaDiff(previewId);
  await org.waitForJob(job.id, { timeoutMs: 120_000 });
  return (await org.getSchemaDiff(previewId)).schema_diff;
}

const has = (d: SchemaDiff, kind: string, risk: string, object?: string) =>
  expect(d.statements, JSON.stringify(d.statements, null, 1)).toContainEqual(
    expect.objectContaining({ kind, risk, ...(object ? { object } : {}), reason: expect.any(String), sql: expect.any(String) }),
  );

type Risk = "safe" | "risky" | "destructive";
/** `worst`: no statement of the diff is riskier than this. */
const CORPUS: { name: string; sql: string; expect: [kind: string, risk: Risk, object?: string][]; worst?: Risk }[] = [
  { name: "create a table", sql: "create table notes (id int primary key, body text)", expect: [["create_table", "safe", "public.notes"]] },
  { name: "drop a small table", sql: "drop table tags", expect: [["drop_table", "destructive", "public.tags"]] },
  { name: "add a nullable column", sql: "alter table events add column source text", expect: [["add_column", "safe", "public.events"]] },
  { name: "add a column with a constant default", sql: "alter table events add column seen boolean default false", expect: [["add_column", "safe"]] },
  {
    name: "add a column with a volatile default to a big table",
    sql: "alter table events add column ref uuid default gen_random_uuid()",
    expect: [["add_column", "risky", "public.events"]],
  },
  { name: "drop a column", sql: "alter table events drop column payload", expect: [["drop_column", "destructive", "public.events"]] },
  { name: "narrow a column's type", sql: "alter table tags alter column label type varchar(5)", expect: [["alter_column_type", "destructive", "public.tags"]] },
  {
    name: "widen a varchar to text (no rewrite)",
    sql: "alter table tags alter column label type text",
    expect: [["alter_column_type", "safe", "public.tags"]],
  },
  {
    name: "int to bigint on a big table (a rewrite)",
    sql: "alter table events alter column id type bigint",
    expect: [["alter_column_type", "risky", "public.events"]],
  },
  { name: "set not null on a big table", sql: "alter table events alter column payload set not null", expect: [["set_not_null", "risky", "public.events"]] },
  {
    name: "set not null on a small table",
    sql: "update tags set note = 'n'; alter table tags alter column note set not null",
    expect: [["set_not_null", "safe", "public.tags"]],
  },
  {
    // migra writes checks and foreign keys NOT VALID, then VALIDATE: the form that does not block writes
    name: "a check on a big table (written NOT VALID, then validated)",
    sql: "alter table events add constraint kind_short check (length(kind) < 10)",
    expect: [
      ["add_check", "safe", "public.events"],
      ["validate_constraint", "safe", "public.events"],
    ],
  },
  {
    name: "a check on a small table",
    sql: "alter table tags add constraint label_lower check (label = lower(label))",
    expect: [["add_check", "safe", "public.tags"]],
  },
  {
    name: "an index on a big table without CONCURRENTLY",
    sql: "create index events_kind on events (kind)",
    expect: [["create_index", "risky", "public.events"]],
  },
  { name: "an index on a small table", sql: "create index tags_note on tags (note)", expect: [["create_index", "safe", "public.tags"]] },
  {
    name: "a unique key on a big table (its index built without CONCURRENTLY)",
    sql: "alter table events add constraint events_kind_at unique (kind, at, id)",
    expect: [
      ["create_index", "risky", "public.events"],
      ["add_unique", "safe", "public.events"],
    ],
  },
  {
    name: "a foreign key on a big table",
    sql: "create table kinds (kind text primary key); insert into kinds select distinct kind from events; alter table events add constraint events_kind_fk foreign key (kind) references kinds",
    expect: [
      ["create_table", "safe", "public.kinds"],
      ["add_foreign_key", "safe", "public.events"],
      ["validate_constraint", "safe", "public.events"],
    ],
  },
  {
    name: "add an enum value (migra recreates the enum; the tables using it are small)",
    sql: "alter type mood add value 'meh'",
    // the old version's drop is part of the recreation: nothing is lost
    expect: [["recreate_enum", "safe", "public.mood"]],
    worst: "safe",
  },
  {
    name: "remove an enum value",
    sql: "alter type mood rename to mood_old; create type mood as enum ('sad', 'happy'); alter table moods alter column m type mood using m::text::mood; drop type mood_old",
    expect: [["recreate_enum", "destructive", "public.mood"]],
  },
  { name: "drop a sequence", sql: "drop sequence counters", expect: [["drop_sequence", "destructive", "public.counters"]] },
  { name: "a composite type", sql: "create type point3 as (x int, y int, z int)", expect: [["create_type", "safe", "public.point3"]] },
  {
    name: "a new default on a column (rows untouched)",
    sql: "alter table tags alter column note set default 'none'",
    expect: [["alter_default", "safe", "public.tags"]],
  },
  { name: "drop not null", sql: "alter table events alter column kind drop not null", expect: [["drop_not_null", "safe", "public.events"]] },
  { name: "a new sequence", sql: "create sequence invoice_numbers start 1000", expect: [["sequence", "safe", "public.invoice_numbers"]] },
  { name: "an extension (trusted, made by the tenant)", sql: "create extension citext", expect: [["create_extension", "safe"]] },
  {
    name: "a partitioned table",
    sql: "create table logs (at date not null, line text) partition by range (at); create table logs_2026 partition of logs for values from ('2026-01-01') to ('2027-01-01')",
    expect: [["create_table", "safe", "public.logs"]],
  },
  {
    name: "a renamed column reads as drop and add (data is not carried over)",
    sql: "alter table tags rename column note to remark",
    expect: [
      ["drop_column", "destructive", "public.tags"],
      ["add_column", "safe", "public.tags"],
    ],
  },
  {
    name: "drop a primary key",
    sql: "alter table events drop constraint events_pkey",
    expect: [["drop_constraint", "safe", "public.events"]],
  },
  { name: "a view", sql: "create view kinds_seen as select distinct kind from events", expect: [["create_view", "safe"]] },
  {
    name: "a function and a trigger",
    sql: "create function touch() returns trigger language plpgsql as $$ begin new.at := now(); return new; end $$; create trigger events_touch before update on events for each row execute function touch()",
    expect: [
      ["create_function", "safe"],
      ["create_trigger", "safe"],
    ],
  },
  {
    name: "row level security and a policy",
    sql: "alter table tags enable row level security; create policy tags_read on tags for select using (true)",
    expect: [
      ["row_security", "safe"],
      ["create_policy", "safe"],
    ],
  },
];

describe("schema diffs", () => {
  it("404 before one was computed; a deleted preview's diff cannot be asked for", async () => {
    await expect(org.getSchemaDiff(previewId)).rejects.toMatchObject({ status: 404 });
  });

  it("no change: no statements", async () => {
    const d = await diffAfter("select 1");
    expect(d).toMatchObject({ base: "production", statements: [], summary: { safe: 0, risky: 0, destructive: 0 } });
  });

  for (const c of CORPUS) {
    it(c.name, async () => {
      const d = await diffAfter(c.sql);
      expect(d.statements.length).toBeGreaterThan(0);
      for (const [kind, risk, object] of c.expect) has(d, kind, risk, object);
      if (c.worst === "safe") expect(d.summary, JSON.stringify(d.statements, null, 1)).toMatchObject({ risky: 0, destructive: 0 });
      if (c.worst === "risky") expect(d.summary.destructive, JSON.stringify(d.statements, null, 1)).toBe(0);
      expect(d.summary.safe + d.summary.risky + d.summary.destructive).toBe(d.statements.length);
      // production itself was not changed
      expect(psql(prod, "select count(*) from events")).toBe("30000");
    });
  }
});
