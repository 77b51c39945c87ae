// Schema diffs of previews against production (issue #17, first slice): migra's statements
// from production's schema to the preview's, each classified with production's real table
// sizes. A corpus of migrations is applied to a preview (reset to production between them);
// each asserts the statements' kinds and risks.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CapyClient, Project, SchemaDiff } from "@capydb/api";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { psql } from "../../test/harness/sql.js";
import { organization, readyProject } from "../../test/harness/tenants.js";
import { CORPUS, CORPUS_BASE } from "./fixtures/migration-corpus.js";

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
  psql(prod, CORPUS_BASE);
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
