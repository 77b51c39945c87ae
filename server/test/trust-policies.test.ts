// GitHub Actions OIDC (issue #18): trust policies, the exchange of a GitHub ID token for a
// short-lived project token, what that token may do, and what it leaves on the records. GitHub's
// issuer is a local stand-in (test/harness/oidc-issuer.ts) the server discovers like GitHub's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import crypto from "node:crypto";
import { CapyApiError, CapyClient, endpoints, errorCodesOf, type ErrorCode, type Project } from "@capydb/api";
import { loadConfig } from "../src/config.js";
import { adminQuery, startTestServer, type TestServer } from "../../test/harness/server.js";
import { organization, readyProject } from "../../test/harness/tenants.js";
import { githubClaims, newSigningKey, startOidcIssuer, type OidcIssuer, type TokenOptions } from "../../test/harness/oidc-issuer.js";

let t: TestServer;
let issuer: OidcIssuer;
let orgId: string;
let org: CapyClient;
let other: CapyClient;
let anonymous: CapyClient;
let app: Project;
let controlDb: string;
const clients: CapyClient[] = [];

const now = () => Math.floor(Date.now() / 1000);
const sign = (claims: Record<string, unknown> = {}, options: Partial<TokenOptions> = {}) => issuer.sign(githubClaims(claims), { audience: t.url, ...options });

/** A client holding a token, closed after the file. */
function holding(token: string): CapyClient {
  const c = new CapyClient({ baseUrl: t.url, apiKey: token, retries: 0 });
  clients.push(c);
  return c;
}

/** A project of the organization that exists (no need for it to be ready). */
async function bareProject(name: string): Promise<string> {
  return (await org.createProject({ name })).project.id;
}

