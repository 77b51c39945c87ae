// The provider under the real Terraform CLI, against a real CapyDB server on real PostgreSQL.
//
// One story, in order: init from a filesystem mirror → apply (project, schedule, two extensions,
// a preview) → no changes → an in-place update and a planned replacement → bad configuration →
// import into a second workspace → the project deleted behind Terraform's back → destroy. Every
// Terraform run of the main workspace logs at TF_LOG=trace, and the last test searches those logs
// for the API key.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapyClient } from "@capydb/api";
import { adminQuery, startTestServer, type TestServer } from "../../../test/harness/server.js";
import { databaseExists } from "../../../test/harness/sql.js";
import { BUNDLE_NAME } from "../src/bundle.js";
import { currentPlatform } from "../src/mirror.js";
import { PROVIDER_ADDRESS, PROVIDER_VERSION } from "../src/registry.js";
import { type RunResult, Workspace, explain, prepareMirror, tempRoot, terraformVersion } from "./terraform-cli.js";

const tfVersion = await terraformVersion();
if (!tfVersion) console.warn("terraform.test.ts: skipped: no `terraform` on the PATH (install Terraform 1.11.4 to run these tests)");

interface ProjectSettings {
  statementTimeout: string;
  region: string;
  /** A timeouts block on the project (an imported object has none in its state). */
  timeouts?: boolean;
}

/** The main configuration; `settings` varies between steps. */
function mainConfig(url: string, s: ProjectSettings): string {
  return `
terraform {
  required_providers {
    capydb = {
      source  = "capydb/capydb"
      version = "${PROVIDER_VERSION}"
    }
  }
}

variable "capydb_api_key" {
  type      = string
  sensitive = true
}

provider "capydb" {
  api_url = "${url}"
  api_key = var.capydb_api_key
}

resource "capydb_project" "p" {
  name              = "tf-e2e"
  region            = "${s.region}"
  statement_timeout = "${s.statementTimeout}"
  max_connections   = 20
${
  s.timeouts === false
    ? ""
    : `
  timeouts {
    create = "5m"
  }`
}
}

resource "capydb_scheduled_backup" "s" {
  project_id     = capydb_project.p.id
  cron_hour      = 3
  cron_minute    = 15
  retention_days = 14
}

resource "capydb_extension" "pgcrypto" {
  project_id = capydb_project.p.id
  name       = "pgcrypto"
}

resource "capydb_extension" "citext" {
  project_id = capydb_project.p.id
  name       = "citext"
}

resource "capydb_preview_database" "pr" {
  project_id  = capydb_project.p.id
  name        = "pr-1"
  ttl_seconds = 3600
  # A copy of the project taken once its extensions are in.
  depends_on = [capydb_extension.pgcrypto, capydb_extension.citext]
}

data "capydb_project" "same" {
  id = capydb_project.p.id
}

data "capydb_backups" "all" {
  project_id = capydb_project.p.id
}

output "database_via_data_source" {
  value = data.capydb_project.same.database_name
}

output "backup_count" {
  value = length(data.capydb_backups.all.backups)
}
`;
}

