// Unit tests of the hand-written constructs: what each synthesizes (Testing.synth with cdktf's
// toHaveResourceWithProperties matcher), the tokens they expose, and the validation of their props
// at synth time — each problem named by its prop — agreeing with the API's schemas and with the
// provider's own plan-time checks.
import { AnnotationMetadataEntryType, TerraformOutput, TerraformStack, TerraformVariable, Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { CreateProjectRequest, ExtensionName, MaskingStrategy, PutScheduledBackupRequest } from "@capydb/api";
import {
  CapyBackupSchedule,
  type CapyEnvironment,
  CapyExtension,
  type CapyMaskingRule,
  CapyMaskingRules,
  MASKING_STRATEGIES,
  type CapyPlan,
  CapyProject,
  type CapyProjectProps,
  CapyProvider,
  capydb,
} from "@capydb/cdktf-constructs";
import { validateRules } from "../../packages/terraform-provider/src/resources/masking-rules.js";
import { testingApp } from "./support.js";

const { Project } = capydb.project;
const { Extension } = capydb.extension;
const { ScheduledBackup } = capydb.scheduledBackup;
const { MaskingRules } = capydb.maskingRules;
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

/** The `${capydb_project.<logical id>.id}` reference to a project. */
function projectRef(synthesized: string): string {
  const projects = JSON.parse(synthesized).resource.capydb_project as Record<string, unknown>;
  const ids = Object.keys(projects);
  expect(ids).toHaveLength(1);
  return `\${capydb_project.${ids[0]}.id}`;
}

describe("CapyProject", () => {
  it("synthesizes the project with its settings, extensions and backup schedule", () => {
    const s = stack();
    new CapyProject(s, "db", {
      name: "shop",
      organizationId: "org_123",
      region: "local",
      plan: "pro",
      environment: "staging",
      settings: { maxConnections: 20, statementTimeout: "30s", idleTransactionTimeout: "5min", storageLimitBytes: 2_147_483_648 },
      extensions: ["pgcrypto", "citext"],
      backupSchedule: { hour: 3, minute: 30, retentionDays: 14 },
    });
    const out = synth(s);
    expect(out).toHaveResourceWithProperties(Project, {
      name: "shop",
      organization_id: "org_123",
      region: "local",
      plan: "pro",
      environment: "staging",
      max_connections: 20,
      statement_timeout: "30s",
      idle_transaction_timeout: "5min",
      storage_limit_bytes: 2_147_483_648,
    });
    const ref = projectRef(out);
    expect(out).toHaveResourceWithProperties(Extension, { project_id: ref, name: "pgcrypto" });
    expect(out).toHaveResourceWithProperties(Extension, { project_id: ref, name: "citext" });
    expect(out).toHaveResourceWithProperties(ScheduledBackup, { project_id: ref, cron_hour: 3, cron_minute: 30, retention_days: 14, is_active: true });
    expect(out).not.toHaveResourceWithProperties(ScheduledBackup, { cron_hour: 4 });
    // The provider pins the version the bindings were generated from, installed from capydb/capydb.
    expect(JSON.parse(out).terraform.required_providers.capydb).toEqual({ source: "capydb/capydb", version: "0.1.0" });
  });

  it("leaves unset props to the server's defaults (nothing written) and declares nothing optional", () => {
    const s = stack();
    const db = new CapyProject(s, "db", { name: "minimal" });
    const out = JSON.parse(synth(s));
    const [project] = Object.values(out.resource.capydb_project) as Record<string, unknown>[];
    expect(Object.keys(project).filter((k) => k !== "//")).toEqual(["name"]);
    expect(out.resource.capydb_extension).toBeUndefined();
    expect(out.resource.capydb_scheduled_backup).toBeUndefined();
    expect(db.extensions).toEqual([]);
    expect(db.backupSchedule).toBeUndefined();
  });

  it("exposes projectId, databaseName, host, port, pooledPort and connectionUri as tokens other resources use", () => {
    const s = stack();
    const db = new CapyProject(s, "db", { name: "shop" });
    new TerraformOutput(s, "project_id", { value: db.projectId });
    new TerraformOutput(s, "database_name", { value: db.databaseName });
    new TerraformOutput(s, "host", { value: db.host });
    new TerraformOutput(s, "port", { value: db.port });
    new TerraformOutput(s, "pooled_port", { value: db.pooledPort });
    new TerraformOutput(s, "role_name", { value: db.roleName });
    new TerraformOutput(s, "ssl_mode", { value: db.sslMode });
    new TerraformOutput(s, "uri", { value: db.connectionUri, sensitive: true });
    // Another project's extension, wired to this project by token.
    new CapyExtension(s, "elsewhere", { projectId: db.projectId, name: "pg_trgm" });

    const out = synth(s);
    const logicalId = Object.keys(JSON.parse(out).resource.capydb_project)[0];
    const attr = (a: string) => `\${capydb_project.${logicalId}.${a}}`;
    const outputs = JSON.parse(out).output as Record<string, { value: string; sensitive?: boolean }>;
    expect(outputs.project_id.value).toBe(attr("id"));
    expect(outputs.database_name.value).toBe(attr("database_name"));
    expect(outputs.host.value).toBe(attr("public_host"));
    expect(outputs.port.value).toBe(attr("direct_port"));
    expect(outputs.pooled_port.value).toBe(attr("pooled_port"));
    expect(outputs.role_name.value).toBe(attr("role_name"));
    expect(outputs.ssl_mode.value).toBe(attr("ssl_mode"));
    expect(outputs.uri).toEqual({ value: attr("connection_uri"), sensitive: true });
    expect(out).toHaveResourceWithProperties(Extension, { project_id: attr("id"), name: "pg_trgm" });
  });

  it("addExtension() and addBackupSchedule() declare them after construction and answer their constructs", () => {
    const s = stack();
    const db = new CapyProject(s, "db", { name: "shop", extensions: ["pgcrypto"] });
    const citext = db.addExtension("citext");
    const schedule = db.addBackupSchedule({ hour: 23, minute: 59, enabled: false });
    expect(citext).toBeInstanceOf(CapyExtension);
    expect(citext.extensionName).toBe("citext");
    expect(citext.node.id).toBe("Extension-citext");
    expect(db.extensions.map((e) => e.extensionName)).toEqual(["pgcrypto", "citext"]);
    expect(schedule).toBeInstanceOf(CapyBackupSchedule);
    expect(db.backupSchedule).toBe(schedule);

    const out = synth(s);
    expect(out).toHaveResourceWithProperties(Extension, { name: "citext", project_id: projectRef(out) });
    expect(out).toHaveResourceWithProperties(ScheduledBackup, { cron_hour: 23, cron_minute: 59, is_active: false });
    // retention_days unset: the server's default applies.
    const [sched] = Object.values(JSON.parse(out).resource.capydb_scheduled_backup) as Record<string, unknown>[];
    expect(sched.retention_days).toBeUndefined();
  });

  it("passes an aliased provider down to the project, its extensions and its schedule", () => {
    const s = stack();
    const other = new CapyProvider(s, "other", { alias: "other", apiUrl: "https://capydb.example.com" });
    new CapyProject(s, "db", { name: "shop", provider: other, extensions: ["citext"], backupSchedule: { hour: 1, minute: 0 } });
    const out = synth(s);
    expect(out).toHaveResourceWithProperties(Project, { name: "shop", provider: "capydb.other" });
    expect(out).toHaveResourceWithProperties(Extension, { name: "citext", provider: "capydb.other" });
    expect(out).toHaveResourceWithProperties(ScheduledBackup, { cron_hour: 1, provider: "capydb.other" });
    expect(out).toHaveProviderWithProperties(CapydbProvider, { alias: "other", api_url: "https://capydb.example.com" });
  });
});

describe("CapyBackupSchedule and CapyExtension (a project declared elsewhere, by id)", () => {
  it("CapyBackupSchedule synthesizes capydb_scheduled_backup; enabled defaults to true", () => {
    const s = stack();
    const schedule = new CapyBackupSchedule(s, "nightly", { projectId: "prj_abc", hour: 0, minute: 0, retentionDays: 365 });
    new TerraformOutput(s, "schedule_id", { value: schedule.scheduleId });
    const out = synth(s);
    expect(out).toHaveResourceWithProperties(ScheduledBackup, { project_id: "prj_abc", cron_hour: 0, cron_minute: 0, retention_days: 365, is_active: true });
    expect(JSON.parse(out).output.schedule_id.value).toMatch(/^\$\{capydb_scheduled_backup\.[\w-]+\.id\}$/);
  });

  it("CapyExtension synthesizes capydb_extension and exposes its version", () => {
    const s = stack();
    const ext = new CapyExtension(s, "trgm", { projectId: "prj_abc", name: "pg_trgm" });
    new TerraformOutput(s, "version", { value: ext.version });
    const out = synth(s);
    expect(out).toHaveResourceWithProperties(Extension, { project_id: "prj_abc", name: "pg_trgm" });
    expect(JSON.parse(out).output.version.value).toMatch(/^\$\{capydb_extension\.[\w-]+\.version\}$/);
  });

  it("takes the project id from a variable (tokens are not checked: Terraform knows them)", () => {
    const s = stack();
    const projectId = new TerraformVariable(s, "project_id", { type: "string" });
    const hour = new TerraformVariable(s, "hour", { type: "number" });
    new CapyBackupSchedule(s, "nightly", { projectId: projectId.stringValue, hour: hour.numberValue, minute: 5 });
    const out = synth(s);
    expect(out).toHaveResourceWithProperties(ScheduledBackup, { project_id: "${var.project_id}", cron_hour: "${var.hour}", cron_minute: 5 });
  });
});

describe("CapyMaskingRules and CapyProject's masking", () => {
  const rules: CapyMaskingRule[] = [
    { table: "users", column: "email", strategy: "email" },
    { table: "public.users", column: "born_on", strategy: "date_shift", days: 30 },
    { table: "billing.accounts", column: "plan", strategy: "constant", value: "free" },
  ];
  const synthesizedRules = [
    { table: "users", column: "email", strategy: "email" },
    { table: "public.users", column: "born_on", strategy: "date_shift", days: 30 },
    { table: "billing.accounts", column: "plan", strategy: "constant", value: "free" },
  ];

  it("CapyProject's masking prop synthesizes capydb_masking_rules for the project; requireCoverage defaults to false", () => {
    const s = stack();
    const db = new CapyProject(s, "db", { name: "shop", masking: { rules } });
    expect(db.maskingRules).toBeInstanceOf(CapyMaskingRules);
    expect(db.maskingRules!.node.id).toBe("MaskingRules");
    const out = synth(s);
    expect(out).toHaveResourceWithProperties(MaskingRules, { project_id: projectRef(out), rules: synthesizedRules, require_coverage: false });
    // Optional fields left out are not written (null in Terraform).
    const [m] = Object.values(JSON.parse(out).resource.capydb_masking_rules) as Array<{ rules: Array<Record<string, unknown>> }>;
    expect(Object.keys(m.rules[0]).sort()).toEqual(["column", "strategy", "table"]);
  });

  it("CapyMaskingRules takes a CapyProject or a project id, requireCoverage and an aliased provider, and exposes its computed values", () => {
    const s = stack();
    const other = new CapyProvider(s, "other", { alias: "other" });
    const db = new CapyProject(s, "db", { name: "shop" });
    new CapyMaskingRules(s, "of-project", { project: db, rules: [rules[0]], requireCoverage: true });
    const byId = new CapyMaskingRules(s, "by-id", { project: "prj_abc", rules: [], provider: other });
    new TerraformOutput(s, "updated_at", { value: byId.updatedAt });
    new TerraformOutput(s, "uncovered", { value: byId.uncoveredColumns });
    const out = synth(s);
    expect(out).toHaveResourceWithProperties(MaskingRules, { project_id: projectRef(out), rules: [synthesizedRules[0]], require_coverage: true });
    expect(out).toHaveResourceWithProperties(MaskingRules, { project_id: "prj_abc", rules: [], provider: "capydb.other" });
    const outputs = JSON.parse(out).output as Record<string, { value: string }>;
    expect(outputs.updated_at.value).toMatch(/^\$\{capydb_masking_rules\.[\w-]+\.updated_at\}$/);
    expect(outputs.uncovered.value).toMatch(/^\$\{capydb_masking_rules\.[\w-]+\.uncovered_columns\}$/);
  });

  it("takes rules from a variable (a token: Terraform checks it)", () => {
    const s = stack();
    const type = "list(object({ table = string, column = string, strategy = string, value = optional(string), days = optional(number) }))";
    const v = new TerraformVariable(s, "rules", { type });
    const w = new TerraformVariable(s, "more_rules", { type });
    new CapyMaskingRules(s, "m", { project: "prj_1", rules: v.value });
    new CapyMaskingRules(s, "n", { project: "prj_2", rules: w.listValue as unknown as CapyMaskingRule[] });
    const out = synth(s);
    expect(out).toHaveResourceWithProperties(MaskingRules, { project_id: "prj_1", rules: "${var.rules}" });
    expect(out).toHaveResourceWithProperties(MaskingRules, { project_id: "prj_2", rules: "${var.more_rules}" });
  });

  it("knows the strategies the API knows", () => {
    expect([...MASKING_STRATEGIES]).toEqual(MaskingStrategy.options);
  });
});

describe("CapyProvider", () => {
  it("with no props writes an empty provider block: the provider reads CAPYDB_API_URL / CAPYDB_API_KEY when Terraform runs", () => {
    const out = synth(stack());
    expect(JSON.parse(out).provider.capydb).toEqual([{}]);
  });

  it("writes api_url and api_key from props; a variable keeps the key out of the file", () => {
    const s = new TerraformStack(testingApp(), "test");
    const key = new TerraformVariable(s, "capydb_api_key", { type: "string", sensitive: true });
    const provider = new CapyProvider(s, "capydb", { apiUrl: "https://capydb.example.com", apiKey: key.stringValue });
    const out = synth(s);
    expect(out).toHaveProviderWithProperties(CapydbProvider, { api_url: "https://capydb.example.com", api_key: "${var.capydb_api_key}" });
    expect(warnings(provider)).toEqual([]);
  });

  it("warns when the API key is a literal string (it would sit in cdk.tf.json in clear text)", () => {
    const s = new TerraformStack(testingApp(), "test");
    const provider = new CapyProvider(s, "capydb", { apiKey: "capy_live_literal" });
    expect(warnings(provider)).toEqual([expect.stringContaining("apiKey is a literal string")]);
  });
});

function warnings(construct: CapyProvider): string[] {
  return construct.node.metadata.filter((m) => m.type === AnnotationMetadataEntryType.WARN).map((m) => String(m.data));
}

describe("validation at synth time names the prop", () => {
  /** The message of the synth failure of a stack built by `build`. */
  function synthError(build: (s: TerraformStack) => void): string {
    const s = stack();
    build(s);
    try {
      synth(s);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error("synth succeeded");
  }

  it("backupSchedule.hour 24", () => {
    expect(synthError((s) => new CapyProject(s, "db", { name: "shop", backupSchedule: { hour: 24, minute: 0 } }))).toContain(
      "[test/db/BackupSchedule] backupSchedule.hour must be an integer from 0 to 23 (UTC); got 24",
    );
  });

  it("backupSchedule.minute 60", () => {
    expect(synthError((s) => new CapyProject(s, "db", { name: "shop", backupSchedule: { hour: 3, minute: 60 } }))).toContain(
      "backupSchedule.minute must be an integer from 0 to 59; got 60",
    );
  });

  it("an empty name", () => {
    expect(synthError((s) => new CapyProject(s, "db", { name: "" }))).toContain('[test/db] name must not be empty; got ""');
    expect(synthError((s) => new CapyProject(s, "db", { name: "   " }))).toContain('name must not be empty; got "   "');
  });

  it("a duplicate extension, in the props or through addExtension()", () => {
    expect(synthError((s) => new CapyProject(s, "db", { name: "shop", extensions: ["pgcrypto", "citext", "pgcrypto"] }))).toContain(
      '[test/db] extensions: "pgcrypto" is listed more than once',
    );
    expect(
      synthError((s) => {
        const db = new CapyProject(s, "db", { name: "shop", extensions: ["citext"] });
        db.addExtension("citext");
      }),
    ).toContain('extensions: "citext" is listed more than once');
  });

  it("the standalone constructs name their own props", () => {
    expect(synthError((s) => new CapyBackupSchedule(s, "nightly", { projectId: "prj_1", hour: 24, minute: 60 }))).toMatch(
      /\[test\/nightly\] hour must be an integer from 0 to 23 \(UTC\); got 24\n\s+\[test\/nightly\] minute must be an integer from 0 to 59; got 60/,
    );
    expect(synthError((s) => new CapyExtension(s, "ext", { projectId: "", name: "pgcrypto" }))).toContain('[test/ext] projectId must not be empty; got ""');
    expect(synthError((s) => new CapyExtension(s, "ext", { projectId: "prj_1", name: "PG Crypto" }))).toContain(
      '[test/ext] name must be a PostgreSQL extension name (1-63 lowercase letters, digits, "_" and "-"); got "PG Crypto"',
    );
  });

  it("every other prop the API would refuse", () => {
    const message = synthError((s) => {
      const db = new CapyProject(s, "db", {
        name: "shop; DROP TABLE",
        region: "",
        plan: "gold" as never,
        environment: "prod" as never,
        settings: { maxConnections: 0, statementTimeout: "30 seconds", idleTransactionTimeout: "-1", storageLimitBytes: 1024 },
        extensions: ["pgcrypto", "Bad Name"],
        backupSchedule: { hour: 2.5, minute: -1, retentionDays: 366 },
      });
      db.addBackupSchedule({ hour: 4, minute: 0 });
      new CapyProvider(s, "second", { alias: "second", apiUrl: "capydb.example.com" });
    });
    for (const expected of [
      'name may contain only letters, digits, spaces, ".", "_" and "-", starting with a letter or digit; got "shop; DROP TABLE"',
      'region must not be empty; got ""',
      'plan must be one of "free", "pro", "enterprise"; got "gold"',
      'environment must be one of "production", "staging", "development"; got "prod"',
      "settings.maxConnections must be an integer from 1 to 10000; got 0",
      'settings.statementTimeout must be a duration such as "0", "500ms", "30s", "5min" or "1h"; got "30 seconds"',
      'settings.idleTransactionTimeout must be a duration such as "0", "500ms", "30s", "5min" or "1h"; got "-1"',
      "settings.storageLimitBytes must be an integer of at least 1048576 (1 MiB); got 1024",
      '[test/db/Extension-Bad Name] extensions[1] must be a PostgreSQL extension name (1-63 lowercase letters, digits, "_" and "-"); got "Bad Name"',
      "backupSchedule.hour must be an integer from 0 to 23 (UTC); got 2.5",
      "backupSchedule.minute must be an integer from 0 to 59; got -1",
      "backupSchedule.retentionDays must be an integer from 1 to 365 (days); got 366",
      "backupSchedule: the project already has a backup schedule",
      '[test/second] apiUrl must be an http:// or https:// URL; got "capydb.example.com"',
    ]) {
      expect(message).toContain(expected);
    }
  });

  it("masking rules: bad strategies, value and days, duplicate columns and tables that are not name or schema.name", () => {
    const message = synthError((s) => {
      const db = new CapyProject(s, "db", {
        name: "shop",
        masking: {
          rules: [
            { table: "users", column: "email", strategy: "emial" as never },
            { table: "users", column: "plan", strategy: "constant" },
            { table: "users", column: "born", strategy: "date_shift" },
            { table: "users", column: "born2", strategy: "date_shift", days: 0 },
            { table: "users", column: "born3", strategy: "date_shift", days: 36501 },
            { table: "users", column: "full_name", strategy: "name", value: "x" },
            { table: "users", column: "phone", strategy: "redact", days: 3 },
            { table: "public.users", column: "email", strategy: "hash" },
            { table: "a.b.c", column: "x", strategy: "null" },
            { table: "", column: "", strategy: "null" },
          ],
        },
      });
      db.addMaskingRules({ rules: [] });
      new CapyMaskingRules(s, "standalone", { project: "", rules: [{ table: "t", column: "c", strategy: "date_shift", days: 1.5 }] });
    });
    for (const expected of [
      '[test/db/MaskingRules] masking.rules[0].strategy must be one of "email", "name", "phone", "hash", "redact", "null", "constant", "date_shift"; got "emial"',
      'masking.rules[1].value is required with strategy "constant"',
      'masking.rules[2].days is required with strategy "date_shift"',
      "masking.rules[3].days must be an integer from 1 to 36500 (days); got 0",
      "masking.rules[4].days must be an integer from 1 to 36500 (days); got 36501",
      'masking.rules[5].value is only allowed with strategy "constant"; got strategy "name"',
      'masking.rules[6].days is only allowed with strategy "date_shift"; got strategy "redact"',
      "masking.rules[7]: public.users.email already has a rule (masking.rules[0])",
      'masking.rules[8].table must be "name" or "schema.name"; got "a.b.c"',
      'masking.rules[9].table must not be empty; got ""',
      'masking.rules[9].column must not be empty; got ""',
      "[test/db] masking: the project already has masking rules",
      '[test/standalone] project must not be empty; got ""',
      "[test/standalone] rules[0].days must be an integer from 1 to 36500 (days); got 1.5",
    ]) {
      expect(message).toContain(expected);
    }
  });

  it("app.synth() (what `cdktf synth` and the example run) fails the same way, and writes nothing", () => {
    const app = testingApp();
    const s = new TerraformStack(app, "test");
    new CapyProvider(s, "capydb");
    new CapyProject(s, "db", { name: "shop", backupSchedule: { hour: 24, minute: 0 } });
    expect(() => app.synth()).toThrow(/backupSchedule\.hour must be an integer from 0 to 23 \(UTC\); got 24/);
  });

  it("valid props synthesize with no problem; the checks stay out of the way of tokens", () => {
    const s = stack();
    const hour = new TerraformVariable(s, "hour", { type: "number" });
    const name = new TerraformVariable(s, "name", { type: "string" });
    const ext = new TerraformVariable(s, "ext", { type: "string" });
    const column = new TerraformVariable(s, "column", { type: "string" });
    const days = new TerraformVariable(s, "days", { type: "number" });
    const db = new CapyProject(s, "db", {
      name: name.stringValue,
      backupSchedule: { hour: hour.numberValue, minute: 0 },
      masking: { rules: [{ table: "users", column: column.stringValue, strategy: "date_shift", days: days.numberValue }] },
    });
    db.addExtension(ext.stringValue);
    expect(() => synth(s)).not.toThrow();
  });
});

describe("the checks agree with the API's own request schemas", () => {
  /** True when the construct reports a problem for `props` (synth fails). */
  function refused(build: (s: TerraformStack) => void): boolean {
    const s = stack();
    build(s);
    try {
      synth(s);
      return false;
    } catch {
      return true;
    }
  }

  const names = ["shop", "Shop 2", "日本語", "a.b_c-d", "", " ", "-lead", "x".repeat(63), "x".repeat(64), "semi;colon", "quote'"];
  it.each(names)("project name %j", (name) => {
    expect(refused((s) => new CapyProject(s, "db", { name }))).toBe(!CreateProjectRequest.safeParse({ name }).success);
  });

  const settings: Array<Record<string, string | number>> = [
    { max_connections: 1 },
    { max_connections: 10000 },
    { max_connections: 10001 },
    { max_connections: 1.5 },
    { statement_timeout: "0" },
    { statement_timeout: "500ms" },
    { statement_timeout: "2 h" },
    { statement_timeout: "1w" },
    { idle_transaction_timeout: "60s" },
    { idle_transaction_timeout: "" },
    { storage_limit_bytes: 1_048_576 },
    { storage_limit_bytes: 1_048_575 },
    { plan: "enterprise" },
    { plan: "Enterprise" },
    { environment: "development" },
    { environment: "dev" },
  ];
  it.each(settings)("project settings %j", (body) => {
    const props: CapyProjectProps = {
      name: "shop",
      plan: body.plan as CapyPlan | undefined,
      environment: body.environment as CapyEnvironment | undefined,
      settings: {
        maxConnections: body.max_connections as number | undefined,
        statementTimeout: body.statement_timeout as string | undefined,
        idleTransactionTimeout: body.idle_transaction_timeout as string | undefined,
        storageLimitBytes: body.storage_limit_bytes as number | undefined,
      },
    };
    expect(refused((s) => new CapyProject(s, "db", props))).toBe(!CreateProjectRequest.safeParse({ name: "shop", ...body }).success);
  });

  const schedules = [
    [0, 0, 1],
    [23, 59, 365],
    [24, 0, 7],
    [0, 60, 7],
    [-1, 0, 7],
    [3, 30, 0],
    [3, 30, 366],
    [3.5, 0, 7],
  ];
  it.each(schedules)("schedule %d:%d kept %d days", (hour, minute, retentionDays) => {
    expect(refused((s) => new CapyBackupSchedule(s, "b", { projectId: "prj_1", hour, minute, retentionDays }))).toBe(
      !PutScheduledBackupRequest.safeParse({ cron_hour: hour, cron_minute: minute, is_active: true, retention_days: retentionDays }).success,
    );
  });

  // The cross-field rules (value with "constant", days with "date_shift", one rule a column) are
  // the server's, not the request schema's: the provider checks them at plan time, and the
  // constructs must refuse exactly what the provider refuses.
  const maskingCases: Array<Record<string, unknown>> = [
    { table: "users", column: "email", strategy: "email" },
    { table: "public.users", column: "email", strategy: "hash" },
    { table: "app.users", column: "email", strategy: "redact" },
    { table: "users", column: "email", strategy: "emial" },
    { table: "users", column: "email", strategy: "EMAIL" },
    { table: "users", column: "plan", strategy: "constant", value: "free" },
    { table: "users", column: "plan", strategy: "constant", value: "" },
    { table: "users", column: "plan", strategy: "constant", value: " padded " },
    { table: "users", column: "plan", strategy: "constant", value: "two\nlines" },
    { table: "users", column: "plan", strategy: "constant", value: "x".repeat(1001) },
    { table: "users", column: "plan", strategy: "constant" },
    { table: "users", column: "plan", strategy: "null", value: "x" },
    { table: "users", column: "born", strategy: "date_shift", days: 1 },
    { table: "users", column: "born", strategy: "date_shift", days: 36500 },
    { table: "users", column: "born", strategy: "date_shift", days: 36501 },
    { table: "users", column: "born", strategy: "date_shift", days: 0 },
    { table: "users", column: "born", strategy: "date_shift", days: 2.5 },
    { table: "users", column: "born", strategy: "date_shift" },
    { table: "users", column: "born", strategy: "phone", days: 3 },
    { table: "a.b.c", column: "x", strategy: "null" },
    { table: ".users", column: "x", strategy: "null" },
    { table: "users.", column: "x", strategy: "null" },
    { table: " users", column: "x", strategy: "null" },
    { table: "", column: "x", strategy: "null" },
    { table: "x".repeat(131), column: "x", strategy: "null" },
    { table: "users", column: "", strategy: "null" },
    { table: "users", column: "x ", strategy: "null" },
    { table: "users", column: "x".repeat(64), strategy: "null" },
    { table: "Users", column: "Email", strategy: "name" },
  ];
  it.each(maskingCases)("masking rule %j", async (rule) => {
    const ours = refused((s) => new CapyMaskingRules(s, "m", { project: "prj_1", rules: [rule as unknown as CapyMaskingRule] }));
    const providers = await validateRules([{ value: null, days: null, ...rule } as never]);
    expect(ours).toBe(providers.length > 0);
  });
  it.each([
    [["users", "public.users"], true],
    [["users", "app.users"], false],
  ])("masking rules on tables %j: a duplicate %s", async ([a, b], duplicate) => {
    const pair = [a, b].map((table) => ({ table, column: "email", strategy: "email" as const }));
    expect(refused((s) => new CapyMaskingRules(s, "m", { project: "prj_1", rules: pair }))).toBe(duplicate);
    expect((await validateRules(pair.map((r) => ({ ...r, value: null, days: null })))).length > 0).toBe(duplicate);
  });

  const extensions = ["pgcrypto", "pg_trgm", "uuid-ossp", "_x", "-x", "PgCrypto", "x".repeat(63), "x".repeat(64), "", "a b"];
  it.each(extensions)("extension name %j", (name) => {
    expect(refused((s) => new CapyExtension(s, "e", { projectId: "prj_1", name }))).toBe(!ExtensionName.safeParse(name).success);
  });
});
