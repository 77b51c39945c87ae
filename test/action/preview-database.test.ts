// The GitHub Action end to end: its real bundle run as the runner runs it, against a real
// CapyDB server on real PostgreSQL; only GitHub's API is a local fake (harness.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapyClient, type Project } from "@capydb/api";
import { adminQuery, startTestServer, type TestServer } from "../harness/server.js";
import { psqlAsync as psql } from "../harness/sql.js";
import {
  FakeGitHub,
  FlakyProxy,
  GITHUB_TOKEN,
  errorAnnotation,
  maskingProblems,
  pullRequestPayload,
  runAction,
  type PullRequestFixture,
  type RunResult,
} from "./harness.js";

let t: TestServer;
let gh: FakeGitHub;
let apiKey: string;
let org: CapyClient;
let project: Project;

async function makeProject(client: CapyClient, name: string): Promise<Project> {
  const created = await client.createProject({ name });
  await client.waitForJob(created.job.id, { timeoutMs: 60_000 });
  return (await client.getProject(created.project.id)).project;
}

async function orgKey(server: TestServer, name: string): Promise<string> {
  const orgId = (await server.admin.createOrganization({ name })).organization.id;
  return (await server.admin.createApiKey(orgId, { name: "github-actions" })).secret;
}

interface PrRun {
  fixture: PullRequestFixture;
  number: number;
  inputs?: Record<string, string>;
  runId?: number;
  apiUrl?: string;
  payload?: (p: Record<string, unknown>) => void;
  projectId?: string;
  key?: string;
}

function onPullRequest(o: PrRun): Promise<RunResult> {
  const payload = pullRequestPayload(o.fixture, o.number);
  o.payload?.(payload);
  return runAction({
    eventName: "pull_request",
    payload,
    githubApiUrl: gh.url,
    runId: o.runId,
    inputs: {
      "api-url": o.apiUrl ?? t.url,
      "api-key": o.key ?? apiKey,
      "project-id": o.projectId ?? project.id,
      "github-token": GITHUB_TOKEN,
      ...o.inputs,
    },
  });
}

