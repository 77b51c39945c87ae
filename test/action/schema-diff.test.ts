// The migration check in the pull request (issue #17), end to end: the action's real bundle
// makes a preview, the test plays the workflow's own migration step with psql as the preview's
// role, and `command: check` diffs it against production on a real CapyDB server — the sticky
// comment, the "CapyDB schema" check run with its annotations, the outputs, and the preview's
// GitHub deployment, all recorded by the fake GitHub (harness.ts). The comment's length limit
// and the check run's body are checked on their own at the end.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CapyClient, PreviewDatabase, Project, SchemaDiff } from "@capydb/api";
import { adminQuery, startTestServer, type TestServer } from "../harness/server.js";
import { psqlAsync as psql } from "../harness/sql.js";
import { organization, readyProject } from "../harness/tenants.js";
import {
  FakeGitHub,
  GITHUB_TOKEN,
  REPOSITORY,
  errorAnnotation,
  maskingProblems,
  pullRequestPayload,
  runAction,
  type PullRequestFixture,
  type RunResult,
} from "./harness.js";
import { MAX_COMMENT_CHARS, renderComment } from "../../actions/preview-database/src/comment-body.js";
import { checkRunBody } from "../../actions/preview-database/src/check-run.js";
import { highestRisk, isFailing, redact, type SchemaCheck } from "../../actions/preview-database/src/schema-diff.js";

let t: TestServer;
let gh: FakeGitHub;
let org: CapyClient;
let apiKey: string;
let project: Project;

const WORKFLOW = ".github/workflows/preview.yml";
const CHECK = "CapyDB schema";

/** A head commit of its own per pull request and push, so check runs and deployments do not mix. */
const sha = (pr: number, push = 0) => `${String(pr).padStart(8, "0")}${String(push).padStart(4, "0")}`.padEnd(40, "c");

/** drop a column (destructive), add a NOT NULL column without a default to a table with rows (risky), an index and a table (safe). */
const MIGRATION = `
  alter table items drop column price;
  create index items_name on items (name);
  create table reviews (id int primary key, item_id int, body text);
  alter table items add column sku text not null default 'none';
  alter table items alter column sku drop default;`;

interface Run {
  fixture: PullRequestFixture;
  number: number;
  push?: number;
  inputs?: Record<string, string>;
  projectId?: string;
  runId?: number;
}

function onPullRequest(o: Run): Promise<RunResult> {
  const payload = pullRequestPayload(o.fixture, o.number);
  (payload.pull_request as { head: { sha: string } }).head.sha = sha(o.number, o.push);
  return runAction({
    eventName: "pull_request",
    payload,
    githubApiUrl: gh.url,
    runId: o.runId,
    env: { GITHUB_WORKFLOW_REF: `${REPOSITORY}/${WORKFLOW}@refs/pull/${o.number}/merge` },
    inputs: { "api-url": t.url, "api-key": apiKey, "project-id": o.projectId ?? project.id, "github-token": GITHUB_TOKEN, ...o.inputs },
  });
}

