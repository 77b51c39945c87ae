// Cursor pagination of the lists on a real server: ?limit=&cursor= → next_cursor, pages that
// put together are the whole list in its order (ties of created_at included), the list as it
// always was without either parameter, and 400s naming the field.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapyApiError, type CapyClient } from "@capydb/api";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { organization } from "../../test/harness/tenants.js";

let t: TestServer;
let org: CapyClient;
let projectIds: string[];
let ready: string;

/** Every page of a list, one call per page. */
async function allPages<T extends { id: string }>(
  fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; next_cursor?: string | null }>,
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let pages = 1; pages < 100; pages++) {
    const page = await fetchPage(cursor);
    expect(page).toHaveProperty("next_cursor");
    ids.push(...page.items.map((x) => x.id));
    if (page.next_cursor === null) return { ids, pages };
    expect(typeof page.next_cursor).toBe("string");
    cursor = page.next_cursor!;
  }
  throw new Error("no last page");
}

const refusal = async (call: Promise<unknown>) => {
  const err = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CapyApiError);
  return err as CapyApiError;
};

beforeAll(async () => {
  t = await startTestServer({ CAPYDB_PREVIEW_LIMIT: "10" });
  org = (await organization(t, "Pages")).client;
  projectIds = [];
  for (let i = 0; i < 7; i++) projectIds.push((await org.createProject({ name: `page-${i}` })).project.id);
  // four of them made in the same microsecond: the id orders them
  await t.server.ctx.db.query("UPDATE projects SET created_at = '2026-01-01T00:00:00.123456Z' WHERE id = ANY($1)", [projectIds.slice(1, 5)]);
  const created = await org.createProject({ name: "ready" });
  await org.waitForJob(created.job.id, { timeoutMs: 60_000 });
  ready = created.project.id;
  for (const name of ["one", "two", "three"]) await org.waitForJob((await org.createPreview(ready, { name })).job.id, { timeoutMs: 60_000 });
}, 180_000);
afterAll(async () => {
  await org?.close();
  await t?.stop();
});