/** Awaits a refusal: its status, its code (sent, and listed for the operation), and its message. */
async function refused(call: Promise<unknown>, status: number, code: ErrorCode, message?: RegExp): Promise<CapyApiError> {
  const err = await call.then(
    () => {
      throw new Error(`expected ${status} ${code}, the call succeeded`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CapyApiError);
  const apiErr = err as CapyApiError;
  expect({ status: apiErr.status, code: apiErr.code }, apiErr.message).toEqual({ status, code });
  if (message) expect(apiErr.message).toMatch(message);
  const operation = endpoints.find((e) => e.method === apiErr.method && new RegExp(`^${e.path.replace(/\{\w+\}/g, "[^/]+")}$`).test(apiErr.path.split("?")[0]));
  if (operation) expect(errorCodesOf(operation).get(status), `${apiErr.method} ${apiErr.path} does not list ${code}`).toContain(code);
  return apiErr;
}

const exchange = (token: string, projectId: string) => anonymous.exchangeGitHubOidcToken({ token, project_id: projectId });

beforeAll(async () => {
  issuer = await startOidcIssuer();
  t = await startTestServer({ CAPYDB_GITHUB_OIDC_ISSUER: issuer.url });
  controlDb = new URL(t.controlUrl).pathname.slice(1);
  ({ orgId, client: org } = await organization(t, "Octo"));
  other = (await organization(t, "Elsewhere")).client;
  anonymous = new CapyClient({ baseUrl: t.url, retries: 0 });
  app = (await readyProject(org, "app")).project;
}, 120_000);

afterAll(async () => {
  for (const c of [...clients, org, other, anonymous]) await c?.close();
  await t?.stop();
  await issuer?.stop();
});

describe("settings", () => {
  it("default to GitHub's issuer, discovered keys, the server's URL as audience and an hour; bad values stop the server", () => {
    expect(loadConfig({}).githubOidc).toEqual({
      issuer: "https://token.actions.githubusercontent.com",
      jwksUrl: null,
      jwksCacheSeconds: 600,
      audience: null,
      tokenTtlSeconds: 3600,
    });
    expect(() => loadConfig({ CAPYDB_GITHUB_OIDC_ISSUER: "token.actions.githubusercontent.com" })).toThrow(
      /^CAPYDB_GITHUB_OIDC_ISSUER must be an http\(s\) URL/,
    );
    expect(() => loadConfig({ CAPYDB_GITHUB_OIDC_JWKS_URL: "file:///etc/keys.json" })).toThrow(/^CAPYDB_GITHUB_OIDC_JWKS_URL must be an http\(s\) URL/);
    expect(() => loadConfig({ CAPYDB_OIDC_TOKEN_TTL_SECONDS: "604800" })).toThrow(/^CAPYDB_OIDC_TOKEN_TTL_SECONDS must be an integer between 60 and 86400/);
  });
});

describe("trust policies", () => {
  it("are created, read, listed and deleted by the organization, validated field by field, and invisible to other tenants", async () => {
    const projectId = await bareProject("policies");
    const { trust_policy: full } = await org.createTrustPolicy(projectId, {
      provider: "github",
      repository: "octo-org/octo-repo",
      repository_id: 4242,
      refs: ["refs/heads/main", "refs/pull/*/merge", "refs/heads/main"],
      environments: ["preview"],
      events: ["pull_request", "push"],
      commands: ["create", "delete"],
      allow_forks: false,
    });
    expect(full).toEqual({
      id: expect.stringMatching(/^tp_[a-z0-9]+$/),
      project_id: projectId,
      organization_id: orgId,
      provider: "github",
      repository: "octo-org/octo-repo",
      repository_id: "4242",
      refs: ["refs/heads/main", "refs/pull/*/merge"],
      environments: ["preview"],
      events: ["pull_request", "push"],
      commands: ["create", "delete"],
      allow_forks: false,
      created_at: expect.any(String),
    });
    // everything but the repository is optional: any ref, environment and event, every command
    const { trust_policy: minimal } = await org.createTrustPolicy(projectId, { repository: "octo-org/tools" });
    expect(minimal).toMatchObject({
      provider: "github",
      repository_id: null,
      refs: null,
      environments: null,
      events: null,
      commands: ["create", "reset", "delete", "extend", "check", "cutover"],
      allow_forks: false,
    });
    expect((await org.listTrustPolicies(projectId)).trust_policies.map((p) => p.id)).toEqual([full.id, minimal.id]);
    // read by its id alone (what an import by id needs)
    expect((await org.getTrustPolicy(full.id)).trust_policy).toEqual(full);
    await refused(org.getTrustPolicy("tp_doesnotexist"), 404, "not_found", /trust policy tp_doesnotexist not found/);
    await refused(org.getTrustPolicy(app.id), 404, "not_found", /^trust policy not found/);

    const invalid: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /^repository: is required/],
      [{ repository: "octo-org" }, /^repository: must be a GitHub repository/],
      [{ repository: "octo-org/.." }, /^repository: /],
      [{ repository: "-octo/repo" }, /^repository: /],
      [{ repository: "octo-org/octo-repo", provider: "gitlab" }, /^provider: /],
      [{ repository: "octo-org/octo-repo", refs: ["refs/heads/feat*"] }, /^refs\.0: "\*" may only stand for a whole path segment/],
      [{ repository: "octo-org/octo-repo", refs: ["main"] }, /^refs\.0: must be a full ref/],
      [{ repository: "octo-org/octo-repo", refs: ["refs/heads//x"] }, /^refs\.0: /],
      [{ repository: "octo-org/octo-repo", refs: [] }, /^refs: must not be empty/],
      [{ repository: "octo-org/octo-repo", commands: ["deploy"] }, /^commands\.0: /],
      [{ repository: "octo-org/octo-repo", events: ["Pull Request"] }, /^events\.0: /],
      [{ repository: "octo-org/octo-repo", environments: [""] }, /^environments\.0: /],
      [{ repository: "octo-org/octo-repo", repository_id: "12ab" }, /^repository_id: /],
      [{ repository: "octo-org/octo-repo", allow_forks: "yes" }, /^allow_forks: /],
      [{ repository: "octo-org/octo-repo", owner: "x" }, /^owner: unknown field/],
    ];
    for (const [body, message] of invalid) {
      await refused(org.request("POST", `/v1/projects/${projectId}/trust-policies`, { body }), 400, "validation_failed", message);
    }

    // another organization: the project and the policy do not exist for it
    await refused(other.createTrustPolicy(projectId, { repository: "evil/repo" }), 404, "project_not_found");
    await refused(other.listTrustPolicies(projectId), 404, "project_not_found");
    await refused(other.getTrustPolicy(full.id), 404, "not_found");
    await refused(other.deleteTrustPolicy(full.id), 404, "not_found");
    // a key of the project itself: it may not hand out access to its project
    const projectKey = holding((await t.admin.createApiKey(orgId, { name: "ci", project_id: projectId })).secret);
    await refused(projectKey.createTrustPolicy(projectId, { repository: "octo-org/octo-repo" }), 403, "forbidden", /organization key/);
    await refused(projectKey.listTrustPolicies(projectId), 403, "forbidden");
    await refused(projectKey.getTrustPolicy(full.id), 403, "forbidden", /organization key/);
    await refused(projectKey.deleteTrustPolicy(full.id), 403, "forbidden");
    // a key of another project of the same organization sees neither
    const elsewhereKey = holding((await t.admin.createApiKey(orgId, { name: "app-ci", project_id: app.id })).secret);
    await refused(elsewhereKey.listTrustPolicies(projectId), 404, "project_not_found");
    await refused(elsewhereKey.getTrustPolicy(full.id), 404, "not_found");
    await refused(elsewhereKey.deleteTrustPolicy(full.id), 404, "not_found");
    // platform admins may
    const { trust_policy: byAdmin } = await t.admin.createTrustPolicy(projectId, { repository: "octo-org/infra" });
    expect((await t.admin.getTrustPolicy(full.id)).trust_policy).toEqual(full);

    await org.deleteTrustPolicy(full.id);
    await t.admin.deleteTrustPolicy(byAdmin.id);
    expect((await org.listTrustPolicies(projectId)).trust_policies.map((p) => p.id)).toEqual([minimal.id]);
    await refused(org.deleteTrustPolicy(full.id), 404, "not_found");
    await refused(org.getTrustPolicy(full.id), 404, "not_found");
    await refused(t.admin.getTrustPolicy(byAdmin.id), 404, "not_found");
  });
});

