// A create that fails after the server made the object: the server's provisioning job fails (an
// injected fault), apply reports the job's error, and the project stays in Terraform's state as
// tainted, so the next plan replaces it and destroy removes it: nothing is orphaned.
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapyClient } from "@capydb/api";
import { startTestServer, type TestServer } from "../../../test/harness/server.js";
import { Workspace, explain, prepareMirror, tempRoot, terraformVersion } from "./terraform-cli.js";

const tfVersion = await terraformVersion();
if (!tfVersion) console.warn("failure.test.ts: skipped: no `terraform` on the PATH (install Terraform 1.11.4 to run these tests)");

describe.skipIf(!tfVersion)("a create whose server job fails", () => {
  let t: TestServer;
  let org: CapyClient;
  let root: string;
  let ws: Workspace;

  beforeAll(async () => {
    t = await startTestServer({ CAPYDB_FAULTS: "project.create.after_database=permanent" });
    const orgId = (await t.admin.createOrganization({ name: "Failures" })).organization.id;
    const apiKey = (await t.admin.createApiKey(orgId, { name: "terraform" })).secret;
    org = new CapyClient({ baseUrl: t.url, apiKey, retries: 0 });
    root = tempRoot("capydb-tf-fail-");
    const cli = await prepareMirror(root);
    ws = new Workspace(root, "ws", { TF_CLI_CONFIG_FILE: cli.cliConfig, CAPYDB_API_URL: t.url, CAPYDB_API_KEY: apiKey });
    ws.write(`
terraform {
  required_providers {
    capydb = { source = "capydb/capydb" }
  }
}
provider "capydb" {}
resource "capydb_project" "p" {
  name = "doomed"
}
`);
  }, 120_000);

  afterAll(async () => {
    await org?.close();
    await t?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it("keeps the project in the state as tainted, replaces it next time, and destroys it", async () => {
    expect((await ws.run(["init", "-input=false"])).code).toBe(0);
    const apply = await ws.run(["apply", "-auto-approve", "-input=false"]);
    expect(apply.code, explain(apply)).toBe(1);
    expect(apply.stderr).toContain("Error: CapyDB job project.create failed");
    // Terraform wraps long lines.
    expect(apply.stderr).toMatch(/failed: injected failure at\s+project\.create\.after_database/);

    const state = await ws.run(["show", "-json"], { noColorFlag: false });
    const resources = (
      JSON.parse(state.stdout) as { values: { root_module: { resources: Array<{ address: string; tainted?: boolean; values: Record<string, unknown> }> } } }
    ).values.root_module.resources;
    expect(resources).toHaveLength(1);
    expect(resources[0]).toMatchObject({ address: "capydb_project.p", tainted: true, values: { name: "doomed", state: "failed" } });
    const id = resources[0].values.id as string;
    expect((await org.getProject(id)).project.state).toBe("failed");

    const plan = await ws.run(["plan", "-detailed-exitcode", "-input=false"]);
    expect(plan.code, explain(plan)).toBe(2);
    expect(plan.stdout).toContain("# capydb_project.p is tainted, so must be replaced");

    const destroy = await ws.run(["destroy", "-auto-approve", "-input=false"]);
    expect(destroy.code, explain(destroy)).toBe(0);
    expect((await org.getProject(id)).project.state).toBe("deleted");
  }, 180_000);
});
