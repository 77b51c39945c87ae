// End to end: the example app of cdktf-constructs, synthesized by running it with tsx, applied by
// the real Terraform CLI (provider installed from its filesystem mirror) against a real CapyDB
// server on real PostgreSQL; then a changed backup hour applied in place; then, once the
// application's table exists, the example's masking rules (a CapyMaskingRules) applied; then
// destroyed.
//
// Checks go through the API (the organization's own key) and through psql: as the project's role
// over the connection URI the stack outputs, and on the control-plane database.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CapyClient } from "@capydb/api";
import { adminQuery, startTestServer, type TestServer } from "../harness/server.js";
import { EXAMPLE_STACK, type RunResult, explain, providerMirror, run, synthesizeExample, tempDir, terraformEnv, terraformVersion } from "./support.js";

const tfVersion = await terraformVersion();
if (!tfVersion) console.warn("cdktf e2e.test.ts: skipped: no `terraform` on the PATH (install Terraform 1.11.4 to run it)");

describe.skipIf(!tfVersion)(`the example app under ${tfVersion ?? "terraform"}, against a real server`, () => {
  let t: TestServer;
  let org: CapyClient;
  let apiKey: string;
  let root: string;
  let appDir: string;
  let outDir: string;
  let stackDir: string;
  let env: NodeJS.ProcessEnv;
  const timings: Record<string, number> = {};
  const ids = { project: "", schedule: "", databaseName: "", roleName: "" };
  const projectName = "cdktf-e2e";

  async function tf(args: string[]): Promise<RunResult> {
    const r = await run("terraform", [...args, "-no-color"], { cwd: stackDir, env });
    timings[`${Object.keys(timings).length + 1}. terraform ${args[0]}`] = Math.round(r.ms);
    return r;
  }

  async function outputs(): Promise<Record<string, unknown>> {
    const r = await run("terraform", ["output", "-json"], { cwd: stackDir, env });
    expect(r.code, explain(r)).toBe(0);
    return Object.fromEntries(Object.entries(JSON.parse(r.stdout) as Record<string, { value: unknown }>).map(([k, v]) => [k, v.value]));
  }

  /** psql, the real binary of the harness cluster, run asynchronously (the server is in this process). */
  async function psql(url: string, sql: string): Promise<string[]> {
    const r = await run(path.join(inject("pgBinDir"), "psql"), [url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql], { timeoutMs: 30_000 });
    expect(r.code, explain(r)).toBe(0);
    return r.stdout.split("\n").filter((l) => l !== "");
  }

  async function synth(backupHour: number, masking = false): Promise<void> {
    const started = performance.now();
    ({ stackDir } = await synthesizeExample(appDir, outDir, { projectName, backupHour, masking }));
    timings[`${Object.keys(timings).length + 1}. synth (backupHour ${backupHour}${masking ? ", masking" : ""})`] = Math.round(performance.now() - started);
  }

  beforeAll(async () => {
    t = await startTestServer();
    const orgId = (await t.admin.createOrganization({ name: "CDKTF" })).organization.id;
    apiKey = (await t.admin.createApiKey(orgId, { name: "cdktf" })).secret;
    org = new CapyClient({ baseUrl: t.url, apiKey, retries: 0 });
    root = tempDir("capydb-cdktf-e2e-");
    appDir = path.join(root, "app"); // the app's working directory: its local state file lives here
    outDir = path.join(root, "cdktf.out");
    // The provider configuration is left to the environment, as the example intends.
    env = terraformEnv(await providerMirror(root), { CAPYDB_API_URL: t.url, CAPYDB_API_KEY: apiKey });
  }, 180_000);

  afterAll(async () => {
    console.info(`cdktf e2e timings (ms): ${JSON.stringify(timings)}`);
    await org?.close();
    await t?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it("synthesizes the example by running it, installs the provider from the mirror, and applies: project, pgcrypto, citext, schedule", async () => {
    await synth(3);
    const synthesized = fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8");
    expect(synthesized).not.toContain(apiKey);
    expect(JSON.parse(synthesized).terraform.backend.local.path).toBe(path.join(appDir, `terraform.${EXAMPLE_STACK}.tfstate`));

    const init = await tf(["init", "-input=false"]);
    expect(init.code, explain(init)).toBe(0);
    expect(init.stdout).toMatch(/Installed capydb\/capydb v0\.1\.0 \(unauthenticated\)/);

    const apply = await tf(["apply", "-auto-approve", "-input=false"]);
    expect(apply.code, explain(apply)).toBe(0);
    expect(apply.stdout).toContain("Apply complete! Resources: 4 added, 0 changed, 0 destroyed.");
    expect(apply.stdout).toMatch(/connection_uri = <sensitive>/);

    const out = await outputs();
    ids.project = out.project_id as string;
    ids.databaseName = out.database_name as string;
    ids.roleName = out.role_name as string;
    expect(ids.project).toMatch(/^prj_/);
    expect(out).toMatchObject({ host: expect.any(String), port: expect.any(Number), ssl_mode: expect.any(String), pooled_port: expect.any(Number) });
    expect(out.connection_uri).toMatch(/^postgresql:\/\//);

    // Through the API, with the organization's key.
    const { project } = await org.getProject(ids.project);
    expect(project).toMatchObject({ name: projectName, state: "ready", statement_timeout: "30s", database_name: ids.databaseName });
    const enabled = (await org.listExtensions(ids.project)).extensions.filter((e) => e.enabled).map((e) => e.name);
    expect(enabled).toEqual(expect.arrayContaining(["pgcrypto", "citext"]));
    const schedules = (await org.listScheduledBackups(ids.project)).scheduled_backups;
    expect(schedules).toEqual([expect.objectContaining({ cron_hour: 3, cron_minute: 30, retention_days: 14, is_active: true })]);
    ids.schedule = schedules[0].id;

    // Through psql: as the project's own role, over the URI the stack outputs...
    const uri = out.connection_uri as string;
    expect(await psql(uri, "SELECT extname FROM pg_extension WHERE extname IN ('pgcrypto', 'citext') ORDER BY 1")).toEqual(["citext", "pgcrypto"]);
    expect(await psql(uri, "SELECT length(gen_random_bytes(16)), 'CapyDB'::citext = 'capydb'::citext, current_user")).toEqual([`16|t|${ids.roleName}`]);
    // ...and the schedule as the control plane stored it.
    expect(
      await psql(t.controlUrl, `SELECT cron_hour, cron_minute, retention_days, is_active FROM scheduled_backups WHERE project_id = '${ids.project}'`),
    ).toEqual(["3|30|14|t"]);

    const again = await tf(["plan", "-detailed-exitcode", "-input=false"]);
    expect(again.code, explain(again)).toBe(0);
    expect(again.stdout).toContain("No changes.");
  }, 300_000);

  it("a changed backup hour (re-synthesized) applies in place", async () => {
    await synth(5);
    const plan = await tf(["plan", "-detailed-exitcode", "-input=false"]);
    expect(plan.code, explain(plan)).toBe(2);
    expect(plan.stdout).toMatch(/# capydb_scheduled_backup\.db_BackupSchedule_\w+ will be updated in-place/);
    expect(plan.stdout).toMatch(/~ cron_hour\s+= 3 -> 5/);
    expect(plan.stdout).toContain("Plan: 0 to add, 1 to change, 0 to destroy.");

    const apply = await tf(["apply", "-auto-approve", "-input=false"]);
    expect(apply.code, explain(apply)).toBe(0);
    expect(apply.stdout).toContain("Apply complete! Resources: 0 added, 1 changed, 0 destroyed.");
    const schedules = (await org.listScheduledBackups(ids.project)).scheduled_backups;
    // The same schedule, changed: not a new one.
    expect(schedules).toEqual([expect.objectContaining({ id: ids.schedule, cron_hour: 5, cron_minute: 30, retention_days: 14, is_active: true })]);
    expect(await psql(t.controlUrl, `SELECT id, cron_hour FROM scheduled_backups WHERE project_id = '${ids.project}'`)).toEqual([`${ids.schedule}|5`]);
    expect((await org.getProject(ids.project)).project.state).toBe("ready");
  }, 240_000);

  it("once the application has its users table, the example's masking rules (CapyMaskingRules) apply; then no changes", async () => {
    // What the application's migrations would do, as the project's own role.
    const uri = (await outputs()).connection_uri as string;
    await psql(
      uri,
      `CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, full_name text, born_on date, phone text);
       INSERT INTO users VALUES (1, 'ada@example.com', 'Ada Lovelace', '1815-12-10', '+44 20 7946 0000')`,
    );
    await synth(5, true);
    const plan = await tf(["plan", "-detailed-exitcode", "-input=false"]);
    expect(plan.code, explain(plan)).toBe(2);
    expect(plan.stdout).toMatch(/# capydb_masking_rules\.db_MaskingRules_\w+ will be created/);
    expect(plan.stdout).toContain("Plan: 1 to add, 0 to change, 0 to destroy.");

    const apply = await tf(["apply", "-auto-approve", "-input=false"]);
    expect(apply.code, explain(apply)).toBe(0);
    expect(apply.stdout).toContain("Apply complete! Resources: 1 added, 0 changed, 0 destroyed.");
    const { masking_rules } = await org.getMaskingRules(ids.project);
    expect(masking_rules).toMatchObject({
      rules: [
        { table: "public.users", column: "email", strategy: "email" },
        { table: "public.users", column: "full_name", strategy: "name" },
        { table: "public.users", column: "born_on", strategy: "date_shift", days: 30 },
      ],
      require_coverage: false,
      uncovered_columns: [expect.objectContaining({ table: "public.users", column: "phone" })],
    });
    // The rules as the control plane stored them.
    expect(await psql(t.controlUrl, `SELECT jsonb_array_length(rules), require_coverage FROM masking_rules WHERE project_id = '${ids.project}'`)).toEqual([
      "3|f",
    ]);

    const again = await tf(["plan", "-detailed-exitcode", "-input=false"]);
    expect(again.code, explain(again)).toBe(0);
    expect(again.stdout).toContain("No changes.");
  }, 240_000);

  it("destroy removes everything: masking rules cleared, project deleted, database and role dropped, schedule off", async () => {
    const destroy = await tf(["destroy", "-auto-approve", "-input=false"]);
    expect(destroy.code, explain(destroy)).toBe(0);
    expect(destroy.stdout).toContain("Destroy complete! Resources: 5 destroyed.");
    // The rules were cleared (PUT rules []) before the project went (or went with it).
    const left = await psql(t.controlUrl, `SELECT rules::text, require_coverage FROM masking_rules WHERE project_id = '${ids.project}'`);
    expect([["[]|f"], []]).toContainEqual(left);

    expect((await org.getProject(ids.project)).project.state).toBe("deleted");
    expect((await adminQuery("postgres", "SELECT 1 FROM pg_database WHERE datname = $1", [ids.databaseName])).rowCount).toBe(0);
    expect((await adminQuery("postgres", "SELECT 1 FROM pg_roles WHERE rolname = $1", [ids.roleName])).rowCount).toBe(0);
    // The API has no DELETE for a schedule: the provider deactivates it, and the project is gone.
    expect(await psql(t.controlUrl, `SELECT is_active FROM scheduled_backups WHERE project_id = '${ids.project}'`)).toEqual(["f"]);

    const state = await run("terraform", ["state", "list"], { cwd: stackDir, env });
    expect(state.stdout.trim()).toBe("");
  }, 240_000);
});