describe("the exchange", () => {
  it("trades a verified GitHub ID token for a token of the project, living at most the configured time and never past the ID token", async () => {
    const projectId = await bareProject("exchange");
    // names compared as GitHub does, without regard to case; the id is pinned by the first exchange
    const { trust_policy: policy } = await org.createTrustPolicy(projectId, {
      repository: "Octo-Org/Octo-Repo",
      refs: ["refs/pull/*/merge"],
      events: ["pull_request"],
      commands: ["create", "check"],
    });
    const idToken = await sign({}, { exp: now() + 120 });
    const answer = await exchange(idToken, projectId);
    expect(answer).toEqual({
      access_token: expect.stringMatching(/^capy_oidc_[A-Za-z0-9_-]{43}$/),
      expires_at: expect.any(String),
      project_id: projectId,
      commands: ["create", "check"],
    });
    // capped by the ID token's own expiry
    const { exp } = JSON.parse(Buffer.from(idToken.split(".")[1], "base64url").toString()) as { exp: number };
    expect(Date.parse(answer.expires_at)).toBe(exp * 1000);
    // otherwise the configured hour
    const before = Date.now();
    const long = await exchange(await sign({}, { exp: now() + 7200 }), projectId);
    expect(Date.parse(long.expires_at)).toBeGreaterThanOrEqual(before + 3600_000 - 1000);
    expect(Date.parse(long.expires_at)).toBeLessThanOrEqual(Date.now() + 3600_000);

    // only a hash is kept, and nothing else of the token
    const rows = (await adminQuery(controlDb, "select t.*, t::text as whole from oidc_access_tokens t where project_id = $1", [projectId])).rows;
    expect(rows).toHaveLength(2);
    expect(rows.map((r) => r.secret_hash).sort()).toEqual(
      [answer.access_token, long.access_token].map((s) => crypto.createHash("sha256").update(s).digest("hex")).sort(),
    );
    for (const r of rows) for (const secret of [answer.access_token, long.access_token]) expect(r.whole).not.toContain(secret.slice(10));
    expect(rows[0]).toMatchObject({ actor_id: "octo-org/octo-repo#555", pr_number: 7, sha: "0123456789abcdef0123456789abcdef01234567" });

    // the first exchange pinned the repository's id: the same name with another id is refused
    expect((await org.listTrustPolicies(projectId)).trust_policies[0]).toMatchObject({ id: policy.id, repository_id: "4242" });
    await refused(exchange(await sign({ repository_id: "5151" }), projectId), 403, "forbidden", /^repository_id: /);
  });

  it("answers 401 naming the check that failed, never echoing the token", async () => {
    const projectId = await bareProject("refusals");
    await org.createTrustPolicy(projectId, { repository: "octo-org/octo-repo" });
    const forger = await newSigningKey(issuer.key.kid);
    const unknownKey = await newSigningKey();
    const hs256 = await new (await import("jose")).SignJWT(githubClaims())
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(issuer.url)
      .setAudience(t.url)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode("a shared secret nobody should accept"));
    const unsigned = [
      { alg: "none", typ: "JWT" },
      { ...githubClaims(), iss: issuer.url, aud: t.url, iat: now(), exp: now() + 300 },
    ]
      .map((part) => Buffer.from(JSON.stringify(part)).toString("base64url"))
      .join(".")
      .concat(".");
    const { repository: _dropped, ...withoutRepository } = githubClaims();
    const cases: Array<[string, Promise<string> | string, RegExp]> = [
      ["signed with another key under the issuer's kid", sign({}, { key: forger }), /^token: the signature does not verify/],
      ["signed with a key the issuer does not publish", sign({}, { key: unknownKey }), /^token: is signed with a key the issuer does not publish/],
      ["from another issuer", sign({}, { issuer: "https://token.actions.example.com" }), /^token: wrong issuer \(iss\)/],
      ["for another audience", sign({}, { audience: "https://another-capydb.example.com" }), new RegExp(`^token: wrong audience \\(aud\\).*${t.url}`)],
      ["expired", sign({}, { iat: now() - 900, nbf: now() - 900, exp: now() - 600 }), /^token: has expired \(exp\)/],
      ["not valid yet", sign({}, { nbf: now() + 600, exp: now() + 900 }), /^token: is not valid yet \(nbf\)/],
      ["issued in the future", sign({}, { iat: now() + 600, exp: now() + 900 }), /^token: is issued in the future \(iat\)/],
      ["HS256", hs256, /^token: is not signed with RS256/],
      ["unsigned", unsigned, /^token: is not signed with RS256/],
      ["not a JWT", "definitely-not-a-jwt", /^token: is not a JWT/],
      ["without GitHub's claims", issuer.sign(withoutRepository, { audience: t.url }), /^token: claim repository is missing/],
    ];
    for (const [what, pending, message] of cases) {
      const token = await pending;
      const err = await refused(exchange(token, projectId), 401, "unauthorized", message);
      expect(JSON.stringify(err.body), what).not.toContain(token.split(".")[2] || token);
    }
    // a good token for a project that does not exist (or is another organization's and not trusting it)
    await refused(exchange(await sign(), "prj_doesnotexist0"), 404, "project_not_found");
    // a body that is not an exchange
    await refused(anonymous.request("POST", "/v1/auth/github-oidc", { body: { token: "x" } }), 400, "validation_failed", /^project_id: is required/);
  });

  it("answers 403 naming the claim that does not match", async () => {
    const projectId = await bareProject("claims");
    await refused(exchange(await sign(), projectId), 403, "forbidden", /^repository: project prj_\w+ trusts no GitHub repository/);
    const { trust_policy: policy } = await org.createTrustPolicy(projectId, {
      repository: "octo-org/octo-repo",
      repository_id: "4242",
      refs: ["refs/pull/*/merge", "refs/heads/main"],
      events: ["pull_request", "push"],
      environments: ["preview"],
    });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ repository: "octo-org/other-repo" }, /^repository: octo-org\/other-repo is not trusted by this project$/],
      // deleted and recreated under the same name: another id
      [{ repository_id: "9999", environment: "preview" }, /^repository_id: octo-org\/octo-repo has id 9999.*recreated/],
      [{ event_name: "issue_comment", environment: "preview" }, /^event_name: issue_comment is not one of pull_request, push/],
      [
        { event_name: "push", ref: "refs/heads/dev", environment: "preview" },
        /^ref: refs\/heads\/dev matches none of refs\/pull\/\*\/merge, refs\/heads\/main/,
      ],
      // "*" is one whole segment, not several
      [{ ref: "refs/pull/7/head/merge", environment: "preview" }, /^ref: /],
      [{ environment: "production" }, /^environment: production is not one of preview/],
      [{}, /^environment: the job names no environment/],
    ];
    for (const [claims, message] of cases) {
      const err = await refused(exchange(await sign(claims), projectId), 403, "forbidden", message);
      if (!claims.repository) expect(err.message).toContain(policy.id);
    }
    // the same repository, environment and events spelled in another case match
    await exchange(await sign({ repository: "OCTO-ORG/octo-repo", environment: "Preview", event_name: "push", ref: "refs/heads/main" }), projectId);
  });

  it("refuses runs through which a fork's code holds the token, unless the policy allows forks; a deleted project takes its policies along", async () => {
    const created = await org.createProject({ name: "forks" });
    const projectId = created.project.id;
    // pull_request_target runs in the base repository with its ref, for a fork's pull request
    const fromFork = { event_name: "pull_request_target", ref: "refs/heads/main" };
    await org.createTrustPolicy(projectId, { repository: "octo-org/octo-repo", refs: ["refs/heads/main"] });
    await refused(exchange(await sign(fromFork), projectId), 403, "forbidden", /^event_name: pull_request_target runs can carry code from a fork.*allow_forks/);
    await refused(exchange(await sign({ event_name: "workflow_run", ref: "refs/heads/main" }), projectId), 403, "forbidden", /^event_name: workflow_run/);
    await org.createTrustPolicy(projectId, { repository: "octo-org/octo-repo", events: ["pull_request_target"], allow_forks: true });
    const answer = await exchange(await sign(fromFork), projectId);
    expect(answer.project_id).toBe(projectId);

    await org.waitForJob(created.job.id, { timeoutMs: 60_000 });
    const deleted = await org.deleteProject(projectId);
    await refused(holding(answer.access_token).getProject(projectId), 401, "unauthorized", /project was deleted/);
    await refused(exchange(await sign(fromFork), projectId), 404, "project_not_found");
    await refused(org.createTrustPolicy(projectId, { repository: "octo-org/octo-repo" }), 409, "project_deleted");
    await org.waitForJob(deleted.job.id, { timeoutMs: 60_000 });
    const left = await adminQuery(
      controlDb,
      `select (select count(*) from trust_policies where project_id = $1 and deleted_at is null)::int as policies,
              (select count(*) from oidc_access_tokens where project_id = $1 and revoked_at is null)::int as tokens`,
      [projectId],
    );
    expect(left.rows[0]).toEqual({ policies: 0, tokens: 0 });
  });
});

