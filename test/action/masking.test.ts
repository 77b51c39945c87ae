// The action on a project with masking rules (issue #16), end to end: its real bundle against a
// real CapyDB server on the instance engine (masked previews need it), on a loop-mounted XFS
// image where the machine allows one; only GitHub's API is a local fake (harness.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapyClient, type Project } from "@capydb/api";
import { startTestServer, type TestServer } from "../harness/server.js";
import { psqlAsync as psql } from "../harness/sql.js";
import { organization, readyProject } from "../harness/tenants.js";
import { reflinkDir, stopInstancesAndCleanup, type ReflinkDir } from "../harness/reflink.js";
import { freePort } from "../harness/ports.js";
import {
  FakeGitHub,
  GITHUB_TOKEN,
  errorAnnotation,
  maskingProblems,
  pullRequestPayload,
  runAction,
  type PullRequestFixture,
  type RunResult,
} from "./harness.js";

let fsDir: ReflinkDir;
let t: TestServer;
let gh: FakeGitHub;
let org: CapyClient;
let orgKey: string;
let projectKey: string;
let people: Project;

// Values that must never leave production: not in a comment, a summary or the log.
const REAL = ["ada.lovelace@example.org", "Ada Lovelace", "grace.hopper@example.org", "Grace Hopper"];
const WARNING = "**Warning: this preview holds unmasked production data.**";
const MASKED_LINE = /Masked: 2 columns, verified \d{4}-\d\d-\d\d \d\d:\d\d UTC\./;

beforeAll(async () => {
  fsDir = reflinkDir("action-masking");
  const first = await freePort();
  t = await startTestServer({
    CAPYDB_DATA_PLANE_ENGINE: "instances",
    CAPYDB_INSTANCES_DIR: `${fsDir.dir}/instances`,
    CAPYDB_INSTANCE_PORTS: `${first}-${first + 40}`,
  });
  gh = new FakeGitHub();
  await gh.start();
  const tenant = await organization(t, "Action masking", "github-actions");
  org = tenant.client;
  orgKey = (await t.admin.createApiKey(tenant.orgId, { name: "github-actions-org" })).secret;
  const made = await readyProject(org, "people");
  people = made.project;
  await psql(
    made.uri,
    "create table users(id serial primary key, email text not null, full_name text not null, plan text); " +
      `insert into users(email, full_name, plan) values ('${REAL[0]}', '${REAL[1]}', 'pro'), ('${REAL[2]}', '${REAL[3]}', 'free');`,
  );
  const { masking_rules } = await org.putMaskingRules(people.id, {
    rules: [
      { table: "users", column: "email", strategy: "email" },
      { table: "users", column: "full_name", strategy: "name" },
    ],
  });
  expect(masking_rules.rules.map((r) => `${r.table}.${r.column}`)).toEqual(["public.users.email", "public.users.full_name"]);
  projectKey = (await t.admin.createApiKey(tenant.orgId, { name: "people only", project_id: people.id })).secret;
}, 240_000);

afterAll(async () => {
  await org?.close();
  await gh?.stop();
  await t?.stop();
  await stopInstancesAndCleanup(fsDir); // instances outlive the server: stopped before the image is unmounted
}, 120_000);

function onPullRequest(o: { fixture: PullRequestFixture; number: number; key?: string; inputs?: Record<string, string> }): Promise<RunResult> {
  return runAction({
    eventName: "pull_request",
    payload: pullRequestPayload(o.fixture, o.number),
    githubApiUrl: gh.url,
    timeoutMs: 240_000,
    inputs: { "api-url": t.url, "api-key": o.key ?? orgKey, "project-id": people.id, "github-token": GITHUB_TOKEN, ...o.inputs },
  });
}

