// The action without an API key (issue #18): its real bundle run as the runner runs it, with the
// runner's ID-token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN) served locally and signing
// GitHub's claims with a local OIDC issuer the real CapyDB server is configured to trust. The
// action exchanges the ID token for a project token under the project's trust policy and goes on
// as with a key; only GitHub (its API, its runner, its issuer) is faked.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapyClient, type Project } from "@capydb/api";
import { startTestServer, type TestServer } from "../harness/server.js";
import { psqlAsync as psql } from "../harness/sql.js";
import { organization, readyProject } from "../harness/tenants.js";
import { githubClaims, startOidcIssuer, type OidcIssuer } from "../harness/oidc-issuer.js";
import {
  FakeGitHub,
  FakeIdTokenEndpoint,
  FlakyProxy,
  GITHUB_TOKEN,
  REPOSITORY,
  errorAnnotation,
  maskingProblems,
  pullRequestPayload,
  runAction,
  type PullRequestFixture,
  type RunResult,
} from "./harness.js";
import { OIDC_DOCS_URL } from "../../actions/preview-database/src/errors.js";

const REPOSITORY_ID = "4242";
/** The test merge commit GITHUB_SHA names on pull_request (the token's `sha` claim). */
const MERGE_SHA = "7a1c9e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a1c";

let t: TestServer;
let issuer: OidcIssuer;
let gh: FakeGitHub;
let idTokens: FakeIdTokenEndpoint;
let org: CapyClient;
let orgKey: string;
let shop: Project;
let nextRunId = 8_100_000;

/** The claims GitHub puts in the ID token of a pull_request run of REPOSITORY for PR `number`. */
function prClaims(number: number, runId: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return githubClaims({
    repository: REPOSITORY,
    repository_owner: REPOSITORY.split("/")[0],
    repository_id: REPOSITORY_ID,
    ref: `refs/pull/${number}/merge`,
    sha: MERGE_SHA,
    run_id: String(runId),
    event_name: "pull_request",
    ...overrides,
  });
}

interface OidcRun {
  fixture: PullRequestFixture;
  number: number;
  projectId?: string;
  inputs?: Record<string, string>;
  /** The job's ID-token environment: by default granted (id-token: write) with the PR's claims; null: not granted. */
  idToken?: Record<string, unknown> | null;
  apiUrl?: string;
  env?: Record<string, string>;
}

/** A pull_request run with no `api-key`: what the README's example workflow does. */
async function onPullRequest(o: OidcRun): Promise<RunResult & { runId: number }> {
  const runId = nextRunId++;
  const claims = o.idToken === undefined ? prClaims(o.number, runId) : o.idToken;
  const r = await runAction({
    eventName: "pull_request",
    payload: pullRequestPayload(o.fixture, o.number),
    githubApiUrl: gh.url,
    runId,
    inputs: { "api-url": o.apiUrl ?? t.url, "project-id": o.projectId ?? shop.id, "github-token": GITHUB_TOKEN, ...o.inputs },
    env: { GITHUB_SHA: MERGE_SHA, GITHUB_REF: `refs/pull/${o.number}/merge`, ...(claims ? idTokens.jobEnv(claims) : {}), ...o.env },
  });
  return { ...r, runId };
}