function expectExit(r: RunResult, code: number): void {
  if (r.code !== code) throw new Error(`the action exited ${r.code}, expected ${code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
}

/** The three steps of the README's pattern: the preview without a diff, the migration, command: check. */
async function migrateThenCheck(number: number, migration: string, inputs: Record<string, string> = {}): Promise<{ made: RunResult; checked: RunResult }> {
  const made = await onPullRequest({ fixture: "opened", number, inputs: { "schema-diff": "false" } });
  expectExit(made, 0);
  await psql(made.outputs["database-url"], migration);
  const checked = await onPullRequest({ fixture: "opened", number, inputs: { command: "check", ...inputs } });
  expectExit(checked, 0);
  return { made, checked };
}

/** The diff the server holds for the preview: what every place the action writes must agree with. */
async function serverDiff(previewId: string): Promise<SchemaDiff> {
  return (await org.getSchemaDiff(previewId)).schema_diff;
}

function warnings(r: RunResult): string[] {
  return r.stdout.split("\n").filter((l) => l.startsWith("::warning::"));
}

/** Neither the comment nor any check run holds the preview's password or URL, and the log masks them first. */
function expectNoSecretOnGitHub(r: RunResult): void {
  const secrets = [r.outputs.password, r.outputs["database-url"]].filter(Boolean);
  expect(secrets).toHaveLength(2);
  expect(maskingProblems(r.stdout, secrets)).toEqual([]);
  const published = [...gh.comments.map((c) => c.body), ...gh.checkRuns.map((c) => JSON.stringify(c)), JSON.stringify(gh.deployments)];
  for (const text of published) for (const s of [...secrets, apiKey, GITHUB_TOKEN]) expect(text).not.toContain(s);
}

beforeAll(async () => {
  t = await startTestServer();
  gh = new FakeGitHub();
  await gh.start();
  const tenant = await organization(t, "Schema check", "github-actions");
  org = tenant.client;
  apiKey = (await t.admin.createApiKey(tenant.orgId, { name: "github-actions-org" })).secret;
  const made = await readyProject(org, "shop");
  project = made.project;
  await psql(
    made.uri,
    "create table items (id serial primary key, name text, price int); insert into items (name, price) select 'item ' || g, g from generate_series(1, 100) g;",
  );
}, 120_000);

afterAll(async () => {
  await org?.close();
  await gh?.stop();
  await t?.stop();
});

describe("the migration check: preview, the workflow's migration, then command: check", () => {
  it("drop a column, add a risky column, an index and a table: a failing check run with an annotation per statement, the comment and the outputs", async () => {
    const { made, checked } = await migrateThenCheck(301, MIGRATION);
    // step 1 (schema-diff: false) made no diff and no check run
    expect(made.outputs.operation).toBe("created");
    expect(made.outputs["schema-risk"]).toBe("");
    expect(made.outputs["schema-diff-summary"]).toBe("");
    expect(made.stdout).not.toMatch(/Diffing the schema/);

    const diff = await serverDiff(made.outputs["preview-id"]);
    const kinds = diff.statements.map((s) => [s.kind, s.risk, s.object]);
    expect(kinds).toContainEqual(["drop_column", "destructive", "public.items"]);
    expect(kinds).toContainEqual(["add_column", "risky", "public.items"]);
    expect(kinds).toContainEqual(["create_index", "safe", "public.items"]);
    expect(kinds).toContainEqual(["create_table", "safe", "public.reviews"]);
    const { safe, risky, destructive } = diff.summary;
    expect([risky, destructive]).toEqual([1, 1]);

    // the outputs
    expect(checked.outputs.operation).toBe("checked");
    expect(checked.outputs["preview-id"]).toBe(made.outputs["preview-id"]);
    expect(checked.outputs["schema-risk"]).toBe("destructive");
    expect(JSON.parse(checked.outputs["schema-diff-summary"])).toEqual({ safe, risky: 1, destructive: 1, statements: diff.statements.length });
    // the step does not fail because of a risk: the check run is the gate
    expect(checked.stdout).not.toMatch(/::error::/);

    // the check run, on the head commit
    const runs = gh.checkRunsOn(sha(301));
    expect(runs).toHaveLength(1);
    const [run] = runs;
    expect(run).toMatchObject({ name: CHECK, status: "completed", conclusion: "failure", external_id: made.outputs["preview-id"] });
    expect(run.details_url).toMatch(/^https:\/\/github\.com\/capydb-demo\/shop\/actions\/runs\/\d+$/);
    expect(run.output.title).toBe(`Schema vs production: ${safe} safe, 1 risky, 1 destructive`);
    expect(run.output.summary).toContain(`Check "${CHECK}" fails: 1 destructive statement (\`fail-on: destructive\`).`);
    expect(run.annotations).toHaveLength(diff.statements.length);
    for (const [i, s] of diff.statements.entries()) {
      expect(run.annotations[i]).toEqual({
        path: WORKFLOW,
        start_line: 1,
        end_line: 1,
        annotation_level: { safe: "notice", risky: "warning", destructive: "failure" }[s.risk],
        title: `${s.risk}: ${s.kind}${s.object ? ` ${s.object}` : ""}`,
        message: s.reason,
        raw_details: s.sql,
      });
      expect(run.output.text).toContain(s.sql.trim());
    }

    // the comment: still one, a summary line, the verdict, and the SQL collapsed with each risk and reason
    const comments = gh.actionComments(301);
    expect(comments).toHaveLength(1);
    expect(String(comments[0].id)).toBe(checked.outputs["comment-id"]);
    const body = comments[0].body;
    expect(body).toContain(`#### Schema vs production: ${safe} safe, 1 risky, 1 destructive`);
    expect(body).toContain(`Check "${CHECK}" fails: 1 destructive statement`);
    expect(body).toMatch(
      new RegExp(`<details><summary>SQL from production's schema to this preview's \\(${diff.statements.length} statements\\)</summary>\\n\\n\`\`\`sql\\n`),
    );
    expect(body).toMatch(/\n```\n\n<\/details>\n/);
    for (const s of diff.statements) {
      expect(body).toContain(s.sql.trim());
      expect(body).toContain(`${s.risk} · ${s.kind}`);
      expect(body).toContain(s.reason);
    }
    // the connection details are still there, the password is not
    expect(body).toContain(made.outputs.user);
    expect(body).toMatch(/Password \| not shown here/);
    expectNoSecretOnGitHub(checked);
    expect(checked.summary).toContain(`vs production: ${safe} safe, 1 risky, 1 destructive`);

    // check made no deployment of its own: the preview's one (step 1) is as step 1 left it
    expect(gh.deploymentsTo("capydb/pr-301")).toHaveLength(1);
    expect(gh.deploymentsTo("capydb/pr-301")[0].statuses.map((s) => s.state)).toEqual(["in_progress", "success"]);
  });

  it("fail-on: none is neutral with destructive statements; fail-on: risky fails on a risky one alone", async () => {
    const none = await onPullRequest({ fixture: "opened", number: 301, inputs: { command: "check", "fail-on": "none" } });
    expectExit(none, 0);
    expect(none.outputs["schema-risk"]).toBe("destructive");
    const runs = gh.checkRunsOn(sha(301));
    expect(runs.map((r) => r.conclusion)).toEqual(["failure", "neutral"]);
    expect(runs[1].output.summary).toContain(`Check "${CHECK}" is neutral: \`fail-on: none\` does not gate.`);
    expect(gh.actionComments(301)).toHaveLength(1);
    expect(gh.actionComments(301)[0].body).toContain("is neutral: `fail-on: none` does not gate.");

    // only the risky NOT NULL column: destructive lets it pass, risky does not
    const { made, checked } = await migrateThenCheck(
      302,
      "alter table items add column sku text not null default 'none'; alter table items alter column sku drop default",
    );
    expect(checked.outputs["schema-risk"]).toBe("risky");
    const risky = await onPullRequest({ fixture: "opened", number: 302, inputs: { command: "check", "fail-on": "risky" } });
    expectExit(risky, 0);
    expect(gh.checkRunsOn(sha(302)).map((r) => r.conclusion)).toEqual(["success", "failure"]);
    expect(gh.checkRunsOn(sha(302))[1].output.summary).toContain("fails: 1 risky or destructive statement (`fail-on: risky`)");
    expect(JSON.parse(risky.outputs["schema-diff-summary"])).toEqual({ safe: 0, risky: 1, destructive: 0, statements: 1 });
    expect(made.outputs["preview-id"]).toBe(risky.outputs["preview-id"]);
  });

  it("auto on opened diffs by itself: no changes is a success; a push with safe changes only stays a success", async () => {
    const opened = await onPullRequest({ fixture: "opened", number: 303 });
    expectExit(opened, 0);
    expect(opened.outputs.operation).toBe("created");
    expect(opened.outputs["schema-risk"]).toBe("safe");
    expect(JSON.parse(opened.outputs["schema-diff-summary"])).toEqual({ safe: 0, risky: 0, destructive: 0, statements: 0 });
    const [first] = gh.checkRunsOn(sha(303));
    expect(first).toMatchObject({ name: CHECK, conclusion: "success", annotations: [] });
    expect(first.output.title).toBe("Schema vs production: no changes");
    expect(gh.actionComments(303)[0].body).toContain("#### Schema vs production: no changes");
    expect(gh.actionComments(303)[0].body).not.toContain("<details>");

    await psql(opened.outputs["database-url"], "create table notes (id int, body text); create index items_name on items (name)");
    const pushed = await onPullRequest({ fixture: "synchronize", number: 303, push: 1 });
    expectExit(pushed, 0);
    expect(pushed.outputs.operation).toBe("reused");
    expect(pushed.outputs["schema-risk"]).toBe("safe");
    const [second] = gh.checkRunsOn(sha(303, 1));
    expect(second.conclusion).toBe("success");
    expect(second.annotations.length).toBeGreaterThanOrEqual(2);
    expect(second.annotations.every((a) => a.annotation_level === "notice")).toBe(true);
    expect(gh.actionComments(303)).toHaveLength(1);
    expect(gh.actionComments(303)[0].body).toMatch(
      /#### Schema vs production: \d+ safe, 0 risky, 0 destructive\n\nCheck "CapyDB schema" passes: no statement is destructive/,
    );
  });

  it("more than 50 statements: the first 50 annotations with the check run, the rest in PATCHes of at most 50", async () => {
    const tables = Array.from({ length: 120 }, (_, i) => `create table t${i} (id int, body text);`).join(" ");
    const { checked } = await migrateThenCheck(304, tables);
    const [run] = gh.checkRunsOn(sha(304));
    expect(run.annotations).toHaveLength(120);
    expect(run.annotationRequests).toBe(3);
    expect(new Set(run.annotations.map((a) => a.title))).toEqual(new Set(Array.from({ length: 120 }, (_, i) => `safe: create_table public.t${i}`)));
    const patches = gh.requests.filter((q) => q.method === "PATCH" && q.path === `/repos/${REPOSITORY}/check-runs/${run.id}`);
    expect(patches.map((p) => (p.body as { output: { annotations: unknown[] } }).output.annotations.length)).toEqual([50, 20]);
    expect(JSON.parse(checked.outputs["schema-diff-summary"])).toEqual({ safe: 120, risky: 0, destructive: 0, statements: 120 });
  });

  it("an unknown fail-on fails the step naming the input, before any call", async () => {
    gh.reset();
    const r = await onPullRequest({ fixture: "opened", number: 313, inputs: { command: "check", "fail-on": "warning" } });
    expectExit(r, 1);
    expect(errorAnnotation(r.stdout)).toBe('Input `fail-on`: must be one of destructive, risky, none; got "warning"');
    expect(gh.requests).toEqual([]);
  });

  it("command: check without a live preview fails the step saying what to do first", async () => {
    const r = await onPullRequest({ fixture: "opened", number: 305, inputs: { command: "check" } });
    expectExit(r, 1);
    expect(errorAnnotation(r.stdout)).toMatch(/^No live preview named pr-305 in project prj_\w+: nothing to check\. Make it first/);
    expect(gh.checkRunsOn(sha(305))).toEqual([]);
  });
});