/** Fails with the action's own output, so a red test says why. */
function expectExit(r: RunResult, code: number): void {
  if (r.code !== code) throw new Error(`the action exited ${r.code}, expected ${code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
}

function secretsOf(r: RunResult): string[] {
  const password = r.outputs.password;
  return [password, encodeURIComponent(password), r.outputs["database-url"], r.outputs["pooled-database-url"]].filter(Boolean);
}

/** Nothing the action wrote outside its outputs holds a secret unmasked. */
function expectSecretsKept(r: RunResult): void {
  const secrets = secretsOf(r);
  expect(secrets.length).toBeGreaterThanOrEqual(3);
  expect(maskingProblems(r.stdout, secrets)).toEqual([]);
  for (const s of secrets) {
    expect(r.stderr).not.toContain(s);
    expect(r.summary).not.toContain(s);
    for (const c of gh.comments) expect(c.body).not.toContain(s);
  }
  // ::add-mask:: comes before any other use: the first line that mentions the password is a mask.
  const first = r.stdout.split("\n").find((l) => l.includes(r.outputs.password));
  expect(first?.startsWith("::add-mask::")).toBe(true);
}

beforeAll(async () => {
  t = await startTestServer();
  gh = new FakeGitHub();
  await gh.start();
  apiKey = await orgKey(t, "Action");
  org = new CapyClient({ baseUrl: t.url, apiKey, retries: 0 });
  project = await makeProject(org, "shop");
  await psql(
    await org.getConnectionUri(project.id),
    "create table items(id serial primary key, name text); insert into items(name) select 'item ' || g from generate_series(1, 100) g;",
  );
});

afterAll(async () => {
  await org?.close();
  await gh?.stop();
  await t?.stop();
});

describe("pull request lifecycle", () => {
  it("opened: a ready preview, its outputs, psql connects with database-url, one comment, secrets masked first", async () => {
    const r = await onPullRequest({ fixture: "opened", number: 101 });
    expectExit(r, 0);
    const o = r.outputs;
    expect(o.operation).toBe("created");
    expect(o["preview-name"]).toBe("pr-101");
    expect(o["preview-id"]).toMatch(/^pdb_/);
    expect(o["job-id"]).toMatch(/^job_/);
    // never production's credentials
    expect(o.database).not.toBe(project.database_name);
    expect(o.user).not.toBe(project.role_name);
    expect(o["preview-id"]).not.toBe(project.id);
    expect(new URL(o["database-url"]).pathname).toBe(`/${o.database}`);
    expect(o.host).toBeTruthy();
    expect(Number(o.port)).toBeGreaterThan(0);
    expect(Date.parse(o["expires-at"]) - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    expect(await psql(o["database-url"], "select count(*) from items")).toBe("100");
    // PgBouncer is there (the harness's prerequisites check stops the run without it)
    expect(Number(o["pooled-port"])).toBeGreaterThan(0);
    expect(await psql(o["pooled-database-url"], "select count(*) from items")).toBe("100");
    expectSecretsKept(r);

    // progress: each job state with the elapsed seconds, then the SELECT 1 check
    expect(r.stdout).toMatch(new RegExp(`job ${o["job-id"]}: succeeded after \\d+\\.\\ds`));
    expect(r.stdout).toMatch(/answered SELECT 1/);

    // one comment: posted while creating, edited in place when ready
    const comments = gh.actionComments(101);
    expect(comments).toHaveLength(1);
    expect(String(comments[0].id)).toBe(o["comment-id"]);
    const body = comments[0].body;
    expect(body).toContain("ready");
    for (const shown of [o.host, o.port, o.database, o.user, "capydb:reset"]) expect(body).toContain(shown);
    expect(body).toContain("https://github.com/capydb-demo/shop/actions/runs/");
    expect(body).toMatch(/Password \| not shown here/);
    const writes = gh.writes().filter((w) => w.path.includes("/issues/101/comments") || w.path.includes("/issues/comments/"));
    expect(writes.map((w) => w.method)).toEqual(["POST", "PATCH"]);
    // no masking rules on this project: said plainly, in the comment and the summary alike
    expect(o.masked).toBe("false");
    expect(body).toContain("Not masked: the project has no masking rules.");
    expect(r.summary).toContain("Not masked: the project has no masking rules.");
    expect((writes[0].body as { body: string }).body).toContain("creating");
    expect(gh.requests.every((q) => q.authorization === `token ${GITHUB_TOKEN}`)).toBe(true);

    expect(r.summary).toContain("pr-101");
    expect(r.summary).toContain("created");
    const live = (await org.listPreviews(project.id)).preview_databases.filter((p) => p.name === "pr-101");
    expect(live).toHaveLength(1);
  });

  it("synchronize twice: the same preview, its TTL extended, still one comment found past the first page and edited", async () => {
    gh.seedComments(102, 150); // the action's comment lands on page 2 of 100 per page
    const opened = await onPullRequest({ fixture: "opened", number: 102 });
    expectExit(opened, 0);
    const id = opened.outputs["preview-id"];
    const commentId = opened.outputs["comment-id"];

    gh.reset();
    const first = await onPullRequest({ fixture: "synchronize", number: 102 });
    expectExit(first, 0);
    const second = await onPullRequest({ fixture: "synchronize", number: 102 });
    expectExit(second, 0);
    for (const r of [first, second]) {
      expect(r.outputs.operation).toBe("reused");
      expect(r.outputs["preview-id"]).toBe(id);
      expect(r.outputs["comment-id"]).toBe(commentId);
      expect(await psql(r.outputs["database-url"], "select count(*) from items")).toBe("100");
      expectSecretsKept(r);
    }
    expect(Date.parse(second.outputs["expires-at"])).toBeGreaterThanOrEqual(Date.parse(opened.outputs["expires-at"]));
    expect(gh.actionComments(102)).toHaveLength(1);
    expect(gh.commentsOn(102)).toHaveLength(151);
    expect(gh.requests.some((q) => q.method === "GET" && /\/issues\/102\/comments\?.*page=2/.test(q.path))).toBe(true);
    expect(gh.commentWrites().map((w) => w.method)).toEqual(["PATCH", "PATCH"]);
    const named = (await org.listPreviews(project.id, { includeDeleted: true })).preview_databases.filter((p) => p.name === "pr-102");
    expect(named).toHaveLength(1);
  });

  it("synchronize on a preview at its plan's maximum lifetime: reused with a warning, not a failed workflow", async () => {
    // ttl 30d is the free plan's whole lifetime: no push can extend it further
    const opened = await onPullRequest({ fixture: "opened", number: 112, inputs: { ttl: "30d" } });
    expectExit(opened, 0);
    const r = await onPullRequest({ fixture: "synchronize", number: 112, inputs: { ttl: "30d" } });
    expectExit(r, 0);
    expect(r.outputs.operation).toBe("reused");
    expect(r.outputs["preview-id"]).toBe(opened.outputs["preview-id"]);
    expect(r.outputs["expires-at"]).toBe(opened.outputs["expires-at"]);
    expect(r.stdout).toMatch(/::warning::Preview pr-112 \(\S+\) cannot be extended any more/);
  });

  it("on-push: reset resets the data on synchronize", async () => {
    const opened = await onPullRequest({ fixture: "opened", number: 110 });
    expectExit(opened, 0);
    await psql(opened.outputs["database-url"], "insert into items(name) values ('written by a test run')");
    const r = await onPullRequest({ fixture: "synchronize", number: 110, inputs: { "on-push": "reset" } });
    expectExit(r, 0);
    expect(r.outputs.operation).toBe("reset");
    expect(r.outputs["preview-id"]).toBe(opened.outputs["preview-id"]);
    expect(await psql(r.outputs["database-url"], "select count(*) from items")).toBe("100");
  });

  it("the reset label resets the data and is removed; another label changes nothing", async () => {
    const opened = await onPullRequest({ fixture: "opened", number: 103 });
    expectExit(opened, 0);
    await psql(opened.outputs["database-url"], "insert into items(name) values ('scratch'); delete from items where id <= 10");
    expect(await psql(opened.outputs["database-url"], "select count(*) from items")).toBe("91");

    gh.reset();
    const other = await onPullRequest({ fixture: "labeled", number: 103, payload: (p) => ((p.label as { name: string }).name = "needs-review") });
    expectExit(other, 0);
    expect(other.outputs.operation).toBe("skipped");
    expect(other.stdout).toMatch(/::notice::.*not the reset label/);
    expect(gh.requests).toEqual([]);

    gh.addLabel(103, "capydb:reset");
    gh.addLabel(103, "bug");
    const r = await onPullRequest({ fixture: "labeled", number: 103 });
    expectExit(r, 0);
    expect(r.outputs.operation).toBe("reset");
    expect(r.outputs["preview-id"]).toBe(opened.outputs["preview-id"]);
    expect(r.outputs["job-id"]).not.toBe(opened.outputs["job-id"]);
    expect(await psql(r.outputs["database-url"], "select count(*) from items")).toBe("100");
    expect(r.outputs["database-url"]).toBe(opened.outputs["database-url"]);
    expect(gh.labelsOn(103)).toEqual(["bug"]);
    expect(gh.requests.some((q) => q.method === "DELETE" && q.path === "/repos/capydb-demo/shop/issues/103/labels/capydb%3Areset")).toBe(true);
    const [comment] = gh.actionComments(103);
    expect(comment.body).toMatch(/reset and ready/);
    expectSecretsKept(r);
  });

  it("closed without merging: the preview is deleted, the comment says so, a re-run changes nothing", async () => {
    const opened = await onPullRequest({ fixture: "opened", number: 104 });
    expectExit(opened, 0);
    const r = await onPullRequest({ fixture: "closed.unmerged", number: 104, runId: 7_104 });
    expectExit(r, 0);
    expect(r.outputs.operation).toBe("deleted");
    expect(r.outputs["preview-id"]).toBe(opened.outputs["preview-id"]);
    expect(r.outputs["database-url"]).toBe("");
    expect((await org.getPreview(opened.outputs["preview-id"])).preview.state).toBe("deleted");
    await expect(psql(opened.outputs["database-url"], "select 1")).rejects.toThrow();
    const [comment] = gh.actionComments(104);
    expect(comment.body).toMatch(/torn down/);
    expect(comment.body).toMatch(/closed without merging/);
    expect(comment.body).not.toContain(opened.outputs.host + "`"); // connection details are gone with it

    gh.reset();
    const again = await onPullRequest({ fixture: "closed.unmerged", number: 104, runId: 7_104 });
    expectExit(again, 0);
    expect(again.outputs.operation).toBe("deleted");
    expect(again.stdout).toMatch(/already deleted/);
    expect(again.stdout).toMatch(/already up to date/);
    expect(gh.writes()).toEqual([]); // unchanged content is not re-posted
  });

  it("closed and merged: a cutover request, open, for that preview; the preview is kept; a re-run opens no second one", async () => {
    const opened = await onPullRequest({ fixture: "opened", number: 105 });
    expectExit(opened, 0);
    const r = await onPullRequest({ fixture: "closed.merged", number: 105 });
    expectExit(r, 0);
    expect(r.outputs.operation).toBe("cutover-requested");
    const requestId = r.outputs["cutover-request-id"];
    expect(requestId).toBeTruthy();
    const { cutover_request } = await org.getCutoverRequest(requestId);
    expect(cutover_request.status).toBe("open");
    expect(cutover_request.mode).toBe("schema"); // cutover-mode's default: production keeps its data
    expect(cutover_request.preview_database_id).toBe(opened.outputs["preview-id"]);
    expect(cutover_request.customer_note).toContain("#105");
    expect((await org.getPreview(opened.outputs["preview-id"])).preview.state).toBe("ready");
    const [comment] = gh.actionComments(105);
    expect(comment.body).toMatch(/cutover requested/);
    expect(comment.body).toContain(requestId);
    expect(comment.body).toContain("`open`");

    const again = await onPullRequest({ fixture: "closed.merged", number: 105 });
    expectExit(again, 0);
    expect(again.outputs["cutover-request-id"]).toBe(requestId);
    const mine = (await org.listCutoverRequests(project.id)).cutover_requests.filter((c) => c.preview_database_id === opened.outputs["preview-id"]);
    expect(mine).toHaveLength(1);
  });

  it("two runs at once for one pull request make one preview and one comment", async () => {
    const [a, b] = await Promise.all([onPullRequest({ fixture: "opened", number: 109 }), onPullRequest({ fixture: "opened", number: 109 })]);
    expectExit(a, 0);
    expectExit(b, 0);
    expect(a.outputs["preview-id"]).toBe(b.outputs["preview-id"]);
    expect([a.outputs.operation, b.outputs.operation].sort()).toEqual(["created", "reused"]);
    expect((await org.listPreviews(project.id)).preview_databases.filter((p) => p.name === "pr-109")).toHaveLength(1);
    expect(gh.actionComments(109)).toHaveLength(1);
  });

  it("workflow_dispatch with an explicit command and preview-name: create, extend, delete", async () => {
    const base = { "api-url": t.url, "api-key": apiKey, "project-id": project.id, "preview-name": "manual-qa", ttl: "2h" };
    const dispatch = (command: string) =>
      runAction({ eventName: "workflow_dispatch", payload: { inputs: {}, ref: "refs/heads/main" }, githubApiUrl: gh.url, inputs: { ...base, command } });
    gh.reset();
    const created = await dispatch("create");
    expectExit(created, 0);
    expect(created.outputs.operation).toBe("created");
    expect(Date.parse(created.outputs["expires-at"]) - Date.now()).toBeLessThan(2 * 3600_000 + 60_000);
    expect(await psql(created.outputs["database-url"], "select count(*) from items")).toBe("100");
    const extended = await dispatch("extend");
    expectExit(extended, 0);
    expect(extended.outputs.operation).toBe("reused");
    expect(extended.outputs["preview-id"]).toBe(created.outputs["preview-id"]);
    const deleted = await dispatch("delete");
    expectExit(deleted, 0);
    expect(deleted.outputs.operation).toBe("deleted");
    expect(gh.requests).toEqual([]); // no pull request: nothing to comment on

    const auto = await runAction({ eventName: "workflow_dispatch", payload: {}, githubApiUrl: gh.url, inputs: { ...base } });
    expectExit(auto, 1);
    expect(errorAnnotation(auto.stdout)).toMatch(/Input `command`: auto works on pull_request events/);
  });

  it("wait: false outputs the credentials at once; comment: false leaves the pull request alone", async () => {
    gh.reset();
    const r = await onPullRequest({ fixture: "opened", number: 114, inputs: { wait: "false", comment: "false" } });
    expectExit(r, 0);
    expect(r.outputs.operation).toBe("created");
    expect(r.outputs["database-url"]).toMatch(/^postgresql:\/\//);
    expect(r.stdout).toMatch(/Not waiting for job job_\w+ \(wait: false\)/);
    expect(r.stdout).not.toMatch(/answered SELECT 1/);
    expectSecretsKept(r);
    expect(gh.requests.filter((q) => q.path.includes("/issues/"))).toEqual([]); // the deployment: schema-diff.test.ts
    await org.waitForJob(r.outputs["job-id"], { timeoutMs: 60_000 });
    expect(await psql(r.outputs["database-url"], "select count(*) from items")).toBe("100");
  });

  it("a token that may not comment is a warning, not a failed step", async () => {
    gh.failures.push({ method: "POST", pathPrefix: "/repos/capydb-demo/shop/issues/115/comments", status: 403, remaining: 5 });
    const r = await onPullRequest({ fixture: "opened", number: 115 });
    expectExit(r, 0);
    expect(r.outputs.operation).toBe("created");
    expect(r.outputs["comment-id"]).toBe("");
    expect(r.stdout).toMatch(/::warning::Pull request comment: could not create it: HTTP 403.*pull-requests: write/);
    expect(gh.actionComments(115)).toHaveLength(0);
  });

  it("source and mode: from a backup, the schema only, or empty", async () => {
    const backupJob = (await org.createBackup(project.id, { label: "for the action" })).job;
    await org.waitForJob(backupJob.id, { timeoutMs: 120_000 });
    const backup = (await org.listBackups(project.id)).backups.find((b) => b.state === "completed");
    expect(backup).toBeTruthy();
    const dispatch = (name: string, extra: Record<string, string>) =>
      runAction({
        eventName: "workflow_dispatch",
        payload: { inputs: {} },
        githubApiUrl: gh.url,
        inputs: { "api-url": t.url, "api-key": apiKey, "project-id": project.id, command: "create", "preview-name": name, ...extra },
      });
    const fromBackup = await dispatch("from-backup", { source: `backup:${backup!.id}` });
    expectExit(fromBackup, 0);
    expect(await psql(fromBackup.outputs["database-url"], "select count(*) from items")).toBe("100");
    const schemaOnly = await dispatch("schema-only", { mode: "schema-only" });
    expectExit(schemaOnly, 0);
    expect(await psql(schemaOnly.outputs["database-url"], "select count(*) from items")).toBe("0");
    const empty = await dispatch("empty", { source: "empty" });
    expectExit(empty, 0);
    expect(await psql(empty.outputs["database-url"], "select count(*) from information_schema.tables where table_name = 'items'")).toBe("0");
    const mixed = await dispatch("mixed", { source: "empty", mode: "schema-only" });
    expectExit(mixed, 1);
    expect(errorAnnotation(mixed.stdout)).toMatch(/^Input `mode`: schema-only copies the project's schema/);
  });

  it("transient 503s from the API are retried with backoff", async () => {
    const proxy = new FlakyProxy(t.url);
    await proxy.start();
    try {
      proxy.injected.push(
        { method: "POST", pathPrefix: `/v1/projects/${project.id}/preview-databases`, status: 503, remaining: 2 },
        { method: "GET", pathPrefix: "/v1/jobs/", status: 503, remaining: 2 },
      );
      const r = await onPullRequest({ fixture: "opened", number: 111, apiUrl: proxy.url });
      expectExit(r, 0);
      expect(r.outputs.operation).toBe("created");
      expect(proxy.seen.filter((s) => s.status === 503)).toHaveLength(4);
      expect((await org.listPreviews(project.id)).preview_databases.filter((p) => p.name === "pr-111")).toHaveLength(1);
    } finally {
      await proxy.stop();
    }
  });
});

