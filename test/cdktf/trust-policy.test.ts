// CapyTrustPolicy and CapyProject.trustGitHub: what they synthesize (Testing.synth), the tokens
// they expose, and the validation of their props at synth time — each problem named by its prop —
// agreeing with the API's request schema and with the provider's own plan-time checks.
import { TerraformOutput, TerraformStack, TerraformVariable, Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { CreateTrustPolicyRequest, TRUST_POLICY_COMMANDS as API_COMMANDS } from "@capydb/api";
import {
  CapyProject,
  CapyProvider,
  CapyTrustPolicy,
  type CapyTrustPolicyCommand,
  type CapyTrustPolicyProps,
  TRUST_POLICY_COMMANDS,
  capydb,
} from "@capydb/cdktf-constructs";
import { validateTrustPolicy } from "../../packages/terraform-provider/src/resources/trust-policy.js";
import { testingApp } from "./support.js";

const { TrustPolicy } = capydb.trustPolicy;
const { CapydbProvider } = capydb.provider;

function stack(): TerraformStack {
  const s = new TerraformStack(testingApp(), "test");
  new CapyProvider(s, "capydb");
  return s;
}

/** Synthesizes with validations on, as `app.synth()` and `cdktf synth` do. */
function synth(s: TerraformStack): string {
  return Testing.synth(s, true);
}

/** The synthesized capydb_trust_policy resources, by logical id. */
function policies(synthesized: string): Record<string, Record<string, unknown>> {
  return JSON.parse(synthesized).resource.capydb_trust_policy as Record<string, Record<string, unknown>>;
}

/** The message synth fails with. */
function synthError(s: TerraformStack): string {
  try {
    synth(s);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("synth succeeded");
}

describe("CapyTrustPolicy", () => {
  it("synthesizes capydb_trust_policy with every prop, and exposes its id, import id, repository id and creation time as tokens", () => {
    const s = stack();
    const policy = new CapyTrustPolicy(s, "ci", {
      project: "prj_123",
      repository: "acme/shop",
      repositoryId: 123456789,
      refs: ["refs/pull/*/merge", "refs/heads/main"],
      environments: ["preview"],
      events: ["pull_request", "push"],
      commands: ["create", "reset", "delete"],
      allowForks: true,
    });
    for (const [name, value] of Object.entries({
      id: policy.trustPolicyId,
      import_id: policy.importId,
      repository_id: policy.repositoryId,
      created_at: policy.createdAt,
    })) {
      new TerraformOutput(s, name, { value });
    }
    const out = synth(s);
    expect(out).toHaveResourceWithProperties(TrustPolicy, {
      project_id: "prj_123",
      repository: "acme/shop",
      repository_id: "123456789",
      refs: ["refs/pull/*/merge", "refs/heads/main"],
      environments: ["preview"],
      events: ["pull_request", "push"],
      commands: ["create", "reset", "delete"],
      allow_forks: true,
    });
    const [logicalId] = Object.keys(policies(out));
    const ref = (attribute: string) => `\${capydb_trust_policy.${logicalId}.${attribute}}`;
    expect(JSON.parse(out).output).toEqual({
      id: { value: ref("id") },
      import_id: { value: ref("id") },
      repository_id: { value: ref("repository_id") },
      created_at: { value: ref("created_at") },
    });
  });

  it("leaves out what is not given (the server's defaults: any ref, environment and event; every command), and writes allow_forks false", () => {
    const s = stack();
    new CapyTrustPolicy(s, "any", { project: "prj_123", repository: "acme/shop" });
    const [policy] = Object.values(policies(synth(s)));
    expect(policy).toEqual({ project_id: "prj_123", repository: "acme/shop", allow_forks: false });
    expect(TRUST_POLICY_COMMANDS).toEqual(API_COMMANDS);
  });

  it("takes a CapyProject and an aliased provider", () => {
    const s = stack();
    const other = new CapyProvider(s, "other", { alias: "other", apiUrl: "https://capydb.other.example" });
    const db = new CapyProject(s, "db", { name: "shop" });
    new CapyTrustPolicy(s, "ci", { project: db, repository: "acme/shop", provider: other });
    const out = synth(s);
    expect(out).toHaveProviderWithProperties(CapydbProvider, { alias: "other" });
    const [policy] = Object.values(policies(out));
    expect(policy).toMatchObject({ provider: "capydb.other", project_id: expect.stringMatching(/^\$\{capydb_project\.\w+\.id\}$/) });
  });
});

describe("CapyProject.trustGitHub", () => {
  it("declares a policy scoped to the project, with the project's provider, under a stable id; the same repository may be trusted twice", () => {
    const s = stack();
    const other = new CapyProvider(s, "other", { alias: "other" });
    const db = new CapyProject(s, "db", { name: "shop", provider: other });
    const previews = db.trustGitHub("acme/shop", { refs: ["refs/pull/*/merge"], events: ["pull_request"], commands: ["create", "reset", "delete"] });
    const cutovers = db.trustGitHub("acme/shop", { refs: ["refs/heads/main"], commands: ["cutover"] });
    const deployer = db.trustGitHub("acme/deployer");
    expect(previews.node.id).toBe("TrustGitHub-acme--shop");
    expect(cutovers.node.id).toBe("TrustGitHub-acme--shop-2");
    expect(deployer.node.id).toBe("TrustGitHub-acme--deployer");
    expect(db.trustPolicies).toEqual([previews, cutovers, deployer]);

    const out = synth(s);
    const projectIds = Object.keys(JSON.parse(out).resource.capydb_project as object);
    const ref = `\${capydb_project.${projectIds[0]}.id}`;
    expect(out).toHaveResourceWithProperties(TrustPolicy, {
      project_id: ref,
      repository: "acme/shop",
      refs: ["refs/pull/*/merge"],
      events: ["pull_request"],
      commands: ["create", "reset", "delete"],
      provider: "capydb.other",
    });
    expect(out).toHaveResourceWithProperties(TrustPolicy, { project_id: ref, repository: "acme/shop", refs: ["refs/heads/main"], commands: ["cutover"] });
    expect(out).toHaveResourceWithProperties(TrustPolicy, { project_id: ref, repository: "acme/deployer", allow_forks: false });
    expect(Object.keys(policies(out))).toHaveLength(3);
  });

  it("reports every bad prop at synth, naming it, under the policy's path", () => {
    const s = stack();
    const db = new CapyProject(s, "db", { name: "shop" });
    db.trustGitHub("acme", {
      refs: ["refs/heads/feat*", "main", "refs/heads/main", "refs/heads/main", "refs//x"],
      environments: [" preview", ""],
      events: ["Pull_Request"],
      commands: ["create", "drop" as CapyTrustPolicyCommand],
      repositoryId: "12ab",
    });
    db.trustGitHub("acme/shop", { events: [], commands: ["delete", "delete"] });
    new CapyTrustPolicy(s, "standalone", { project: "", repository: "acme/..", repositoryId: 0 });
    const message = synthError(s);
    for (const expected of [
      '[test/db/TrustGitHub-acme] repository must be a GitHub repository as "owner/repo"; got "acme"',
      '[test/db/TrustGitHub-acme] repositoryId must be GitHub\'s numeric repository id; got "12ab"',
      '[test/db/TrustGitHub-acme] refs[0] "*" may only stand for a whole path segment (refs/heads/*, not refs/heads/feat*), and no segment may be empty; got "refs/heads/feat*"',
      '[test/db/TrustGitHub-acme] refs[1] must be a full ref starting with "refs/" (refs/heads/main, refs/pull/*/merge); got "main"',
      '[test/db/TrustGitHub-acme] refs[3]: "refs/heads/main" is already listed (refs[2])',
      '[test/db/TrustGitHub-acme] refs[4] must be a full ref starting with "refs/" (refs/heads/main, refs/pull/*/merge); got "refs//x"',
      '[test/db/TrustGitHub-acme] environments[0] must not start or end with whitespace; got " preview"',
      '[test/db/TrustGitHub-acme] environments[1] must not be empty; got ""',
      '[test/db/TrustGitHub-acme] events[0] must be a GitHub Actions event name such as pull_request or push; got "Pull_Request"',
      '[test/db/TrustGitHub-acme] commands[1] must be one of "create", "reset", "delete", "extend", "check", "cutover"; got "drop"',
      "[test/db/TrustGitHub-acme--shop] events must not be empty: leave it out to allow any",
      '[test/db/TrustGitHub-acme--shop] commands[1]: "delete" is already listed (commands[0])',
      '[test/standalone] project must not be empty; got ""',
      '[test/standalone] repository must be a GitHub repository as "owner/repo"; got "acme/.."',
      "[test/standalone] repositoryId must be GitHub's numeric repository id; got 0",
    ]) {
      expect(message).toContain(expected);
    }
  });

  it("app.synth() (what `cdktf synth` runs) fails the same way", () => {
    const app = testingApp();
    const s = new TerraformStack(app, "test");
    new CapyProvider(s, "capydb");
    new CapyProject(s, "db", { name: "shop" }).trustGitHub("acme/shop", { commands: ["merge" as CapyTrustPolicyCommand] });
    expect(() => app.synth()).toThrow(/commands\[0\] must be one of "create", .*; got "merge"/);
  });

  it("stays out of the way of tokens: a repository, a list or an entry known only to Terraform passes unchecked", () => {
    const s = stack();
    const repository = new TerraformVariable(s, "repository", { type: "string" });
    const refs = new TerraformVariable(s, "refs", { type: "list(string)" });
    const environment = new TerraformVariable(s, "environment", { type: "string" });
    const repositoryId = new TerraformVariable(s, "repository_id", { type: "number" });
    const db = new CapyProject(s, "db", { name: "shop" });
    const policy = db.trustGitHub(repository.stringValue, {
      refs: refs.listValue,
      environments: [environment.stringValue, "preview"],
      repositoryId: repositoryId.numberValue,
    });
    expect(policy.node.id).toBe("TrustGitHub0");
    const [synthesized] = Object.values(policies(synth(s)));
    expect(synthesized).toMatchObject({
      repository: "${var.repository}",
      refs: "${var.refs}",
      environments: ["${var.environment}", "preview"],
      repository_id: "${var.repository_id}",
    });
  });
});

describe("the trust policy checks agree with the API's request schema and the provider's plan-time checks", () => {
  /** True when the construct reports a problem for `props` (synth fails). */
  function refused(props: Omit<CapyTrustPolicyProps, "project">): boolean {
    const s = stack();
    new CapyTrustPolicy(s, "p", { project: "prj_1", ...props });
    try {
      synth(s);
      return false;
    } catch {
      return true;
    }
  }

  /** The provider's answer for the same arguments, as `terraform validate` would get them. */
  async function providerRefuses(body: Record<string, unknown>): Promise<boolean> {
    const config = {
      project_id: "prj_1",
      oidc_provider: null,
      repository_id: null,
      refs: null,
      environments: null,
      events: null,
      commands: null,
      allow_forks: null,
    };
    return (await validateTrustPolicy({ ...config, ...body } as never)).length > 0;
  }

  // `stricter`: the API accepts it, but the provider refuses it (whitespace that could never match
  // a claim, an entry listed twice, which the server would drop and Terraform's state would miss).
  const cases: Array<{ body: Record<string, unknown>; stricter?: true }> = [
    { body: { repository: "acme/shop" } },
    { body: { repository: "Acme-Corp/shop.api_v2" } },
    { body: { repository: "a/b" } },
    { body: { repository: `${"a".repeat(39)}/x` } },
    { body: { repository: `${"a".repeat(40)}/x` } },
    { body: { repository: `a/${"x".repeat(100)}` } },
    { body: { repository: `a/${"x".repeat(101)}` } },
    { body: { repository: "-acme/shop" } },
    { body: { repository: "acme_corp/shop" } },
    { body: { repository: "acme/." } },
    { body: { repository: "acme/.." } },
    { body: { repository: "acme/.github" } },
    { body: { repository: "acme" } },
    { body: { repository: "acme/shop/x" } },
    { body: { repository: "" } },
    { body: { repository: "acme/shop", repository_id: "123456789" } },
    { body: { repository: "acme/shop", repository_id: "0123" } },
    { body: { repository: "acme/shop", repository_id: "12ab" } },
    { body: { repository: "acme/shop", repository_id: "1".repeat(20) } },
    { body: { repository: "acme/shop", repository_id: "1".repeat(21) } },
    { body: { repository: "acme/shop", refs: ["refs/heads/main", "refs/pull/*/merge", "refs/tags/*"] } },
    { body: { repository: "acme/shop", refs: ["refs/*/*/*"] } },
    { body: { repository: "acme/shop", refs: ["refs/heads/feat*"] } },
    { body: { repository: "acme/shop", refs: ["refs/heads/**"] } },
    { body: { repository: "acme/shop", refs: ["refs/heads//main"] } },
    { body: { repository: "acme/shop", refs: ["refs/heads/"] } },
    { body: { repository: "acme/shop", refs: ["refs/"] } },
    { body: { repository: "acme/shop", refs: ["refs//x"] } },
    { body: { repository: "acme/shop", refs: ["heads/main"] } },
    { body: { repository: "acme/shop", refs: ["refs/heads/main\n"] } },
    { body: { repository: "acme/shop", refs: [`refs/heads/${"x".repeat(245)}`] } },
    { body: { repository: "acme/shop", refs: [`refs/heads/${"x".repeat(246)}`] } },
    { body: { repository: "acme/shop", refs: [] } },
    { body: { repository: "acme/shop", refs: Array.from({ length: 50 }, (_, i) => `refs/heads/b${i}`) } },
    { body: { repository: "acme/shop", refs: Array.from({ length: 51 }, (_, i) => `refs/heads/b${i}`) } },
    { body: { repository: "acme/shop", refs: ["refs/heads/main", "refs/heads/main"] }, stricter: true },
    { body: { repository: "acme/shop", refs: ["refs/heads/main "] }, stricter: true },
    { body: { repository: "acme/shop", environments: ["staging", "Production EU"] } },
    { body: { repository: "acme/shop", environments: [""] } },
    { body: { repository: "acme/shop", environments: ["x".repeat(255)] } },
    { body: { repository: "acme/shop", environments: ["x".repeat(256)] } },
    { body: { repository: "acme/shop", environments: ["tab\there"] } },
    { body: { repository: "acme/shop", environments: [" staging"] }, stricter: true },
    { body: { repository: "acme/shop", environments: ["staging", "staging"] }, stricter: true },
    { body: { repository: "acme/shop", events: ["pull_request", "push", "workflow_dispatch"] } },
    { body: { repository: "acme/shop", events: ["Push"] } },
    { body: { repository: "acme/shop", events: ["pull-request"] } },
    { body: { repository: "acme/shop", events: ["x".repeat(65)] } },
    { body: { repository: "acme/shop", events: [] } },
    { body: { repository: "acme/shop", commands: [...API_COMMANDS] } },
    { body: { repository: "acme/shop", commands: ["Create"] } },
    { body: { repository: "acme/shop", commands: ["merge"] } },
    { body: { repository: "acme/shop", commands: [] } },
    { body: { repository: "acme/shop", commands: ["check", "check"] }, stricter: true },
    { body: { repository: "acme/shop", allow_forks: true } },
  ];
  const label = (body: Record<string, unknown>) => {
    const text = JSON.stringify(body);
    return text.length > 100 ? `${text.slice(0, 97)}...` : text;
  };
  it.each(cases.map((c) => [label(c.body), c] as const))("%s", async (_label, { body, stricter }) => {
    const api = CreateTrustPolicyRequest.safeParse(body).success;
    const provider = await providerRefuses(body);
    const construct = refused({
      repository: body.repository as string,
      repositoryId: body.repository_id as string | undefined,
      refs: body.refs as string[] | undefined,
      environments: body.environments as string[] | undefined,
      events: body.events as string[] | undefined,
      commands: body.commands as CapyTrustPolicyCommand[] | undefined,
      allowForks: body.allow_forks as boolean | undefined,
    });
    expect(provider).toBe(!api || stricter === true);
    expect(construct).toBe(provider);
  });

  it.each([
    [123456789, true],
    [0, false],
    [-5, false],
    [1.5, false],
    [Number.MAX_SAFE_INTEGER, true],
  ])("repository id as a number %d: accepted %s", (repositoryId, accepted) => {
    expect(CreateTrustPolicyRequest.safeParse({ repository: "acme/shop", repository_id: repositoryId }).success).toBe(accepted);
    expect(refused({ repository: "acme/shop", repositoryId })).toBe(!accepted);
  });
});