describe("what GitHub or CapyDB refuse does not fail the run", () => {
  it("403 on check runs: a warning naming checks: write, exit 0, the comment and outputs as usual", async () => {
    gh.failures.push({ method: "POST", pathPrefix: `/repos/${REPOSITORY}/check-runs`, status: 403, remaining: 1 });
    const { checked } = await migrateThenCheck(306, "alter table items drop column price");
    expect(gh.checkRunsOn(sha(306))).toEqual([]);
    expect(warnings(checked).some((w) => w.includes(`Check run "${CHECK}"`) && w.includes("HTTP 403") && w.includes("`permissions: checks: write`"))).toBe(
      true,
    );
    expect(checked.outputs["schema-risk"]).toBe("destructive");
    expect(gh.actionComments(306)[0].body).toContain("#### Schema vs production: 0 safe, 0 risky, 1 destructive");
  });

  it("403 on deployments: a warning naming deployments: write, exit 0, a ready preview", async () => {
    gh.failures.push({ method: "POST", pathPrefix: `/repos/${REPOSITORY}/deployments`, status: 403, remaining: 5 });
    let r: RunResult;
    try {
      r = await onPullRequest({ fixture: "opened", number: 307 });
    } finally {
      gh.failures.length = 0;
    }
    expectExit(r, 0);
    expect(r.outputs.operation).toBe("created");
    expect(gh.deploymentsTo("capydb/pr-307")).toEqual([]);
    const named = warnings(r).filter((w) => w.includes("Deployment to capydb/pr-307") && w.includes("`permissions: deployments: write`"));
    expect(named).toHaveLength(1); // once, not once per status
    expect(gh.checkRunsOn(sha(307))).toHaveLength(1);
  });

  it("a diff job that fails: a warning, the comment says so, the check run fails (neutral with fail-on: none), exit 0", async () => {
    const { project: other, uri } = await readyProject(org, "locked");
    await psql(uri, "create table items (id int)");
    const made = await onPullRequest({ fixture: "opened", number: 308, projectId: other.id, inputs: { "schema-diff": "false" } });
    expectExit(made, 0);
    // The diff reads production as the project's role: a role that may not log in fails the job.
    await adminQuery("postgres", `alter role "${other.role_name}" nologin`);
    try {
      const r = await onPullRequest({ fixture: "opened", number: 308, projectId: other.id, inputs: { command: "check" } });
      expectExit(r, 0);
      expect(
        warnings(r).some((w) =>
          /The schema diff of preview pr-308 \(pdb_\w+\) against production failed: CapyDB job job_\w+ \(preview\.schema_diff\) failed/.test(w),
        ),
      ).toBe(true);
      expect(r.outputs["schema-risk"]).toBe("");
      expect(r.outputs["schema-diff-summary"]).toBe("");
      const [comment] = gh.actionComments(308);
      expect(comment.body).toContain("#### Schema vs production: the diff failed");
      expect(comment.body).toContain(`Check "${CHECK}" fails: the diff could not be made`);
      expect(comment.body).toContain(": ready"); // the preview itself is fine
      const [run] = gh.checkRunsOn(sha(308));
      expect(run).toMatchObject({ conclusion: "failure", annotations: [] });
      expect(run.output.title).toBe("Schema vs production: the diff failed");

      const none = await onPullRequest({ fixture: "opened", number: 308, projectId: other.id, inputs: { command: "check", "fail-on": "none" } });
      expectExit(none, 0);
      expect(gh.checkRunsOn(sha(308)).map((c) => c.conclusion)).toEqual(["failure", "neutral"]);
    } finally {
      await adminQuery("postgres", `alter role "${other.role_name}" login`);
    }
    expect(gh.actionComments(308)).toHaveLength(1);
  });
});