describe("a GitHub Actions token", () => {
  it("acts on its project within its policy's commands, is recorded as the actor, and stops working with its policy", async () => {
    const { trust_policy: policy } = await org.createTrustPolicy(app.id, {
      repository: "octo-org/octo-repo",
      commands: ["create", "delete", "cutover"],
    });
    const answer = await exchange(await sign({ ref: "refs/pull/42/merge", sha: "fedcba9876543210fedcba9876543210fedcba98", run_id: "9001" }), app.id);
    const ci = holding(answer.access_token);

    // what the action reads
    expect((await ci.getProject(app.id)).project.id).toBe(app.id);
    await ci.getMaskingRules(app.id);
    // create: the preview and its job record who asked
    const created = await ci.createPreview(app.id, { name: "pr-42" });
    const actor = {
      requested_by_actor_kind: "github_actions",
      requested_by_actor_id: "octo-org/octo-repo#9001",
      requested_by_pr_number: 42,
      requested_by_sha: "fedcba9876543210fedcba9876543210fedcba98",
    };
    expect(created.preview).toMatchObject(actor);
    expect(created.job).toMatchObject(actor);
    await ci.waitForJob(created.job.id, { timeoutMs: 60_000 });
    expect((await ci.getPreview(created.preview.id)).preview).toMatchObject({ state: "ready", ...actor });
    expect((await org.listProjectJobs(app.id)).jobs.find((j) => j.id === created.job.id)).toMatchObject(actor);
    expect((await ci.listPreviews(app.id)).preview_databases.map((p) => p.id)).toContain(created.preview.id);
    expect(await ci.getPreviewConnectionUri(created.preview.id)).toMatch(/^postgres(ql)?:\/\//);
    // an API key's job names the key
    const keyId = (await t.admin.listApiKeys(orgId)).api_keys.find((k) => k.name === "Octo")!.id;
    const byKey = await org.resetPreview(created.preview.id);
    expect(byKey.job).toMatchObject({ requested_by_actor_kind: "api_key", requested_by_actor_id: keyId, requested_by_pr_number: null, requested_by_sha: null });
    await org.waitForJob(byKey.job.id, { timeoutMs: 60_000 });

    // cutover: the request records the workflow as well
    const { cutover_request: cut } = await ci.createCutoverRequest(app.id, { preview_id: created.preview.id });
    expect(cut).toMatchObject({ requested_by_actor_kind: "github_actions", requested_by_actor_id: "octo-org/octo-repo#9001" });
    // canceling is not one of its commands; the organization cancels
    await refused(ci.cancelCutoverRequest(cut.id), 403, "forbidden");
    await org.cancelCutoverRequest(cut.id);

    // commands outside its policy: 403 naming the command
    await refused(ci.resetPreview(created.preview.id), 403, "forbidden", /^command reset is not allowed.*create, delete, cutover/);
    await refused(ci.extendPreview(created.preview.id), 403, "forbidden", /^command extend/);
    await refused(ci.createSchemaDiff(created.preview.id), 403, "forbidden", /^command check/);
    // nothing beyond previews: production's password, backups, keys, trust policies, other projects
    for (const call of [
      () => ci.getConnectionUri(app.id),
      () => ci.createBackup(app.id),
      () => ci.listProjects(),
      () => ci.updateProject(app.id, { statement_timeout: "1s" }),
      () => ci.putMaskingRules(app.id, { rules: [] }),
      () => ci.createApiKey(orgId, { name: "escalate" }),
      () => ci.listApiKeys(orgId),
      () => ci.createTrustPolicy(app.id, { repository: "octo-org/octo-repo" }),
      () => ci.listTrustPolicies(app.id),
      () => ci.getTrustPolicy(policy.id),
      () => ci.deleteTrustPolicy(policy.id),
      () => ci.listOrganizations(),
    ]) {
      await refused(call(), 403, "forbidden", /GitHub Actions token cannot call/);
    }
    const sibling = (await readyProject(org, "sibling")).project;
    await refused(ci.getProject(sibling.id), 404, "project_not_found");
    await refused(ci.createPreview(sibling.id, { name: "x" }), 404, "project_not_found");

    // delete: its own command
    const removed = await ci.deletePreview(created.preview.id);
    expect(removed.job).toMatchObject(actor);
    await ci.waitForJob(removed.job.id, { timeoutMs: 60_000 });

    // expired: 401 (its expiry moved into the past rather than waited for)
    const spare = await exchange(await sign(), app.id);
    const later = holding(spare.access_token);
    await later.getProject(app.id);
    await adminQuery(controlDb, "update oidc_access_tokens set expires_at = now() - interval '1 second' where secret_hash = $1", [
      crypto.createHash("sha256").update(spare.access_token).digest("hex"),
    ]);
    await refused(later.getProject(app.id), 401, "unauthorized", /expired/);

    // deleting the policy revokes what it issued, at once
    await org.deleteTrustPolicy(policy.id);
    await refused(ci.getProject(app.id), 401, "unauthorized", /revoked/);
    await refused(ci.listPreviews(app.id), 401, "unauthorized");
    await refused(holding("capy_oidc_never-issued-never-issued-never-issued0").getProject(app.id), 401, "unauthorized", /invalid GitHub Actions token/);
  }, 240_000);
});
