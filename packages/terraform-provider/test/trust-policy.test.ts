// capydb_trust_policy under the real Terraform CLI, against a real CapyDB server on real
// PostgreSQL, with a local stand-in for GitHub's OIDC issuer (test/harness/oidc-issuer.ts).
//
// One story, in order: apply two policies → the API lists them as written, no changes → the
// policy trusts the workflow it describes, and the repository id the server pins then shows in
// the state without a planned change → import by the bare policy id (and by the older
// "<project_id>/<policy_id>") into a second workspace, no changes → a changed `refs` replaces the policy (its tokens stop working) → bad
// arguments refused at plan → a policy deleted behind Terraform's back leaves the state and is
// made again → destroy.
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapyApiError, CapyClient, TRUST_POLICY_COMMANDS, type TrustPolicy } from "@capydb/api";
import { githubClaims, startOidcIssuer, type OidcIssuer } from "../../../test/harness/oidc-issuer.js";
import { startTestServer, type TestServer } from "../../../test/harness/server.js";
import { organization, readyProject } from "../../../test/harness/tenants.js";
import { UNKNOWN } from "../src/cty/types.js";
import { ALL_COMMANDS, validateTrustPolicy } from "../src/resources/trust-policy.js";
import { type RunResult, Workspace, explain, prepareMirror, providerBlocks, tempRoot, terraformVersion } from "./terraform-cli.js";

const tfVersion = await terraformVersion();
if (!tfVersion) console.warn("trust-policy.test.ts: skipped: no `terraform` on the PATH (install Terraform 1.11.4 to run these tests)");

/** A configuration of the provider and these resource bodies (HCL), keyed by resource name. */
function config(url: string, resources: Record<string, string>): string {
  return `${providerBlocks(url)}${Object.entries(resources)
    .map(([name, body]) => `\nresource "capydb_trust_policy" "${name}" {\n${body}\n}\n`)
    .join("")}`;
}

/** The attributes of a policy as the state holds them, from the API's object. */
function asState(p: TrustPolicy): Record<string, unknown> {
  return {
    id: p.id,
    project_id: p.project_id,
    oidc_provider: p.provider,
    repository: p.repository,
    repository_id: p.repository_id,
    refs: p.refs,
    environments: p.environments,
    events: p.events,
    commands: p.commands,
    allow_forks: p.allow_forks,
    created_at: p.created_at,
  };
}

describe("capydb_trust_policy's plan-time values and checks", () => {
  it("plan commands left out as all of them, in the server's order", () => {
    expect(ALL_COMMANDS).toEqual(TRUST_POLICY_COMMANDS);
  });

  const config = {
    project_id: "prj_1",
    oidc_provider: null,
    repository: "acme/shop",
    repository_id: null,
    environments: null,
    events: null,
    allow_forks: null,
  };
  const details = async (extra: Record<string, unknown>) => (await validateTrustPolicy({ ...config, ...extra } as never)).map((d) => d.detail);

  it("checks the known entries of a list that holds unknown ones, and leaves a wholly unknown list or repository to the apply", async () => {
    expect(await details({ refs: [UNKNOWN, "refs/heads/feat*", "refs/heads/main", "refs/heads/main"], commands: [UNKNOWN, "drop"] })).toEqual([
      'refs[3]: "refs/heads/main" is already listed (refs[2])',
      expect.stringMatching(/^refs\[1\]: "\*" may only stand for a whole path segment .* \(got "refs\/heads\/feat\*"\)$/),
      expect.stringMatching(/^commands\[1\]: Invalid option: .* \(got "drop"\)$/),
    ]);
    expect(await details({ refs: UNKNOWN, commands: UNKNOWN, repository: UNKNOWN })).toEqual([]);
  });
});