describe.skipIf(!tfVersion)(`terraform-provider-capydb under ${tfVersion ?? "terraform"}`, () => {
  let t: TestServer;
  let org: CapyClient;
  let apiKey: string;
  let root: string;
  let cli: { mirrorDir: string; cliConfig: string };
  let main: Workspace;
  const settings: ProjectSettings = { statementTimeout: "30s", region: "local" };
  const ids = { project: "", preview: "", databaseName: "", previewDatabase: "", roleName: "" };
  const outputs: RunResult[] = [];

  /** Runs in the main workspace at TF_LOG=trace and keeps the output for the key search. */
  async function tf(args: string[]): Promise<RunResult> {
    const r = await main.run(args, { trace: true });
    outputs.push(r);
    return r;
  }

  beforeAll(async () => {
    t = await startTestServer();
    const orgId = (await t.admin.createOrganization({ name: "Terraform" })).organization.id;
    apiKey = (await t.admin.createApiKey(orgId, { name: "terraform" })).secret;
    org = new CapyClient({ baseUrl: t.url, apiKey, retries: 0 });
    root = tempRoot("capydb-tf-");
    cli = await prepareMirror(root);
    main = new Workspace(root, "main", { TF_CLI_CONFIG_FILE: cli.cliConfig, TF_VAR_capydb_api_key: apiKey });
    main.write(mainConfig(t.url, settings));
  }, 120_000);

  afterAll(async () => {
    await org?.close();
    await t?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it("installs from the filesystem mirror, applies a project, a schedule, two extensions and a preview, then plans no changes", async () => {
    const init = await tf(["init", "-input=false"]);
    expect(init.code, explain(init)).toBe(0);
    expect(init.stdout).toContain(`Installing capydb/capydb v${PROVIDER_VERSION}`);
    expect(init.stdout).toMatch(/Installed capydb\/capydb v0\.1\.0 \(unauthenticated\)/);
    expect(fs.existsSync(path.join(main.dir, ".terraform.lock.hcl"))).toBe(true);

    const apply = await tf(["apply", "-auto-approve", "-input=false"]);
    expect(apply.code, explain(apply)).toBe(0);
    expect(apply.stdout).toContain("Apply complete! Resources: 5 added, 0 changed, 0 destroyed.");

    const state = await main.state();
    const p = state["capydb_project.p"];
    ids.project = p.id as string;
    ids.databaseName = p.database_name as string;
    ids.roleName = p.role_name as string;
    ids.preview = state["capydb_preview_database.pr"].id as string;
    ids.previewDatabase = state["capydb_preview_database.pr"].database_name as string;
    expect(p).toMatchObject({ name: "tf-e2e", state: "ready", statement_timeout: "30s", max_connections: 20, region: "local" });
    expect(p.connection_uri).toMatch(/^postgresql:\/\//);
    expect(state["capydb_extension.pgcrypto"]).toMatchObject({ id: `${ids.project}/pgcrypto`, version: expect.stringMatching(/^\d/) });
    expect(state["capydb_scheduled_backup.s"]).toMatchObject({ project_id: ids.project, cron_hour: 3, cron_minute: 15, is_active: true, retention_days: 14 });
    expect(state["capydb_preview_database.pr"]).toMatchObject({ name: "pr-1", state: "ready", ttl_seconds: 3600, source_kind: "project", mode: "full" });

    // In the server...
    expect((await org.getProject(ids.project)).project).toMatchObject({ state: "ready", statement_timeout: "30s" });
    const schedules = (await org.listScheduledBackups(ids.project)).scheduled_backups;
    expect(schedules).toEqual([expect.objectContaining({ cron_hour: 3, cron_minute: 15, is_active: true, retention_days: 14 })]);
    const enabled = (await org.listExtensions(ids.project)).extensions.filter((e) => e.enabled).map((e) => e.name);
    expect(enabled.filter((n) => n !== "plpgsql").sort()).toEqual(["citext", "pgcrypto"]);
    expect((await org.getPreview(ids.preview)).preview.state).toBe("ready");
    // ...and in PostgreSQL.
    expect(await databaseExists(ids.databaseName)).toBe(true);
    expect(await databaseExists(ids.previewDatabase)).toBe(true);
    const installed = (await adminQuery(ids.databaseName, "SELECT extname FROM pg_extension")).rows.map((r) => r.extname);
    expect(installed).toEqual(expect.arrayContaining(["pgcrypto", "citext"]));
    const inPreview = (await adminQuery(ids.previewDatabase, "SELECT extname FROM pg_extension")).rows.map((r) => r.extname);
    expect(inPreview).toEqual(expect.arrayContaining(["pgcrypto", "citext"]));

    const outputsJson = JSON.parse((await main.run(["output", "-json"], { noColorFlag: false })).stdout) as Record<string, { value: unknown }>;
    expect(outputsJson.database_via_data_source.value).toBe(ids.databaseName);
    expect(outputsJson.backup_count.value).toBe(0);

    const again = await tf(["plan", "-detailed-exitcode", "-input=false"]);
    expect(again.code, explain(again)).toBe(0);
    expect(again.stdout).toContain("No changes.");
  }, 240_000);

  it("prints the same schema as `terraform providers schema -json`", async () => {
    const fromTerraform = await main.run(["providers", "schema", "-json"], { noColorFlag: false });
    expect(fromTerraform.code, explain(fromTerraform)).toBe(0);
    const bundle = path.join(cli.mirrorDir, ...PROVIDER_ADDRESS.split("/"), PROVIDER_VERSION, currentPlatform(), BUNDLE_NAME);
    const { execFile } = await import("node:child_process");
    const ours = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [bundle, "schema"], (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    expect(JSON.parse(ours)).toEqual(JSON.parse(fromTerraform.stdout));
  });

  it("updates statement_timeout in place, and plans a replacement for a new region", async () => {
    settings.statementTimeout = "45s";
    main.write(mainConfig(t.url, settings));
    const plan = await tf(["plan", "-detailed-exitcode", "-input=false"]);
    expect(plan.code, explain(plan)).toBe(2);
    expect(plan.stdout).toContain("# capydb_project.p will be updated in-place");
    expect(plan.stdout).toMatch(/~ statement_timeout\s+= "30s" -> "45s"/);
    expect(plan.stdout).toContain("Plan: 0 to add, 1 to change, 0 to destroy.");

    const apply = await tf(["apply", "-auto-approve", "-input=false"]);
    expect(apply.code, explain(apply)).toBe(0);
    expect(apply.stdout).toContain("Resources: 0 added, 1 changed, 0 destroyed.");
    expect((await org.getProject(ids.project)).project.statement_timeout).toBe("45s");
    const role = await adminQuery("postgres", "SELECT rolconfig FROM pg_roles WHERE rolname = $1", [ids.roleName]);
    expect(role.rows[0].rolconfig).toContain("statement_timeout=45s");

    main.write(mainConfig(t.url, { ...settings, region: "eu-elsewhere" }));
    const replace = await tf(["plan", "-detailed-exitcode", "-input=false"]);
    expect(replace.code, explain(replace)).toBe(2);
    expect(replace.stdout).toContain("# capydb_project.p must be replaced");
    expect(replace.stdout).toMatch(/~ region\s+= "local" -> "eu-elsewhere" # forces replacement/);
    main.write(mainConfig(t.url, settings));
  }, 180_000);

  it("reports bad configuration with a diagnostic naming the attribute", async () => {
    const bad = new Workspace(root, "bad", {
      TF_CLI_CONFIG_FILE: cli.cliConfig,
      // The provider block is empty: the URL and key come from the environment this time.
      CAPYDB_API_URL: t.url,
      CAPYDB_API_KEY: apiKey,
    });
    const providerBlock = `terraform {\n  required_providers {\n    capydb = { source = "capydb/capydb" }\n  }\n}\nprovider "capydb" {}\n`;
    bad.write(`${providerBlock}
resource "capydb_scheduled_backup" "s" {
  project_id  = "${ids.project}"
  cron_hour   = 25
  cron_minute = 0
}
`);
    const init = await bad.run(["init", "-input=false"]);
    expect(init.code, explain(init)).toBe(0);
    const hour = await bad.run(["plan", "-input=false"], { trace: true });
    outputs.push(hour);
    expect(hour.code, explain(hour)).toBe(1);
    expect(hour.stderr).toContain("Error: Invalid attribute value");
    expect(hour.stderr).toContain("with capydb_scheduled_backup.s,");
    expect(hour.stderr).toMatch(/\d+:\s+cron_hour\s+= 25/);
    expect(hour.stderr).toContain("cron_hour: Too big: expected number to be <=23");

    bad.write(`${providerBlock}
resource "capydb_extension" "x" {
  project_id = "${ids.project}"
  name       = "no_such_extension"
}
`);
    const ext = await bad.run(["plan", "-input=false"], { trace: true });
    outputs.push(ext);
    expect(ext.code, explain(ext)).toBe(1);
    expect(ext.stderr).toContain("Error: Unknown extension");
    expect(ext.stderr).toContain("with capydb_extension.x,");
    expect(ext.stderr).toMatch(/\d+:\s+name\s+= "no_such_extension"/);
    expect(ext.stderr).toContain('name: extension "no_such_extension" is not available on this cluster');
    main.logFiles.push(...bad.logFiles);
  }, 120_000);

  it("imports every resource type into a new workspace, which then plans no changes", async () => {
    const imported = new Workspace(root, "imported", { TF_CLI_CONFIG_FILE: cli.cliConfig, TF_VAR_capydb_api_key: apiKey });
    // The same configuration, less the timeouts block: import cannot know it, so keeping it would
    // plan an in-place update that only records the block in the state.
    imported.write(mainConfig(t.url, { ...settings, timeouts: false }));
    const init = await imported.run(["init", "-input=false"]);
    expect(init.code, explain(init)).toBe(0);
    const imports: Array<[string, string]> = [
      ["capydb_project.p", ids.project],
      ["capydb_scheduled_backup.s", ids.project],
      ["capydb_extension.pgcrypto", `${ids.project}/pgcrypto`],
      ["capydb_extension.citext", `${ids.project}/citext`],
      ["capydb_preview_database.pr", ids.preview],
    ];
    for (const [address, id] of imports) {
      const r = await imported.run(["import", "-input=false", address, id]);
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout).toContain("Import successful!");
    }
    const plan = await imported.run(["plan", "-detailed-exitcode", "-input=false"]);
    expect(plan.code, explain(plan)).toBe(0);
    expect(plan.stdout).toContain("No changes.");
    // Two workspaces must not both own these objects: this one forgets them.
    fs.rmSync(path.join(imported.dir, "terraform.tfstate"));
  }, 180_000);

  it("plans to create the project again after it was deleted through the API, and does", async () => {
    await org.waitForJob((await org.deleteProject(ids.project)).job.id, { timeoutMs: 60_000 });
    const plan = await tf(["plan", "-detailed-exitcode", "-input=false"]);
    expect(plan.code, explain(plan)).toBe(2);
    expect(plan.stdout).toContain("# capydb_project.p will be created");
    expect(plan.stdout).toContain("Plan: 5 to add, 0 to change, 0 to destroy.");

    const apply = await tf(["apply", "-auto-approve", "-input=false"]);
    expect(apply.code, explain(apply)).toBe(0);
    const state = await main.state();
    expect(state["capydb_project.p"].id).not.toBe(ids.project);
    ids.project = state["capydb_project.p"].id as string;
    ids.databaseName = state["capydb_project.p"].database_name as string;
    ids.preview = state["capydb_preview_database.pr"].id as string;
    ids.previewDatabase = state["capydb_preview_database.pr"].database_name as string;
    expect(await databaseExists(ids.databaseName)).toBe(true);
  }, 240_000);

  it("destroys everything: the project and preview databases are gone", async () => {
    const destroy = await tf(["destroy", "-auto-approve", "-input=false"]);
    expect(destroy.code, explain(destroy)).toBe(0);
    expect(destroy.stdout).toContain("Destroy complete! Resources: 5 destroyed.");
    expect((await org.getProject(ids.project)).project.state).toBe("deleted");
    expect((await org.getPreview(ids.preview)).preview.state).toBe("deleted");
    expect(await databaseExists(ids.databaseName)).toBe(false);
    expect(await databaseExists(ids.previewDatabase)).toBe(false);
    expect(Object.keys(await main.state())).toEqual([]);
  }, 180_000);

  it("never lets the API key into Terraform's output or its TF_LOG=trace logs", () => {
    expect(main.logFiles.length).toBeGreaterThanOrEqual(8);
    let logged = "";
    for (const file of main.logFiles) logged += fs.readFileSync(file, "utf8");
    // The logs are real: they hold the provider's own lines and the RPCs it served.
    expect(logged).toContain("provider.terraform-provider-capydb");
    expect(logged).toContain("ApplyResourceChange");
    expect(logged.length).toBeGreaterThan(100_000);
    expect(logged.includes(apiKey)).toBe(false);
    for (const r of outputs) {
      expect(r.stdout.includes(apiKey)).toBe(false);
      expect(r.stderr.includes(apiKey)).toBe(false);
    }
  });
});
