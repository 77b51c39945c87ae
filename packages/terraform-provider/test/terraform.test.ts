// The provider under the real Terraform CLI, against a real CapyDB server on real PostgreSQL.
//
// One story, in order: init from a filesystem mirror → apply (project, schedule, two extensions,
// a preview) → no changes → an in-place update and a planned replacement → bad configuration →
// import into a second workspace → masking rules on that project (a workspace of their own: they
// need a table the test creates between the applies) → the project deleted behind Terraform's
// back → destroy. Every Terraform run of the main workspace logs at TF_LOG=trace, and the last
// test searches those logs for the API key.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapyClient } from "@capydb/api";
import { adminQuery, startTestServer, type TestServer } from "../../../test/harness/server.js";
import { databaseExists } from "../../../test/harness/sql.js";
import { BUNDLE_NAME } from "../src/bundle.js";
import { currentPlatform } from "../src/mirror.js";
import { PROVIDER_ADDRESS, PROVIDER_VERSION } from "../src/registry.js";
import { type RunResult, Workspace, explain, prepareMirror, providerBlocks, tempRoot, terraformVersion } from "./terraform-cli.js";

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
  return `${providerBlocks(url, { version: PROVIDER_VERSION })}
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

interface MaskingRuleHcl {
  table: string;
  column: string;
  strategy: string;
  value?: string;
  days?: number;
}

/** A configuration holding only the masking rules of an existing project (by id). */
function maskingConfig(url: string, projectId: string, rules: MaskingRuleHcl[], requireCoverage?: boolean): string {
  const hcl = (r: MaskingRuleHcl) =>
    `    { ${Object.entries(r)
      .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
      .join(", ")} },`;
  return `