describe("cursor pagination", () => {
  it("projects: pages put together are the whole list, in its order, ties included; without limit and cursor the answer is as before", async () => {
    const whole = await org.listProjects();
    expect(whole).not.toHaveProperty("next_cursor");
    expect(whole.projects).toHaveLength(8);
    for (const limit of [1, 2, 3, 8, 200]) {
      const { ids, pages } = await allPages(async (cursor) => {
        const page = await org.listProjects({ limit, cursor });
        expect(page.projects.length).toBeLessThanOrEqual(limit);
        return { items: page.projects, next_cursor: page.next_cursor };
      });
      expect(ids, `limit ${limit}`).toEqual(whole.projects.map((p) => p.id));
      // the last page is known as such: no empty page after a full one
      expect(pages, `limit ${limit}`).toBe(Math.ceil(8 / limit));
    }
    // a whole list in one page: next_cursor null at once
    const one = await org.listProjects({ limit: 200 });
    expect(one.next_cursor).toBeNull();
  });

  it("a cursor is stable: rows made after the first page do not shift the next pages", async () => {
    const first = await org.listProjects({ limit: 3 });
    const before = await org.listProjects();
    const rest = await org.listProjects({ limit: 200, cursor: first.next_cursor! });
    const extra = await org.createProject({ name: "later" });
    const again = await org.listProjects({ limit: 200, cursor: first.next_cursor! });
    expect(again.projects.map((p) => p.id)).toEqual(rest.projects.map((p) => p.id));
    expect([...first.projects, ...rest.projects].map((p) => p.id)).toEqual(before.projects.map((p) => p.id));
    expect((await org.listProjects()).projects[0].id).toBe(extra.project.id);
    // opaque to clients: base64url, no timestamps or ids in the clear
    expect(first.next_cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(first.next_cursor).not.toContain("prj_");
  });

  it("previews, jobs, backups and cutover requests page the same way", async () => {
    const previews = (await org.listPreviews(ready)).preview_databases.map((p) => p.id);
    expect(previews).toHaveLength(3);
    const pagedPreviews = await allPages(async (cursor) => {
      const page = await org.listPreviews(ready, { limit: 2, cursor });
      return { items: page.preview_databases, next_cursor: page.next_cursor };
    });
    expect(pagedPreviews).toEqual({ ids: previews, pages: 2 });

    const jobs = await org.listProjectJobs(ready);
    expect(jobs).not.toHaveProperty("next_cursor");
    expect(jobs.jobs.length).toBeGreaterThanOrEqual(4);
    const pagedJobs = await allPages(async (cursor) => {
      const page = await org.listProjectJobs(ready, { limit: 1, cursor });
      return { items: page.jobs, next_cursor: page.next_cursor };
    });
    // background jobs (spares) made meanwhile sort first: the older ones are the whole list as it was
    expect(pagedJobs.ids.slice(pagedJobs.ids.length - jobs.jobs.length)).toEqual(jobs.jobs.map((j) => j.id));

    expect(await org.listBackups(ready)).toEqual({ backups: [] });
    expect(await org.listBackups(ready, { limit: 5 })).toEqual({ backups: [], next_cursor: null });
    expect(await org.listCutoverRequests(ready)).toEqual({ cutover_requests: [] });
    const cut = await org.createCutoverRequest(ready, { preview_id: previews[0] });
    const firstCut = await org.listCutoverRequests(ready, { limit: 1 });
    expect(firstCut.cutover_requests.map((c) => c.id)).toEqual([cut.cutover_request.id]);
    expect(firstCut.next_cursor).toBeNull();
    const visible = await org.listAllCutoverRequests({ status: "open", limit: 1 });
    expect(visible.cutover_requests.map((c) => c.id)).toEqual([cut.cutover_request.id]);
    expect(visible.next_cursor).toBeNull();
    expect(await org.listAllCutoverRequests({ status: "open" })).not.toHaveProperty("next_cursor");
    await org.cancelCutoverRequest(cut.cutover_request.id);
  });

  it("a bad limit or cursor is a 400 naming the field", async () => {
    for (const limit of ["0", "201", "abc", "1.5", ""]) {
      const res = await fetch(`${t.url}/v1/projects?limit=${limit}`, { headers: { authorization: `Bearer ${t.adminKey}` } });
      const body = (await res.json()) as { error: string; code: string };
      expect({ status: res.status, code: body.code }, `limit=${limit}`).toEqual({ status: 400, code: "validation_failed" });
      expect(body.error).toMatch(/^limit: /);
    }
    for (const cursor of ["not-a-cursor", Buffer.from('["x","y"]').toString("base64url"), "%00", Buffer.from("[1,2]").toString("base64url")]) {
      const err = await refusal(org.listProjects({ cursor }));
      expect({ status: err.status, code: err.code }, cursor).toEqual({ status: 400, code: "validation_failed" });
      expect(err.message).toMatch(/^cursor: /);
    }
    expect((await refusal(org.listBackups(ready, { cursor: "nope" }))).message).toMatch(/^cursor: /);
    expect((await refusal(org.listProjectJobs(ready, { limit: 0 }))).message).toMatch(/^limit: /);
    expect((await refusal(org.listAllCutoverRequests({ limit: 1000 }))).message).toMatch(/^limit: /);
    expect((await refusal(org.listPreviews(ready, { cursor: "x".repeat(600) }))).message).toMatch(/^cursor: /);
  });

  it("is in the OpenAPI document: limit and cursor on each list, next_cursor in its answer", async () => {
    const doc = (await (await fetch(`${t.url}/v1/openapi.json`)).json()) as {
      paths: Record<
        string,
        { get: { parameters: { name: string; in: string }[]; responses: { "200": { content: { "application/json": { schema: unknown } } } } } }
      >;
    };
    for (const p of [
      "/v1/projects",
      "/v1/projects/{projectID}/preview-databases",
      "/v1/projects/{projectID}/jobs",
      "/v1/projects/{projectID}/backups",
      "/v1/projects/{projectID}/cutover-requests",
      "/v1/cutover-requests",
    ]) {
      const op = doc.paths[p].get;
      expect(
        op.parameters.filter((x) => x.in === "query").map((x) => x.name),
        p,
      ).toEqual(expect.arrayContaining(["limit", "cursor"]));
      expect(JSON.stringify(op.responses["200"].content["application/json"].schema), p).toContain('"next_cursor"');
    }
  });
});
