// End to end: a CDKTF stack declaring a project and `project.trustGitHub(...)`, synthesized by
// app.synth(), applied by the real Terraform CLI (provider from its filesystem mirror) against a
// real CapyDB server on real PostgreSQL, with a local stand-in for GitHub's OIDC issuer
// (test/harness/oidc-issuer.ts): the policy is in the API and trusts the workflow it describes;
// `terraform import` with the stack's import id; destroy.
import fs from "node:fs";
import path from "node:path";
import { App, LocalBackend, TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapyApiError, CapyClient } from "@capydb/api";
import { CapyProject, CapyProvider } from "@capydb/cdktf-constructs";
import { githubClaims, startOidcIssuer, type OidcIssuer } from "../harness/oidc-issuer.js";
import { startTestServer, type TestServer } from "../harness/server.js";
import { organization } from "../harness/tenants.js";
import { type RunResult, explain, providerMirror, run, tempDir, terraformEnv, terraformVersion } from "./support.js";

const tfVersion = await terraformVersion();
if (!tfVersion) console.warn("cdktf trust-policy-e2e.test.ts: skipped: no `terraform` on the PATH (install Terraform 1.11.4 to run it)");

const STACK = "trust";

class TrustStack extends TerraformStack {
  constructor(scope: Construct, id: string, stateFile: string) {
    super(scope, id);
    new LocalBackend(this, { path: stateFile });
    // The provider reads CAPYDB_API_URL and CAPYDB_API_KEY when Terraform runs.
    new CapyProvider(this, "capydb");
    const db = new CapyProject(this, "db", { name: "cdktf-trust" });
    const policy = db.trustGitHub("octo-org/octo-repo", { refs: ["refs/heads/main"], commands: ["create", "delete"] });
    new TerraformOutput(this, "project_id", { value: db.projectId });
    new TerraformOutput(this, "trust_policy_id", { value: policy.trustPolicyId });
    new TerraformOutput(this, "import_id", { value: policy.importId });
  }
}