terraform {
  required_providers {
    capydb = { source = "capydb/capydb" }
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

resource "capydb_masking_rules" "m" {
  project_id = "${projectId}"
  rules = [
${rules.map(hcl).join("\n")}
  ]${requireCoverage === undefined ? "" : `\n  require_coverage = ${requireCoverage}`}
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
    // the role's password, and the same login through PgBouncer when the server runs one
    expect(typeof p.password === "string" && p.password.length >= 16).toBe(true);
    expect(decodeURIComponent(new URL(p.connection_uri as string).password)).toBe(p.password);
    if (p.pooled_port) {
      const pooled = new URL(p.pooled_connection_uri as string);
      expect(Number(pooled.port)).toBe(p.pooled_port);
      expect(decodeURIComponent(pooled.password)).toBe(p.password);
    } else {
      expect(p.pooled_connection_uri).toBeNull();
    }
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

  describe("capydb_masking_rules", () => {
    let masking: Workspace;
    /** "users" unqualified in the first rule: the server answers public.users, the state keeps "users". */
    const first: MaskingRuleHcl[] = [
      { table: "users", column: "email", strategy: "email" },
      { table: "public.users", column: "born", strategy: "date_shift", days: 30 },
    ];
    const second: MaskingRuleHcl[] = [
      { table: "users", column: "email", strategy: "email" },
      { table: "public.users", column: "born", strategy: "date_shift", days: 90 },
      { table: "public.users", column: "full_name", strategy: "name" },
      { table: "public.users", column: "plan", strategy: "constant", value: "free" },
    ];
    const tfm = async (args: string[]) => {
      const r = await masking.run(args, { trace: true });
      outputs.push(r);
      return r;
    };

    beforeAll(async () => {
      // Masking rules are checked against the project's tables: give it one, owned by its role.
      await adminQuery(
        ids.databaseName,
        `CREATE TABLE public.users (id bigint PRIMARY KEY, email text NOT NULL, full_name text, phone text, born date, plan text NOT NULL DEFAULT 'pro');
         INSERT INTO public.users VALUES (1, 'ada@example.com', 'Ada Lovelace', '+44 20 7946 0000', '1815-12-10', 'pro');
         ALTER TABLE public.users OWNER TO "${ids.roleName}"`,
      );
      masking = new Workspace(root, "masking", { TF_CLI_CONFIG_FILE: cli.cliConfig, TF_VAR_capydb_api_key: apiKey });
      masking.write(maskingConfig(t.url, ids.project, first));
      const init = await masking.run(["init", "-input=false"]);
      expect(init.code, explain(init)).toBe(0);
    }, 120_000);

    afterAll(() => {
      if (masking) main.logFiles.push(...masking.logFiles);
    });

    it("applies the rules (PUT), then plans no changes; the server holds them", async () => {
      masking.write(maskingConfig(t.url, ids.project, first));
      const apply = await tfm(["apply", "-auto-approve", "-input=false"]);
      expect(apply.code, explain(apply)).toBe(0);
      expect(apply.stdout).toContain("Apply complete! Resources: 1 added, 0 changed, 0 destroyed.");

      const m = (await masking.state())["capydb_masking_rules.m"];
      expect(m).toMatchObject({ id: ids.project, project_id: ids.project, require_coverage: false, updated_at: expect.stringMatching(/^\d{4}-/) });
      // The configuration's spelling of the table is kept.
      expect(m.rules).toEqual([
        { table: "users", column: "email", strategy: "email", value: null, days: null },
        { table: "public.users", column: "born", strategy: "date_shift", value: null, days: 30 },
      ]);
      // Columns that look personal and have no rule, as the server sees them.
      expect(m.uncovered_columns).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ table: "public.users", column: "full_name" }),
          expect.objectContaining({ table: "public.users", column: "phone" }),
        ]),
      );

      const { masking_rules } = await org.getMaskingRules(ids.project);
      expect(masking_rules.rules).toEqual([
        { table: "public.users", column: "email", strategy: "email" },
        { table: "public.users", column: "born", strategy: "date_shift", days: 30 },
      ]);
      expect(masking_rules.require_coverage).toBe(false);

      const again = await tfm(["plan", "-detailed-exitcode", "-input=false"]);
      expect(again.code, explain(again)).toBe(0);
      expect(again.stdout).toContain("No changes.");
    }, 180_000);

    it("changes a rule, adds two and requires coverage: one in-place update", async () => {
      masking.write(maskingConfig(t.url, ids.project, second, true));
      const plan = await tfm(["plan", "-detailed-exitcode", "-input=false"]);
      expect(plan.code, explain(plan)).toBe(2);
      expect(plan.stdout).toContain("# capydb_masking_rules.m will be updated in-place");
      expect(plan.stdout).toMatch(/~ days\s+= 30 -> 90/);
      expect(plan.stdout).toMatch(/~ require_coverage\s+= false -> true/);
      expect(plan.stdout).toContain("Plan: 0 to add, 1 to change, 0 to destroy.");

      const apply = await tfm(["apply", "-auto-approve", "-input=false"]);
      expect(apply.code, explain(apply)).toBe(0);
      expect(apply.stdout).toContain("Apply complete! Resources: 0 added, 1 changed, 0 destroyed.");
      const { masking_rules } = await org.getMaskingRules(ids.project);
      expect(masking_rules.rules).toEqual([
        { table: "public.users", column: "email", strategy: "email" },
        { table: "public.users", column: "born", strategy: "date_shift", days: 90 },
        { table: "public.users", column: "full_name", strategy: "name" },
        { table: "public.users", column: "plan", strategy: "constant", value: "free" },
      ]);
      expect(masking_rules.require_coverage).toBe(true);
      const m = (await masking.state())["capydb_masking_rules.m"];
      expect(m.uncovered_columns).toEqual([expect.objectContaining({ table: "public.users", column: "phone", reason: expect.any(String) })]);
      expect(m.updated_at).toBe(masking_rules.updated_at);

      const again = await tfm(["plan", "-detailed-exitcode", "-input=false"]);
      expect(again.code, explain(again)).toBe(0);
      expect(again.stdout).toContain("No changes.");
    }, 180_000);

    it("imports by project id into a new workspace, which then plans no changes", async () => {
      const imported = new Workspace(root, "masking-imported", { TF_CLI_CONFIG_FILE: cli.cliConfig, TF_VAR_capydb_api_key: apiKey });
      // The server answers schema.name: an imported state has it, so this configuration writes it too.
      imported.write(
        maskingConfig(
          t.url,
          ids.project,
          second.map((r) => ({ ...r, table: r.table.includes(".") ? r.table : `public.${r.table}` })),
          true,
        ),
      );
      expect((await imported.run(["init", "-input=false"])).code).toBe(0);
      // An id that is no project of this key is refused, saying so.
      const bad = await imported.run(["import", "-input=false", "capydb_masking_rules.m", "prj_nope"]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain("Cannot import masking rules");

      const r = await imported.run(["import", "-input=false", "capydb_masking_rules.m", ids.project]);
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout).toContain("Import successful!");
      const state = (await imported.state())["capydb_masking_rules.m"];
      expect(state).toMatchObject({ id: ids.project, project_id: ids.project, require_coverage: true });
      expect((state.rules as unknown[]).length).toBe(4);
      const plan = await imported.run(["plan", "-detailed-exitcode", "-input=false"]);
      expect(plan.code, explain(plan)).toBe(0);
      expect(plan.stdout).toContain("No changes.");
      fs.rmSync(path.join(imported.dir, "terraform.tfstate"));
    }, 180_000);

    it("refuses bad rules at plan time, naming the field and quoting the rule; the server's own refusals point at the rule too", async () => {
      const bad = new Workspace(root, "masking-bad", { TF_CLI_CONFIG_FILE: cli.cliConfig, TF_VAR_capydb_api_key: apiKey });
      bad.write(
        maskingConfig(t.url, ids.project, [
          { table: "users", column: "email", strategy: "emial" },
          { table: "users", column: "plan", strategy: "constant" },
          { table: "users", column: "born", strategy: "date_shift", days: 0 },
          { table: "users", column: "full_name", strategy: "name", value: "x" },
          { table: "users", column: "phone", strategy: "redact", days: 3 },
          { table: "public.users", column: "email", strategy: "hash" },
        ]),
      );
      expect((await bad.run(["init", "-input=false"])).code).toBe(0);
      const plan = await bad.run(["plan", "-input=false"], { trace: true });
      outputs.push(plan);
      main.logFiles.push(...bad.logFiles);
      expect(plan.code, explain(plan)).toBe(1);
      expect(plan.stderr).toContain("Error: Invalid masking rule");
      expect(plan.stderr).toContain("with capydb_masking_rules.m,");
      // Terraform quotes the offending rule.
      expect(plan.stderr).toMatch(/\d+:\s+\{ table = "users", column = "email", strategy = "emial" \},/);
      for (const expected of [
        'rules[0].strategy: must be one of "email", "name", "phone", "hash", "redact", "null", "constant", "date_shift" (got "emial")',
        'rules[1].value: is required with strategy "constant"',
        "rules[2].days: must be a whole number of days from 1 to 36500 (got 0)",
        'rules[3].value: is only allowed with strategy "constant" (this rule\'s is "name")',
        'rules[4].days: is only allowed with strategy "date_shift" (this rule\'s is "redact")',
        "rules[5].column: public.users.email already has a rule (rules[0])",
      ]) {
        expect(plan.stderr.replace(/\n/g, " ")).toContain(expected);
      }
      // Plan-time checks cannot know the project's columns: the server refuses at apply.
      bad.write(maskingConfig(t.url, ids.project, [{ table: "users", column: "emial", strategy: "email" }]));
      const apply = await bad.run(["apply", "-auto-approve", "-input=false"], { trace: true });
      outputs.push(apply);
      main.logFiles.push(...bad.logFiles.slice(-1));
      expect(apply.code, explain(apply)).toBe(1);
      expect(apply.stderr).toContain("Error: CapyDB API error (HTTP 400)");
      expect(apply.stderr).toMatch(/\d+:\s+\{ table = "users", column = "emial", strategy = "email" \},/);
      expect(apply.stderr).toContain("rules[0].column: column public.users.emial does not exist");
      expect(Object.keys(await bad.state())).toEqual([]);
      // Nothing changed on the server.
      expect((await org.getMaskingRules(ids.project)).masking_rules.rules).toHaveLength(4);
    }, 180_000);

    it("destroy clears the rules: GET answers rules [] and require_coverage false", async () => {
      const destroy = await tfm(["destroy", "-auto-approve", "-input=false"]);
      expect(destroy.code, explain(destroy)).toBe(0);
      expect(destroy.stdout).toContain("Destroy complete! Resources: 1 destroyed.");
      const { masking_rules } = await org.getMaskingRules(ids.project);
      expect(masking_rules).toMatchObject({ rules: [], require_coverage: false });
      expect(Object.keys(await masking.state())).toEqual([]);

      // Declared again for the next test, which deletes the project behind Terraform's back.
      masking.write(maskingConfig(t.url, ids.project, first));
      const apply = await tfm(["apply", "-auto-approve", "-input=false"]);
      expect(apply.code, explain(apply)).toBe(0);
      expect((await org.getMaskingRules(ids.project)).masking_rules.rules).toHaveLength(2);
    }, 180_000);
  });

  it("plans to create the project again after it was deleted through the API, and does", async () => {
    await org.waitForJob((await org.deleteProject(ids.project)).job.id, { timeoutMs: 60_000 });
    const plan = await tf(["plan", "-detailed-exitcode", "-input=false"]);
    expect(plan.code, explain(plan)).toBe(2);
    expect(plan.stdout).toContain("# capydb_project.p will be created");
    expect(plan.stdout).toContain("Plan: 5 to add, 0 to change, 0 to destroy.");

    // The masking rules went with their project: a refresh drops them from the state.
    const masking = new Workspace(root, "masking", { TF_CLI_CONFIG_FILE: cli.cliConfig, TF_VAR_capydb_api_key: apiKey });
    const gone = await masking.run(["plan", "-detailed-exitcode", "-input=false"]);
    expect(gone.code, explain(gone)).toBe(2);
    expect(gone.stdout).toContain("# capydb_masking_rules.m will be created");
    const refreshed = await masking.run(["apply", "-refresh-only", "-auto-approve", "-input=false"]);
    expect(refreshed.code, explain(refreshed)).toBe(0);
    expect(Object.keys(await masking.state())).toEqual([]);

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