describe.skipIf(!tfVersion)(`capydb_trust_policy under ${tfVersion ?? "terraform"}`, () => {
  let issuer: OidcIssuer;
  let t: TestServer;
  let org: CapyClient;
  let anonymous: CapyClient;
  let apiKey: string;
  let projectId: string;
  let root: string;
  let cliConfig: string;
  let main: Workspace;
  let exchangedToken = "";
  const ids = { ci: "", staging: "" };
  const refs = ['"refs/heads/main"', '"refs/pull/*/merge"'];

  const ciBody = () => `  project_id = "${projectId}"
  repository = "octo-org/octo-repo"
  refs       = [${refs.join(", ")}]
  events     = ["pull_request", "push"]
  commands   = ["create", "delete"]`;
  const stagingBody = () => `  project_id    = "${projectId}"
  repository    = "octo-org/deployer"
  repository_id = 987654
  environments  = ["staging"]
  allow_forks   = true`;
  const mainConfig = () => config(t.url, { ci: ciBody(), staging: stagingBody() });

  async function listed(): Promise<TrustPolicy[]> {
    return (await org.listTrustPolicies(projectId)).trust_policies;
  }

  async function noChanges(ws: Workspace): Promise<void> {
    const plan = await ws.run(["plan", "-detailed-exitcode", "-input=false"]);
    expect(plan.code, explain(plan)).toBe(0);
    expect(plan.stdout).toContain("No changes.");
  }

  async function apply(ws: Workspace, args: string[] = []): Promise<RunResult> {
    const r = await ws.run(["apply", "-auto-approve", "-input=false", ...args]);
    expect(r.code, explain(r)).toBe(0);
    return r;
  }

  beforeAll(async () => {
    issuer = await startOidcIssuer();
    t = await startTestServer({ CAPYDB_GITHUB_OIDC_ISSUER: issuer.url });
    const tenant = await organization(t, "Trust TF");
    org = tenant.client;
    apiKey = (await t.admin.createApiKey(tenant.orgId, { name: "terraform" })).secret;
    anonymous = new CapyClient({ baseUrl: t.url, retries: 0 });
    projectId = (await readyProject(org, "trusting")).project.id;
    root = tempRoot("capydb-tf-trust-");
    ({ cliConfig } = await prepareMirror(root));
    main = new Workspace(root, "main", { TF_CLI_CONFIG_FILE: cliConfig, TF_VAR_capydb_api_key: apiKey });
    main.write(mainConfig());
    const init = await main.run(["init", "-input=false"]);
    expect(init.code, explain(init)).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([org?.close(), anonymous?.close()]);
    await t?.stop();
    await issuer?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it("applies two policies; the API lists them as written and the state as the API does; the next plan shows no changes", async () => {
    const r = await apply(main);
    expect(r.stdout).toContain("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.");
    const state = await main.state();
    const ci = state["capydb_trust_policy.ci"];
    const staging = state["capydb_trust_policy.staging"];
    ids.ci = ci.id as string;
    ids.staging = staging.id as string;
    expect(ci).toMatchObject({
      id: expect.stringMatching(/^tp_/),
      project_id: projectId,
      oidc_provider: "github",
      repository: "octo-org/octo-repo",
      repository_id: null,
      refs: ["refs/heads/main", "refs/pull/*/merge"],
      environments: null,
      events: ["pull_request", "push"],
      commands: ["create", "delete"],
      allow_forks: false,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(staging).toMatchObject({
      repository: "octo-org/deployer",
      repository_id: "987654",
      refs: null,
      environments: ["staging"],
      events: null,
      commands: [...TRUST_POLICY_COMMANDS],
      allow_forks: true,
    });

    const policies = await listed();
    expect(policies.map((p) => p.id).sort()).toEqual([ids.ci, ids.staging].sort());
    for (const p of policies) expect(asState(p)).toEqual(state[`capydb_trust_policy.${p.id === ids.ci ? "ci" : "staging"}`]);

    await noChanges(main);
  }, 180_000);

  it("trusts the workflow it describes; the repository id the first exchange pins reaches the state with no change planned", async () => {
    const token = await issuer.sign(githubClaims({ repository: "octo-org/octo-repo", ref: "refs/pull/7/merge", event_name: "pull_request" }), {
      audience: t.url,
    });
    const granted = await anonymous.exchangeGitHubOidcToken({ token, project_id: projectId });
    expect(granted).toMatchObject({ project_id: projectId, commands: ["create", "delete"] });
    exchangedToken = granted.access_token;

    await noChanges(main);
    await apply(main, ["-refresh-only"]);
    expect((await main.state())["capydb_trust_policy.ci"]).toMatchObject({ id: ids.ci, repository_id: "4242" });
    await noChanges(main);
  }, 120_000);

  it('imports by the policy id, or "<project_id>/<policy_id>", into a new workspace, which plans no changes; other ids are refused, saying why', async () => {
    const imported = new Workspace(root, "imported", { TF_CLI_CONFIG_FILE: cliConfig, TF_VAR_capydb_api_key: apiKey });
    imported.write(mainConfig());
    const init = await imported.run(["init", "-input=false"]);
    expect(init.code, explain(init)).toBe(0);

    // Terraform wraps long details and frames them: compare the words.
    const refusal = async (id: string): Promise<string> => {
      const r = await imported.run(["import", "-input=false", "capydb_trust_policy.ci", id]);
      expect(r.code, explain(r)).toBe(1);
      return r.stderr.replace(/[│╷╵]/g, "").replace(/\s+/g, " ");
    };
    for (const id of [projectId, `${projectId}/`, `a/b/${ids.ci}`]) {
      const err = await refusal(id);
      expect(err).toContain("Invalid import id");
      expect(err).toContain(`Import a capydb_trust_policy by its id, e.g. tp_def456 (or as "<project_id>/<trust_policy_id>"`);
    }
    for (const id of ["tp_nosuchpolicy", `${projectId}/tp_nosuchpolicy`]) {
      expect(await refusal(id)).toContain("Trust policy tp_nosuchpolicy does not exist (or is not visible to this API key).");
    }
    expect(await refusal(`prj_elsewhere/${ids.ci}`)).toContain(
      `Trust policy ${ids.ci} belongs to project ${projectId}, not prj_elsewhere: import it as ${ids.ci} or ${projectId}/${ids.ci}.`,
    );
    expect(await imported.state()).toEqual({});

    for (const [name, id] of [
      ["ci", ids.ci],
      ["staging", `${projectId}/${ids.staging}`],
    ]) {
      const r = await imported.run(["import", "-input=false", `capydb_trust_policy.${name}`, id]);
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout).toContain("Import successful!");
    }
    const state = await imported.state();
    expect(state["capydb_trust_policy.ci"]).toEqual((await main.state())["capydb_trust_policy.ci"]);
    expect(state["capydb_trust_policy.staging"]).toEqual((await main.state())["capydb_trust_policy.staging"]);
    await noChanges(imported);
  }, 180_000);

  it("replaces the policy when refs change: a new policy with the new refs, the old one gone and its tokens refused", async () => {
    refs.splice(1, 1);
    main.write(mainConfig());
    const plan = await main.run(["plan", "-detailed-exitcode", "-input=false"]);
    expect(plan.code, explain(plan)).toBe(2);
    expect(plan.stdout).toContain("# capydb_trust_policy.ci must be replaced");
    expect(plan.stdout).toMatch(/~ refs\s+= \[ # forces replacement/);
    expect(plan.stdout).toContain("Plan: 1 to add, 0 to change, 1 to destroy.");

    const r = await apply(main);
    expect(r.stdout).toContain("Resources: 1 added, 0 changed, 1 destroyed.");
    const ci = (await main.state())["capydb_trust_policy.ci"];
    expect(ci.id).not.toBe(ids.ci);
    const policies = await listed();
    expect(policies.map((p) => p.id)).not.toContain(ids.ci);
    expect(policies.find((p) => p.id === ci.id)).toMatchObject({ refs: ["refs/heads/main"], repository_id: null });
    ids.ci = ci.id as string;

    const holder = new CapyClient({ baseUrl: t.url, apiKey: exchangedToken, retries: 0 });
    const err = await holder.getProject(projectId).catch((e: unknown) => e);
    await holder.close();
    expect(err).toBeInstanceOf(CapyApiError);
    expect((err as CapyApiError).status).toBe(401);
    await noChanges(main);
  }, 180_000);

  it("refuses bad arguments at plan, each diagnostic naming the attribute or the list entry", async () => {
    const bad = new Workspace(root, "bad", { TF_CLI_CONFIG_FILE: cliConfig, TF_VAR_capydb_api_key: apiKey });
    bad.write(
      config(t.url, {
        x: `  project_id    = "${projectId}"
  repository    = "not-a-repository"
  repository_id = "12ab"
  oidc_provider = "gitlab"
  refs          = ["refs/heads/feat*", "refs/heads/main", "refs/heads/main", "main"]
  events        = []
  commands      = ["create", "drop"]
  environments  = [" staging"]`,
      }),
    );
    const init = await bad.run(["init", "-input=false"]);
    expect(init.code, explain(init)).toBe(0);
    const plan = await bad.run(["plan", "-input=false"]);
    expect(plan.code, explain(plan)).toBe(1);
    // Terraform wraps long details and frames them: compare the words.
    const err = plan.stderr.replace(/[│╷╵]/g, "").replace(/\s+/g, " ");
    for (const expected of [
      'repository: must be a GitHub repository as "owner/repo" (got "not-a-repository")',
      "repository_id: must be GitHub's numeric repository id",
      'oidc_provider: Invalid input: expected "github" (got "gitlab")',
      'refs[0]: "*" may only stand for a whole path segment',
      'refs[2]: "refs/heads/main" is already listed (refs[1])',
      'refs[3]: must be a full ref starting with "refs/"',
      "events: must not be empty: omit it to allow any",
      'commands[1]: Invalid option: expected one of "create"|"reset"|"delete"|"extend"|"check"|"cutover" (got "drop")',
      'environments[0]: must not start or end with whitespace (got " staging")',
    ]) {
      expect(err).toContain(expected);
    }
    expect(err).toMatch(/\d+: repository = "not-a-repository"/);
    expect(err).toMatch(/\d+: commands = \["create", "drop"\]/);
    expect(await listed()).toHaveLength(2);
  }, 120_000);

  it("drops a policy deleted behind Terraform's back from the state at the next refresh, and the next apply makes it again", async () => {
    await org.deleteTrustPolicy(ids.staging);
    const plan = await main.run(["plan", "-detailed-exitcode", "-input=false"]);
    expect(plan.code, explain(plan)).toBe(2);
    expect(plan.stdout).toContain("# capydb_trust_policy.staging will be created");

    await apply(main, ["-refresh-only"]);
    const listedInState = await main.run(["state", "list"]);
    expect(listedInState.stdout.split("\n").filter(Boolean)).toEqual(["capydb_trust_policy.ci"]);

    const r = await apply(main);
    expect(r.stdout).toContain("Resources: 1 added, 0 changed, 0 destroyed.");
    const staging = (await main.state())["capydb_trust_policy.staging"];
    expect(staging.id).not.toBe(ids.staging);
    expect((await listed()).map((p) => p.id).sort()).toEqual([ids.ci, staging.id].sort());
  }, 180_000);

  it("destroys every policy: the API lists none", async () => {
    const r = await main.run(["destroy", "-auto-approve", "-input=false"]);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toContain("Destroy complete! Resources: 2 destroyed.");
    expect(await listed()).toEqual([]);
  }, 120_000);
});