function expectExit(r: RunResult, code: number): void {
  if (r.code !== code) throw new Error(`the action exited ${r.code}, expected ${code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
}

/** The project tokens the run was given, as it masked them. */
function accessTokensOf(r: RunResult): string[] {
  return [...r.stdout.matchAll(/^::add-mask::(capy_oidc_\S+)$/gm)].map((m) => m[1]);
}

/** Every token of the run (ID tokens, project tokens) was masked before any other line held it, and went nowhere else. */
function expectTokensKept(r: RunResult, tokens: string[]): void {
  expect(maskingProblems(r.stdout, tokens)).toEqual([]);
  for (const token of tokens) {
    expect(r.stderr).not.toContain(token);
    expect(r.summary).not.toContain(token);
    expect(JSON.stringify(r.outputs)).not.toContain(token);
    for (const c of gh.comments) expect(c.body).not.toContain(token);
    for (const w of gh.requests) expect(JSON.stringify(w)).not.toContain(token);
  }
}

async function trust(projectId: string, policy: Record<string, unknown> = {}): Promise<string> {
  return (await org.createTrustPolicy(projectId, { repository: REPOSITORY, repository_id: REPOSITORY_ID, ...policy })).trust_policy.id;
}

beforeAll(async () => {
  issuer = await startOidcIssuer();
  // the server's audience is left to its default, its own URL: what the action asks for by default
  t = await startTestServer({ CAPYDB_GITHUB_OIDC_ISSUER: issuer.url });
  gh = new FakeGitHub();
  await gh.start();
  idTokens = new FakeIdTokenEndpoint(issuer);
  await idTokens.start();
  const tenant = await organization(t, "Action OIDC", "platform-team");
  org = tenant.client;
  orgKey = (await t.admin.createApiKey(tenant.orgId, { name: "github-actions" })).secret;
  const made = await readyProject(org, "shop");
  shop = made.project;
  await psql(made.uri, "create table items(id serial primary key, name text); insert into items(name) select 'item ' || g from generate_series(1, 20) g;");
  await trust(shop.id, { refs: ["refs/pull/*/merge"], events: ["pull_request"] });
}, 120_000);

afterAll(async () => {
  await org?.close();
  await idTokens?.stop();
  await gh?.stop();
  await t?.stop();
  await issuer?.stop();
});

describe("a pull request on OIDC alone", () => {
  it("opened, pushed, merged: the preview is made and reused, the run is on the record and in the comment, no token leaks", async () => {
    const before = idTokens.requests.length;
    const opened = await onPullRequest({ fixture: "opened", number: 201 });
    expectExit(opened, 0);
    const o = opened.outputs;
    expect(o.operation).toBe("created");
    expect(await psql(o["database-url"], "select count(*) from items")).toBe("20");
    // one ID token, asked for with the job's request token and the server's URL as audience
    expect(idTokens.requests.slice(before)).toEqual([{ audience: t.url, authorized: true }]);
    expect(opened.stdout).toContain(`No \`api-key\`: signing in to CapyDB with this job's GitHub ID token (audience ${t.url})`);
    expect(opened.stdout).toContain(`Signed in to CapyDB: a token of project ${shop.id} until `);

    // the record: a GitHub Actions run of this repository, its pull request and commit
    const { preview } = await org.getPreview(o["preview-id"]);
    expect(preview).toMatchObject({
      requested_by_actor_kind: "github_actions",
      requested_by_actor_id: `${REPOSITORY}#${opened.runId}`,
      requested_by_pr_number: 201,
      requested_by_sha: MERGE_SHA,
    });
    const { job } = await org.getJob(o["job-id"]);
    expect(job).toMatchObject({ requested_by_actor_kind: "github_actions", requested_by_actor_id: `${REPOSITORY}#${opened.runId}` });

    // the comment and the summary name the run, the pull request and the commit
    const made = `Made by GitHub Actions run [${REPOSITORY}#${opened.runId}](https://github.com/${REPOSITORY}/actions/runs/${opened.runId}) for PR #201 at \`${MERGE_SHA.slice(0, 7)}\`.`;
    const [comment] = gh.actionComments(201);
    expect(comment.body).toContain(made);
    expect(comment.body).toContain("ready");
    expect(opened.summary).toContain(`| Made by | ${made.replace(/^Made by /, "").replace(/\.$/, "")} |`);

    // the project token and the ID token: masked first, nowhere else
    const [accessToken] = accessTokensOf(opened);
    expect(accessToken).toMatch(/^capy_oidc_/);
    expectTokensKept(opened, [accessToken, idTokens.issued.at(-1)!]);
    expect(opened.stdout).toContain(`::add-mask::${idTokens.issued.at(-1)}`);

    // a push: the same preview, reused by a new run with a new token; the comment still says who made it
    const pushed = await onPullRequest({ fixture: "synchronize", number: 201 });
    expectExit(pushed, 0);
    expect(pushed.outputs.operation).toBe("reused");
    expect(pushed.outputs["preview-id"]).toBe(o["preview-id"]);
    const [pushedToken] = accessTokensOf(pushed);
    expect(pushedToken).not.toBe(accessToken);
    expectTokensKept(pushed, [pushedToken, idTokens.issued.at(-1)!]);
    expect(gh.actionComments(201)).toHaveLength(1);
    expect(gh.actionComments(201)[0].body).toContain(made);

    // merged: a cutover request on the record as this run's
    const merged = await onPullRequest({ fixture: "closed.merged", number: 201 });
    expectExit(merged, 0);
    expect(merged.outputs.operation).toBe("cutover-requested");
    const request = (await org.listCutoverRequests(shop.id)).cutover_requests.find((c) => c.id === merged.outputs["cutover-request-id"]);
    expect(request).toMatchObject({ requested_by_actor_kind: "github_actions", requested_by_actor_id: `${REPOSITORY}#${merged.runId}` });
    expectTokensKept(merged, accessTokensOf(merged));
  });

  it("a token CapyDB stops taking mid-run (401) is renewed with a new ID token, and the refused call sent again", async () => {
    // In front of the server, a proxy refuses the first poll of the job with 401, as CapyDB does
    // once the token outlived its five-minute ID token. The audience is the server's own URL still.
    const proxy = new FlakyProxy(t.url);
    await proxy.start();
    try {
      proxy.injected.push({ method: "GET", pathPrefix: "/v1/jobs/", status: 401, remaining: 1 });
      const before = idTokens.issued.length;
      const r = await onPullRequest({ fixture: "opened", number: 202, apiUrl: proxy.url, inputs: { "oidc-audience": t.url } });
      expectExit(r, 0);
      expect(r.outputs.operation).toBe("created");
      const jobPolls = proxy.seen.filter((q) => q.method === "GET" && q.path === `/v1/jobs/${r.outputs["job-id"]}`);
      expect(jobPolls[0].status).toBe(401);
      expect(jobPolls.slice(1).some((q) => q.status === 200)).toBe(true);
      expect(r.stdout).toMatch(/CapyDB no longer takes this run's token \(401: injected 401 by the test proxy\): exchanging a new GitHub ID token/);
      // two ID tokens, both for the configured audience; two project tokens, both masked
      expect(idTokens.issued.length - before).toBe(2);
      expect(idTokens.requests.slice(-2).map((q) => q.audience)).toEqual([t.url, t.url]);
      const tokens = accessTokensOf(r);
      expect(tokens).toHaveLength(2);
      expect(new Set(tokens).size).toBe(2);
      expectTokensKept(r, [...tokens, ...idTokens.issued.slice(before)]);
      expect(await psql(r.outputs["database-url"], "select count(*) from items")).toBe("20");
    } finally {
      await proxy.stop();
    }
  });

  it("Dependabot's pull request is not skipped when its job has an ID token: no secret is needed", async () => {
    const r = await onPullRequest({ fixture: "opened", number: 203, env: { GITHUB_ACTOR: "dependabot[bot]" } });
    expectExit(r, 0);
    expect(r.outputs.operation).toBe("created");
    expect((await org.getPreview(r.outputs["preview-id"])).preview.requested_by_actor_kind).toBe("github_actions");
  });
});