describe("the preview's GitHub deployment", () => {
  it("one per commit, transient, not production: in_progress then success; a re-run adds to it; closing marks every one inactive", async () => {
    const runId = 8_309;
    const opened = await onPullRequest({ fixture: "opened", number: 309, runId });
    expectExit(opened, 0);
    let deployments = gh.deploymentsTo("capydb/pr-309");
    expect(deployments).toHaveLength(1);
    expect(deployments[0]).toMatchObject({
      ref: sha(309),
      transient_environment: true,
      production_environment: false,
      required_contexts: [],
      auto_merge: false,
    });
    expect(deployments[0].statuses.map((s) => s.state)).toEqual(["in_progress", "success"]);
    const success = deployments[0].statuses[1];
    expect(success.log_url).toBe(`https://github.com/${REPOSITORY}/actions/runs/${runId}`);
    expect(success.environment_url).toBe(`https://github.com/${REPOSITORY}/pull/309#issuecomment-${opened.outputs["comment-id"]}`);

    // a re-run of the same commit finds its deployment; a push makes the next commit's
    const again = await onPullRequest({ fixture: "opened", number: 309 });
    expectExit(again, 0);
    const pushed = await onPullRequest({ fixture: "synchronize", number: 309, push: 1, inputs: { "on-push": "reset" } });
    expectExit(pushed, 0);
    deployments = gh.deploymentsTo("capydb/pr-309");
    expect(deployments.map((d) => d.ref)).toEqual([sha(309), sha(309, 1)]);
    expect(deployments[0].statuses.map((s) => s.state)).toEqual(["in_progress", "success", "success"]);
    expect(deployments[1].statuses.map((s) => s.state)).toEqual(["in_progress", "success"]);

    const closed = await onPullRequest({ fixture: "closed.unmerged", number: 309, push: 1, runId: 8_310 });
    expectExit(closed, 0);
    expect(closed.outputs.operation).toBe("deleted");
    for (const d of gh.deploymentsTo("capydb/pr-309")) {
      expect(d.statuses.at(-1)).toMatchObject({
        state: "inactive",
        description: "Preview pr-309 deleted: pull request closed without merging",
        log_url: `https://github.com/${REPOSITORY}/actions/runs/8310`,
      });
    }
    expect(gh.deploymentsTo("capydb/pr-309")).toHaveLength(2);

    gh.reset();
    const reclosed = await onPullRequest({ fixture: "closed.unmerged", number: 309, push: 1, runId: 8_310 });
    expectExit(reclosed, 0);
    expect(gh.writes()).toEqual([]); // nothing left to mark, nothing re-posted
    expect(gh.actionComments(309)).toHaveLength(1);
  });

  it("wait: false: the deployment stays in_progress and no diff is made (the preview is not ready yet)", async () => {
    const r = await onPullRequest({ fixture: "opened", number: 312, inputs: { wait: "false" } });
    expectExit(r, 0);
    expect(r.outputs.operation).toBe("created");
    // one in_progress: the same state again is not re-posted
    expect(gh.deploymentsTo("capydb/pr-312")[0].statuses.map((s) => [s.state, s.description])).toEqual([["in_progress", "Preview pr-312: creating"]]);
    expect(r.stdout).toContain("No schema diff: the preview is not ready yet (wait: false); run command: check once it is");
    expect(r.outputs["schema-risk"]).toBe("");
    expect(gh.checkRunsOn(sha(312))).toEqual([]);
    await org.waitForJob(r.outputs["job-id"], { timeoutMs: 60_000 });
  });

  it("a failing job: in_progress, then failure; deployment: false leaves deployments alone", async () => {
    const { project: broken } = await readyProject(org, "broken");
    // An event trigger needs a superuser: the preview's restore (as the preview's role) cannot make it.
    await adminQuery(broken.database_name, "create function public.audit_ddl() returns event_trigger language plpgsql as $$ begin end $$");
    await adminQuery(broken.database_name, "create event trigger audit_ddl on ddl_command_end execute function public.audit_ddl()");
    const r = await onPullRequest({ fixture: "opened", number: 310, projectId: broken.id });
    expectExit(r, 1);
    const [deployment] = gh.deploymentsTo("capydb/pr-310");
    expect(deployment.statuses.map((s) => s.state)).toEqual(["in_progress", "failure"]);
    expect(deployment.statuses[1].description).toMatch(/^Preview pr-310 failed: CapyDB job job_\w+ \(preview\.create\) failed/);
    expect(deployment.statuses[1].description.length).toBeLessThanOrEqual(140);

    const off = await onPullRequest({ fixture: "opened", number: 311, inputs: { deployment: "false", "deployment-environment": "qa/{number}" } });
    expectExit(off, 0);
    expect(gh.deployments.filter((d) => d.environment === "capydb/pr-311" || d.environment === "qa/311")).toEqual([]);
    const custom = await onPullRequest({ fixture: "opened", number: 311, inputs: { "deployment-environment": "qa/{number}" } });
    expectExit(custom, 0);
    expect(gh.deploymentsTo("qa/311")).toHaveLength(1);
  });
});

