// Schema cutovers over the whole corpus of migrations (issue #19): each migration is made in a
// preview of production as it is now, production takes a row of its own after that, and the
// schema cutover applies the reviewed diff. Production ends with the preview's schema (nothing
// left to diff) and all of its own rows; where the migration relied on data the preview changed
// (production's rows break it), the cutover fails and production is exactly as it was.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CapyClient, CutoverRequest, Project } from "@capydb/api";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { psql } from "../../test/harness/sql.js";
import { organization, readyProject } from "../../test/harness/tenants.js";
import { CORPUS, CORPUS_BASE } from "./fixtures/migration-corpus.js";

/** Migrations whose preview also changed data that production does not have: on production they cannot hold. */
const NEEDS_THE_PREVIEWS_DATA: Record<string, RegExp> = {
  // the preview filled the nulls first; production still has a null note
  "set not null on a small table": /column "note" of relation "tags" contains null values/,
  // the preview filled kinds; production's new kinds table is empty, so its events break the key
  "a foreign key on a big table": /violates foreign key constraint/,
};

let t: TestServer;
let org: CapyClient;
let project: Project;
let prod: string;
let previewId: string;
let previewUri: string;
let nextId = 900_000;

beforeAll(async () => {
  t = await startTestServer();
  ({ client: org } = await organization(t, "Schema cutover corpus", "scc"));
  ({ project, uri: prod } = await readyProject(org, "app"));
  const { preview, job } = await org.createPreview(project.id, { name: "corpus" });
  await org.waitForJob(job.id, { timeoutMs: 120_000 });
  previewId = preview.id;
  previewUri = await org.getPreviewConnectionUri(preview.id);
}, 180_000);

afterAll(async () => {
  await org?.close();
  await t?.stop();
});

/** The tables of a database's public schema, by name. */
const tables = (uri: string) =>
  psql(
    uri,
    "select coalesce(string_agg(c.relname, ',' order by c.relname), '') from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind in ('r', 'p')",
  );
const rows = (uri: string, table: string) => psql(uri, `select count(*) from public.${table}`);

async function reviewAndExecute(): Promise<CutoverRequest> {
  const opened = (await org.createCutoverRequest(project.id, { preview_id: previewId, mode: "schema" })).cutover_request;
  const deadline = Date.now() + 120_000;
  let req = opened;
  while (req.schema_diff_at_open?.state === "pending" && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    req = (await org.getCutoverRequest(opened.id)).cutover_request;
  }
  expect(req.schema_diff_at_open?.state).toBe("ready");
  await t.admin.acknowledgeCutoverRequest(req.id, {});
  const started = (await t.admin.executeCutoverRequest(req.id)).cutover_request;
  await t.admin.waitForJob(started.promote_job_id!, { timeoutMs: 180_000 }).catch(() => {});
  return (await org.getCutoverRequest(req.id)).cutover_request;
}

describe("a schema cutover of each migration of the corpus", () => {
  for (const c of CORPUS) {
    it(
      c.name,
      async () => {
        // production back to the corpus's base (the last cutover changed it), the preview a fresh copy of it, then migrated
        psql(prod, `drop schema public cascade; create schema public; ${CORPUS_BASE}`);
        await org.waitForJob((await org.resetPreview(previewId, { fresh: true })).job.id, { timeoutMs: 120_000 });
        psql(previewUri, c.sql);
        // production writes after the preview was made: a row the cutover must keep
        const id = nextId++;
        psql(prod, `insert into events (id, kind, payload) values (${id}, 'k1', 'late')`);
        const before = new Map(
          tables(prod)
            .split(",")
            .filter(Boolean)
            .map((name) => [name, rows(prod, name)]),
        );
        const done = await reviewAndExecute();
        const failure = NEEDS_THE_PREVIEWS_DATA[c.name];
        if (failure) {
          expect(done.status).toBe("failed");
          expect(done.failure_reason).toMatch(failure);
          expect(done.failure_reason).toMatch(/nothing was changed \(one transaction\)$/);
          expect(tables(prod)).toBe([...before.keys()].join(","));
        } else {
          expect(done.status, done.failure_reason ?? "").toBe("completed");
          expect(done.schema_applied!.residual).toEqual([]);
        }
        // every table production kept has all of its rows, the late one included
        for (const [name, count] of before) {
          if (!tables(prod).split(",").includes(name)) continue; // the migration dropped it
          expect(rows(prod, name), name).toBe(count);
        }
        if (tables(prod).split(",").includes("events")) expect(psql(prod, `select count(*) from events where id = ${id}`)).toBe("1");
      },
      300_000,
    );
  }
});