describe("failures, each with its message", () => {
  it("a pull request from a fork is skipped with a notice and exit 0, without secrets", async () => {
    gh.reset();
    const r = await onPullRequest({ fixture: "opened.fork", number: 106, key: "" });
    expectExit(r, 0);
    expect(r.outputs.operation).toBe("skipped");
    expect(r.stdout).toMatch(/::notice::Pull request #106 comes from a fork \(outside-contrib\/shop\)/);
    expect(r.summary).toMatch(/skipped/);
    expect(gh.requests).toEqual([]);
    expect((await org.listPreviews(project.id)).preview_databases.filter((p) => p.name === "pr-106")).toHaveLength(0);
  });

  it("a rejected API key says so, on the step and in the comment", async () => {
    const r = await onPullRequest({ fixture: "opened", number: 107, key: "capy_live_" + "A".repeat(43) });
    expectExit(r, 1);
    expect(errorAnnotation(r.stdout)).toMatch(/CapyDB rejected the API key \(401/);
    expect(errorAnnotation(r.stdout)).toMatch(/`api-key`/);
    expect(r.stdout).toContain("::add-mask::capy_live_AAAA");
    const [comment] = gh.actionComments(107);
    expect(comment.body).toMatch(/failed/);
    expect(comment.body).toMatch(/rejected the API key/);
    expect(r.summary).toMatch(/failed/);
  });

  it("an invalid input fails the step naming the input, before any call", async () => {
    gh.reset();
    const r = await onPullRequest({ fixture: "opened", number: 112, inputs: { ttl: "forever" } });
    expectExit(r, 1);
    expect(errorAnnotation(r.stdout)).toMatch(/^Input `ttl`: must be a duration/);
    const mode = await onPullRequest({ fixture: "opened", number: 112, inputs: { mode: "everything" } });
    expect(errorAnnotation(mode.stdout)).toMatch(/^Input `mode`: must be one of full, schema-only/);
    const source = await onPullRequest({ fixture: "opened", number: 112, inputs: { source: "s3://bucket" } });
    expect(errorAnnotation(source.stdout)).toMatch(/^Input `source`/);
    for (const masked of ["yes", "0", "unmasked"]) {
      const r = await onPullRequest({ fixture: "opened", number: 112, inputs: { masked } });
      expectExit(r, 1);
      expect(errorAnnotation(r.stdout)).toBe(
        `Input \`masked\`: must be true, false or empty (empty: the server's default, masked when the project has masking rules); got "${masked}"`,
      );
    }
    const missing = await onPullRequest({ fixture: "opened", number: 112, projectId: "prj_doesnotexist" });
    expect(errorAnnotation(missing.stdout)).toMatch(/^Input `project-id`: project prj_doesnotexist was not found/);
    expect(gh.writes().filter((w) => !w.path.includes("/issues/112/comments") && !w.path.includes("/issues/comments/"))).toEqual([]);
  });

  it("a failing job fails the step with the job's error and the tail of its stderr", async () => {
    const broken = await makeProject(org, "broken");
    // An event trigger needs a superuser: the preview's restore (as the preview's role) cannot make it.
    await adminQuery(broken.database_name, "create function public.audit_ddl() returns event_trigger language plpgsql as $$ begin end $$");
    await adminQuery(broken.database_name, "create event trigger audit_ddl on ddl_command_end execute function public.audit_ddl()");
    const r = await onPullRequest({ fixture: "opened", number: 108, projectId: broken.id });
    expectExit(r, 1);
    const message = errorAnnotation(r.stdout)!;
    expect(message).toMatch(/CapyDB job job_\w+ \(preview\.create\) failed after 1 attempt\(s\): pg_restore exited with code 1/);
    expect(message).toMatch(/Last lines of its stderr:\n(.|\n)*permission denied to create event trigger/);
    expect(r.stdout).toMatch(/job job_\w+: failed after \d+\.\ds/);
    const [comment] = gh.actionComments(108);
    expect(comment.body).toMatch(/failed/);
    expect(comment.body).toMatch(/permission denied to create event trigger/);

    // Once the cause is gone, a re-run replaces the failed preview instead of failing on its name.
    await adminQuery(broken.database_name, "drop event trigger audit_ddl");
    const again = await onPullRequest({ fixture: "opened", number: 108, projectId: broken.id });
    expectExit(again, 0);
    expect(again.outputs.operation).toBe("created");
    expect(again.stdout).toMatch(/::warning::Preview pr-108 \(pdb_\w+\) failed earlier .*deleting it and creating it again/);
    expect(gh.actionComments(108)).toHaveLength(1);
    expect(gh.actionComments(108)[0].body).toMatch(/: ready/);
  });

  it("a timeout names the job and its last state", async () => {
    // A server whose worker stops once the project is made: the preview's job stays pending.
    const slow = await startTestServer();
    try {
      const key = await orgKey(slow, "Slow");
      const client = new CapyClient({ baseUrl: slow.url, apiKey: key, retries: 0 });
      const p = await makeProject(client, "slow");
      await slow.server.worker?.stop();
      const started = performance.now();
      const r = await onPullRequest({ fixture: "opened", number: 113, apiUrl: slow.url, key, projectId: p.id, inputs: { timeout: "3s" } });
      expectExit(r, 1);
      expect(performance.now() - started).toBeLessThan(20_000);
      const message = errorAnnotation(r.stdout)!;
      const jobId = r.outputs["job-id"];
      expect(jobId).toMatch(/^job_/);
      expect(message).toBe(
        `Timed out after 3s (input \`timeout\`) waiting for CapyDB job ${jobId} (preview.create); its last state was pending. ` +
          "The job goes on on the server: re-run the workflow to pick it up, or raise `timeout`.",
      );
      expect((await client.getJob(jobId)).job.state).toBe("pending");
      expect(gh.actionComments(113)[0].body).toMatch(/Timed out after 3s/);
      await client.close();
    } finally {
      await slow.stop();
    }
  });
});

describe("masked data: the parts that need no masking rules (the rest is in masking.test.ts)", () => {
  it("masking rules that cannot be read (an older server's 404) leave the comment to the preview's own word", async () => {
    const proxy = new FlakyProxy(t.url);
    await proxy.start();
    try {
      proxy.injected.push({ method: "GET", pathPrefix: `/v1/projects/${project.id}/masking-rules`, status: 404, remaining: 5 });
      const r = await onPullRequest({ fixture: "opened", number: 123, apiUrl: proxy.url });
      expectExit(r, 0);
      expect(proxy.seen.some((s) => s.status === 404 && s.path.includes("/masking-rules"))).toBe(true);
      expect(r.stdout).toMatch(/The project's masking rules could not be read \(404 \w+\)/);
      expect(r.outputs.masked).toBe("false");
      const [comment] = gh.actionComments(123);
      expect(comment.body).toContain(": ready");
      expect(comment.body).toContain("\nNot masked.\n");
      expect(r.summary).toContain("| Data | Not masked. |");
    } finally {
      await proxy.stop();
    }
  });

  it("masked: true on a project without masking rules fails with the server's reason", async () => {
    const r = await onPullRequest({ fixture: "opened", number: 124, inputs: { masked: "true" } });
    expectExit(r, 1);
    expect(errorAnnotation(r.stdout)).toMatch(/^The CapyDB API answered 400 \(\w+\) to POST \/v1\/projects\/prj_\w+\/preview-databases: masked: /);
    expect((await org.listPreviews(project.id)).preview_databases.filter((p) => p.name === "pr-124")).toHaveLength(0);
  });
});