describe("what the action writes stays within GitHub's limits and holds no secret", () => {
  const statement = (i: number): SchemaDiff["statements"][number] => ({
    sql: `create table "public"."t${i}" (${Array.from({ length: 12 }, (_, c) => `"column_${c}" text`).join(", ")});`,
    object: `public.t${i}`,
    kind: "create_table",
    risk: i % 50 === 0 ? "destructive" : "safe",
    reason: "creates a table",
  });
  const diff = (n: number): SchemaDiff => {
    const statements = Array.from({ length: n }, (_, i) => statement(i));
    return {
      created_at: "2025-06-11T14:20:00Z",
      base: "production",
      statements,
      summary: { safe: statements.filter((s) => s.risk === "safe").length, risky: 0, destructive: statements.filter((s) => s.risk === "destructive").length },
    };
  };
  const check = (d: SchemaDiff): SchemaCheck => ({
    status: "done",
    diff: d,
    risk: highestRisk(d.statements),
    failOn: "destructive",
    failing: isFailing(highestRisk(d.statements), "destructive"),
  });
  // Only what the comment reads of a preview.
  const preview = {
    id: "pdb_1",
    project_id: "prj_1",
    name: "pr-7",
    state: "ready",
    mode: "full",
    source_kind: "project",
    source_restore_time: null,
    masked: false,
    ttl_expires_at: "2025-06-18T14:20:00Z",
  } as PreviewDatabase;
  const connection = { host: "db.example.com", port: 5432, pooledPort: null, database: "shop_pv_1", user: "shop_pv_1_owner" };
  const ctx = { projectId: "prj_1", previewName: "pr-7", resetLabel: "capydb:reset", runUrl: "https://github.com/o/r/actions/runs/1", maskingRules: 0 };

  it("a diff too long for one comment is cut to whole statements under 65536 characters, saying how many are left out", () => {
    const body = renderComment(ctx, { status: "ready", preview, connection, verified: true, schema: check(diff(2_000)) });
    expect(body.length).toBeLessThanOrEqual(MAX_COMMENT_CHARS);
    expect(body.length).toBeGreaterThan(MAX_COMMENT_CHARS - 2_000);
    const shown = [...body.matchAll(/^-- (\d+)\/2000 /gm)].map((m) => Number(m[1]));
    expect(shown[0]).toBe(1);
    expect(shown).toEqual(shown.map((_, i) => i + 1));
    expect(body).toContain(`-- … and ${2_000 - shown.length} more statements, not shown here: the check run "CapyDB schema" lists every statement`);
    expect(body).toContain(statement(shown.length - 1).sql); // the last one shown is whole
    expect(body.endsWith("</sub>")).toBe(true); // the footer survives
    expect(body).toMatch(/\n```\n\n<\/details>\n/);

    const run = checkRunBody(check(diff(2_000)), { workflowPath: null, previewName: "pr-7", previewId: "pdb_1" });
    expect(run.output.text.length).toBeLessThanOrEqual(65_535);
    expect(run.annotations).toHaveLength(2_000);
    expect(run.annotations[0].path).toBe(".github");
    expect(run.conclusion).toBe("failure");
  });

  it("a statement holding a value the run knows is blanked before the comment or the check run shows it", () => {
    const password = "pv-Secret-8d7f6e";
    const leaky: SchemaDiff = {
      ...diff(1),
      statements: [{ ...statement(0), sql: `create function f() returns text language sql as $$ select 'postgresql://u:${password}@h/d' $$;` }],
    };
    const clean = redact(leaky, [password, "", "abc"]);
    expect(clean.statements[0].sql).toBe("create function f() returns text language sql as $$ select 'postgresql://u:***@h/d' $$;");
    const body = renderComment(ctx, { status: "ready", preview, connection, verified: true, schema: check(clean) });
    expect(body).not.toContain(password);
    expect(JSON.stringify(checkRunBody(check(clean), { workflowPath: WORKFLOW, previewName: "pr-7", previewId: "pdb_1" }))).not.toContain(password);
  });
});