describe("refusals", () => {
  it("a project with no trust policy: the step fails with CapyDB's 403 naming the claim; a policy on main only names the ref", async () => {
    const lonely = (await readyProject(org, "lonely")).project;
    const r = await onPullRequest({ fixture: "opened", number: 211, projectId: lonely.id });
    expectExit(r, 1);
    expect(errorAnnotation(r.stdout)).toBe(
      `No trust policy of project ${lonely.id} lets this workflow in (403: repository: project ${lonely.id} trusts no GitHub repository ` +
        "(it has no trust policy)). Add one for this repository, or widen the one named (its refs, events, environments), with an " +
        `organization key: ${OIDC_DOCS_URL}`,
    );
    expect(gh.actionComments(211)[0].body).toContain("trusts no GitHub repository");
    expect((await org.listPreviews(lonely.id)).preview_databases).toEqual([]);

    const policy = await trust(lonely.id, { refs: ["refs/heads/main"] });
    const wrongRef = await onPullRequest({ fixture: "opened", number: 212, projectId: lonely.id });
    expectExit(wrongRef, 1);
    expect(errorAnnotation(wrongRef.stdout)).toContain(`(403: ref: refs/pull/212/merge matches none of refs/heads/main (trust policy ${policy}))`);
    expect((await org.listPreviews(lonely.id)).preview_databases).toEqual([]);
  });

  it("an ID token for another audience: the step fails with CapyDB's 401 and says which input sets it", async () => {
    const r = await onPullRequest({ fixture: "opened", number: 213, inputs: { "oidc-audience": "https://capydb.elsewhere.example" } });
    expectExit(r, 1);
    expect(idTokens.requests.at(-1)?.audience).toBe("https://capydb.elsewhere.example");
    const message = errorAnnotation(r.stdout) ?? "";
    expect(message).toMatch(/^CapyDB refused this job's GitHub ID token \(401: token: wrong audience \(aud\)/);
    expect(message).toContain("input `oidc-audience`, by default `api-url`");
  });

  it("neither an api-key nor id-token: write: one message naming both ways, before anything is asked of CapyDB or GitHub", async () => {
    const writesBefore = gh.writes().length;
    const r = await onPullRequest({ fixture: "opened", number: 214, idToken: null });
    expectExit(r, 1);
    const message = errorAnnotation(r.stdout) ?? "";
    expect(message).toBe(
      "Input `api-key`: is empty, and this job cannot request a GitHub ID token (ACTIONS_ID_TOKEN_REQUEST_URL is not set). Give it one " +
        "of the two: pass an API key from a secret (`api-key: ${{ secrets.CAPYDB_API_KEY }}`), or grant the job `permissions: id-token: write` " +
        `and add a trust policy for this repository to the project (no secret needed): ${OIDC_DOCS_URL}`,
    );
    expect(r.stdout.split("\n").filter((l) => l.startsWith("::error::"))).toHaveLength(1);
    expect(gh.writes().length).toBe(writesBefore);
    expect(gh.actionComments(214)).toEqual([]);
  });

  it("a policy without delete: closing the pull request fails with the 403 naming the command, and the preview stays", async () => {
    const kept = (await readyProject(org, "kept")).project;
    const policy = await trust(kept.id, { commands: ["create", "extend", "check", "cutover"] });
    const opened = await onPullRequest({ fixture: "opened", number: 215, projectId: kept.id });
    expectExit(opened, 0);
    const closed = await onPullRequest({ fixture: "closed.unmerged", number: 215, projectId: kept.id });
    expectExit(closed, 1);
    const message = errorAnnotation(closed.stdout) ?? "";
    expect(message).toMatch(new RegExp(`^This workflow's token may not do this \\(403 on DELETE /v1/preview-databases/${opened.outputs["preview-id"]}: `));
    expect(message).toContain(`command delete is not allowed by trust policy ${policy}`);
    expect(message).toContain("add the one named to the policy, or pass an `api-key`");
    expect((await org.getPreview(opened.outputs["preview-id"])).preview.state).toBe("ready");
    expect(gh.actionComments(215)[0].body).toContain("command delete is not allowed");
  });
});

describe("with an api-key", () => {
  it("the key is used even when the job could get an ID token: none is asked for, and the record names the key", async () => {
    const before = idTokens.requests.length;
    const r = await onPullRequest({ fixture: "opened", number: 221, inputs: { "api-key": orgKey } });
    expectExit(r, 0);
    expect(r.outputs.operation).toBe("created");
    expect(idTokens.requests.length).toBe(before);
    expect(accessTokensOf(r)).toEqual([]);
    expect(r.stdout).not.toContain("GitHub ID token");
    const { preview } = await org.getPreview(r.outputs["preview-id"]);
    expect(preview.requested_by_actor_kind).toBe("api_key");
    expect(gh.actionComments(221)[0].body).not.toContain("Made by GitHub Actions");
    expect(r.summary).not.toContain("Made by");
  });
});