describe.skipIf(!tfVersion)(`project.trustGitHub(...) under ${tfVersion ?? "terraform"}, against a real server`, () => {
  let issuer: OidcIssuer;
  let t: TestServer;
  let org: CapyClient;
  let anonymous: CapyClient;
  let root: string;
  let stackDir: string;
  let env: NodeJS.ProcessEnv;
  const ids = { project: "", policy: "", address: "" };

  const tf = (args: string[]): Promise<RunResult> => run("terraform", [...args, "-no-color"], { cwd: stackDir, env });

  async function outputs(): Promise<Record<string, string>> {
    const r = await run("terraform", ["output", "-json"], { cwd: stackDir, env });
    expect(r.code, explain(r)).toBe(0);
    return Object.fromEntries(Object.entries(JSON.parse(r.stdout) as Record<string, { value: string }>).map(([k, v]) => [k, v.value]));
  }

  async function noChanges(): Promise<void> {
    const plan = await tf(["plan", "-detailed-exitcode", "-input=false"]);
    expect(plan.code, explain(plan)).toBe(0);
    expect(plan.stdout).toContain("No changes.");
  }

  /** Exchanges an ID token of octo-org/octo-repo with these claims for a token of the project. */
  async function exchange(claims: Record<string, unknown>) {
    const token = await issuer.sign(githubClaims({ repository: "octo-org/octo-repo", ...claims }), { audience: t.url });
    return anonymous.exchangeGitHubOidcToken({ token, project_id: ids.project });
  }

  beforeAll(async () => {
    issuer = await startOidcIssuer();
    t = await startTestServer({ CAPYDB_GITHUB_OIDC_ISSUER: issuer.url });
    const tenant = await organization(t, "CDKTF trust");
    org = tenant.client;
    const apiKey = (await t.admin.createApiKey(tenant.orgId, { name: "cdktf" })).secret;
    anonymous = new CapyClient({ baseUrl: t.url, retries: 0 });
    root = tempDir("capydb-cdktf-trust-");
    env = terraformEnv(await providerMirror(root), { CAPYDB_API_URL: t.url, CAPYDB_API_KEY: apiKey });
  }, 180_000);

  afterAll(async () => {
    await Promise.all([org?.close(), anonymous?.close()]);
    await t?.stop();
    await issuer?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it("synthesizes the stack and applies it: the project and its trust policy, which the API lists as declared", async () => {
    const app = new App({ outdir: path.join(root, "cdktf.out") });
    new TrustStack(app, STACK, path.join(root, `terraform.${STACK}.tfstate`));
    app.synth();
    stackDir = path.join(root, "cdktf.out", "stacks", STACK);
    const synthesized = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8"));
    const [[logicalId, policy]] = Object.entries(synthesized.resource.capydb_trust_policy as Record<string, Record<string, unknown>>);
    ids.address = `capydb_trust_policy.${logicalId}`;
    expect(policy).toMatchObject({
      repository: "octo-org/octo-repo",
      refs: ["refs/heads/main"],
      commands: ["create", "delete"],
      allow_forks: false,
      project_id: expect.stringMatching(/^\$\{capydb_project\.\w+\.id\}$/),
    });

    const init = await tf(["init", "-input=false"]);
    expect(init.code, explain(init)).toBe(0);
    const apply = await tf(["apply", "-auto-approve", "-input=false"]);
    expect(apply.code, explain(apply)).toBe(0);
    expect(apply.stdout).toContain("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.");

    const out = await outputs();
    ids.project = out.project_id;
    ids.policy = out.trust_policy_id;
    expect(ids.policy).toMatch(/^tp_/);
    expect(out.import_id).toBe(ids.policy);
    expect((await org.listTrustPolicies(ids.project)).trust_policies).toEqual([
      expect.objectContaining({
        id: ids.policy,
        project_id: ids.project,
        provider: "github",
        repository: "octo-org/octo-repo",
        repository_id: null,
        refs: ["refs/heads/main"],
        environments: null,
        events: null,
        commands: ["create", "delete"],
        allow_forks: false,
      }),
    ]);
    await noChanges();
  }, 300_000);

  it("trusts the workflow it declares, for its commands only, and refuses another ref naming it", async () => {
    const granted = await exchange({ ref: "refs/heads/main", event_name: "push" });
    expect(granted).toMatchObject({ project_id: ids.project, commands: ["create", "delete"] });
    const err = await exchange({ ref: "refs/heads/feature", event_name: "push" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CapyApiError);
    expect(err).toMatchObject({ status: 403 });
    expect((err as CapyApiError).message).toContain("ref: refs/heads/feature matches none of refs/heads/main");
  });

  it("imports back by the import id it outputs, then plans no changes", async () => {
    const importId = (await outputs()).import_id;
    const rm = await tf(["state", "rm", ids.address]);
    expect(rm.code, explain(rm)).toBe(0);
    const imported = await tf(["import", "-input=false", ids.address, importId]);
    expect(imported.code, explain(imported)).toBe(0);
    expect(imported.stdout).toContain("Import successful!");
    // the server pinned the repository id at the exchange: the state shows it, and it is no change
    const shown = await run("terraform", ["state", "show", "-no-color", ids.address], { cwd: stackDir, env });
    expect(shown.stdout).toMatch(/repository_id\s+= "4242"/);
    await noChanges();
  }, 120_000);

  it("destroys the policy and the project", async () => {
    const destroy = await tf(["destroy", "-auto-approve", "-input=false"]);
    expect(destroy.code, explain(destroy)).toBe(0);
    expect(destroy.stdout).toContain("Destroy complete! Resources: 2 destroyed.");
    expect((await org.getProject(ids.project)).project.state).toBe("deleted");
    expect((await org.listTrustPolicies(ids.project)).trust_policies).toEqual([]);
  }, 240_000);
});