function expectExit(r: RunResult, code: number): void {
  if (r.code !== code) throw new Error(`the action exited ${r.code}, expected ${code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
}

/** Nothing the run wrote (log, summary, comments) holds a production value of a masked column, or a secret unmasked. */
function expectNothingLeaked(r: RunResult): void {
  const secrets = [r.outputs.password, r.outputs["database-url"]].filter(Boolean);
  expect(maskingProblems(r.stdout, secrets)).toEqual([]);
  for (const value of [...REAL, ...secrets]) {
    expect(r.stderr).not.toContain(value);
    expect(r.summary).not.toContain(value);
    for (const c of gh.comments) expect(c.body).not.toContain(value);
  }
  for (const value of REAL) expect(r.stdout).not.toContain(value);
}

const liveNamed = async (name: string) => (await org.listPreviews(people.id)).preview_databases.filter((p) => p.name === name);

describe("a project with masking rules", () => {
  it("by default: a masked preview; the comment and the summary say how many columns and when it was verified", async () => {
    const r = await onPullRequest({ fixture: "opened", number: 120 });
    expectExit(r, 0);
    expect(r.outputs.operation).toBe("created");
    expect(r.outputs.masked).toBe("true");
    const { preview } = await org.getPreview(r.outputs["preview-id"]);
    expect(preview.masked).toBe(true);
    expect(preview.masking_verified_at).toBeTruthy();
    expect(await psql(r.outputs["database-url"], "select count(*) from users")).toBe("2");
    expect(await psql(r.outputs["database-url"], `select count(*) from users where email in ('${REAL[0]}', '${REAL[2]}')`)).toBe("0");

    const [comment] = gh.actionComments(120);
    expect(comment.body).toMatch(MASKED_LINE);
    expect(comment.body).not.toMatch(/unmasked|Warning/);
    expect(r.summary).toMatch(MASKED_LINE);
    expect(r.stdout).not.toMatch(/::warning::/);
    expectNothingLeaked(r);
  }, 300_000);

  it("merged: a schema cutover request for a masked preview (no data moves); with cutover-mode data none, and a warning says why", async () => {
    const schema = await onPullRequest({ fixture: "opened", number: 128 });
    expectExit(schema, 0);
    const s = await onPullRequest({ fixture: "closed.merged", number: 128 });
    expectExit(s, 0);
    expect(s.outputs.operation).toBe("cutover-requested");
    expect((await org.getCutoverRequest(s.outputs["cutover-request-id"])).cutover_request).toMatchObject({ mode: "schema", status: "open" });
    await org.cancelCutoverRequest(s.outputs["cutover-request-id"]);

    const opened = await onPullRequest({ fixture: "opened", number: 129 });
    expectExit(opened, 0);
    const r = await onPullRequest({ fixture: "closed.merged", number: 129, inputs: { "cutover-mode": "data" } });
    expectExit(r, 0);
    expect(r.outputs.operation).toBe("skipped");
    expect(r.stdout).toMatch(/::warning::.*holds masked data: promoting it would replace production's data with masked data/);
    const requests = (await org.listCutoverRequests(people.id)).cutover_requests.filter((c) => c.preview_database_id === opened.outputs["preview-id"]);
    expect(requests).toEqual([]);
  }, 300_000);

  it("masked: false with an organization key: real data, and a plain bold warning in the comment, the summary and the run", async () => {
    const r = await onPullRequest({ fixture: "opened", number: 121, inputs: { masked: "false" } });
    expectExit(r, 0);
    expect(r.outputs.masked).toBe("false");
    expect((await org.getPreview(r.outputs["preview-id"])).preview.masked).toBe(false);
    expect(await psql(r.outputs["database-url"], `select count(*) from users where email = '${REAL[0]}'`)).toBe("1");

    const [comment] = gh.actionComments(121);
    expect(comment.body).toContain(`${WARNING} The project has 2 masking rules`);
    expect(comment.body).not.toMatch(/Masked: /);
    expect(r.summary).toContain(WARNING);
    expect(r.stdout).toMatch(/::warning::Preview pr-121 \(pdb_\w+\) holds unmasked production data: the project has 2 masking rules/);
    expectNothingLeaked(r);
  }, 300_000);

  it("masked: false with a project-scoped key fails with the server's 403, naming the input; without it that key gets a masked preview", async () => {
    const r = await onPullRequest({ fixture: "opened", number: 122, key: projectKey, inputs: { masked: "false" } });
    expectExit(r, 1);
    const message = errorAnnotation(r.stdout)!;
    expect(message).toMatch(new RegExp(`^Input \`masked\`: false was refused by CapyDB \\(403 on POST /v1/projects/${people.id}/preview-databases: .+\\)\\. `));
    expect(message).toContain("needs an organization API key");
    expect(r.stdout).toContain(`::add-mask::${projectKey}`);
    expect(message).not.toContain(projectKey);
    const [comment] = gh.actionComments(122);
    expect(comment.body).toMatch(/: failed/);
    expect(comment.body).toContain("false was refused by CapyDB (403");
    expect(r.summary).toContain("false was refused by CapyDB (403");
    expect(await liveNamed("pr-122")).toHaveLength(0);

    const masked = await onPullRequest({ fixture: "synchronize", number: 122, key: projectKey });
    expectExit(masked, 0);
    expect(masked.outputs.operation).toBe("created");
    expect(masked.outputs.masked).toBe("true");
    expect(gh.actionComments(122)).toHaveLength(1);
    expect(gh.actionComments(122)[0].body).toMatch(/: ready/);
    expect(gh.actionComments(122)[0].body).toMatch(MASKED_LINE);
    expectNothingLeaked(masked);
  }, 300_000);

  it("a preview keeps what it was made with: a later masked: false reuses it masked, and the run says so", async () => {
    const r = await onPullRequest({ fixture: "synchronize", number: 120, inputs: { masked: "false" } });
    expectExit(r, 0);
    expect(r.outputs.operation).toBe("reused");
    expect(r.outputs.masked).toBe("true");
    expect(r.stdout).toMatch(/::warning::Preview pr-120 \(pdb_\w+\) is masked: it was made so, and `masked: false` applies only when a preview is made/);
    expect(gh.actionComments(120)[0].body).toMatch(MASKED_LINE);
  }, 300_000);
});
