// The example app (cdktf-constructs/examples/basic): what it declares, and that the real Terraform
// CLI accepts what it synthesizes (cdktf's toBeValidTerraform: `terraform init` from the
// provider's filesystem mirror, then `terraform validate`, which loads the provider's schema).
import fs from "node:fs";
import { Testing } from "cdktf";
import { toBeValidTerraform } from "cdktf/lib/testing/matchers.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capydb } from "@capydb/cdktf-constructs";
import { ExampleStack } from "../../cdktf-constructs/examples/basic/stack.js";
import { providerMirror, tempDir, terraformEnv, terraformVersion, testingApp } from "./support.js";

const tfVersion = await terraformVersion();
if (!tfVersion) console.warn("cdktf example.test.ts: toBeValidTerraform skipped: no `terraform` on the PATH (install Terraform 1.11.4 to run it)");

describe("the example app", () => {
  it("declares a project with pgcrypto and citext, a daily 03:30 backup kept 14 days, and its connection info as outputs", () => {
    const stack = new ExampleStack(testingApp(), "capydb-example");
    const out = Testing.synth(stack, true);
    expect(out).toHaveResourceWithProperties(capydb.project.Project, { name: "capydb-example", statement_timeout: "30s" });
    expect(out).toHaveResourceWithProperties(capydb.extension.Extension, { name: "pgcrypto" });
    expect(out).toHaveResourceWithProperties(capydb.extension.Extension, { name: "citext" });
    expect(out).toHaveResourceWithProperties(capydb.scheduledBackup.ScheduledBackup, { cron_hour: 3, cron_minute: 30, retention_days: 14, is_active: true });
    const outputs = JSON.parse(out).output as Record<string, { value: string; sensitive?: boolean }>;
    expect(Object.keys(outputs).sort()).toEqual(["connection_uri", "database_name", "host", "pooled_port", "port", "project_id", "role_name", "ssl_mode"]);
    expect(outputs.connection_uri.sensitive).toBe(true);
    expect(JSON.parse(out).provider.capydb).toEqual([{}]); // CAPYDB_API_URL / CAPYDB_API_KEY at apply time
  });

  it("takes its project name and backup hour from context", () => {
    const app = testingApp({ context: { projectName: "other", backupHour: 5 } });
    const stack = new ExampleStack(app, "capydb-example", {
      projectName: app.node.tryGetContext("projectName"),
      backupHour: app.node.tryGetContext("backupHour"),
    });
    const out = Testing.synth(stack, true);
    expect(out).toHaveResourceWithProperties(capydb.project.Project, { name: "other" });
    expect(out).toHaveResourceWithProperties(capydb.scheduledBackup.ScheduledBackup, { cron_hour: 5, cron_minute: 30 });
  });

  it("with masking on, declares the users table's masking rules on the project; off by default", () => {
    const plain = Testing.synth(new ExampleStack(testingApp(), "capydb-example"), true);
    expect(JSON.parse(plain).resource.capydb_masking_rules).toBeUndefined();
    const stack = new ExampleStack(testingApp(), "capydb-example", { masking: true });
    const out = Testing.synth(stack, true);
    expect(out).toHaveResourceWithProperties(capydb.maskingRules.MaskingRules, {
      rules: [
        { table: "users", column: "email", strategy: "email" },
        { table: "users", column: "full_name", strategy: "name" },
        { table: "users", column: "born_on", strategy: "date_shift", days: 30 },
      ],
      require_coverage: false,
    });
    expect(stack.project.maskingRules).toBeDefined();
  });

  describe.skipIf(!tfVersion)(`is valid Terraform for ${tfVersion ?? "terraform"}`, () => {
    let root: string;
    const saved: Record<string, string | undefined> = {};

    beforeAll(async () => {
      root = tempDir("capydb-cdktf-validate-");
      const env = terraformEnv(await providerMirror(root));
      // toBeValidTerraform runs terraform with this process's environment (and synchronously:
      // no server runs in this file).
      for (const key of ["TF_CLI_CONFIG_FILE", "TF_IN_AUTOMATION", "TF_INPUT", "CHECKPOINT_DISABLE", "TF_LOG", "TF_LOG_PATH"]) {
        saved[key] = process.env[key];
        if (env[key] === undefined) delete process.env[key];
        else process.env[key] = env[key];
      }
    }, 120_000);

    afterAll(() => {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    it("Testing.toBeValidTerraform passes on the synthesized example", () => {
      const stack = new ExampleStack(testingApp(), "capydb-example");
      const dir = Testing.fullSynth(stack);
      try {
        expect(dir).toBeValidTerraform();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);

    it("with masking on too (rules are a nested attribute: each rule writes only the fields it has)", () => {
      const stack = new ExampleStack(testingApp(), "capydb-example", { masking: true });
      const dir = Testing.fullSynth(stack);
      try {
        expect(dir).toBeValidTerraform();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);

    it("and fails on a configuration the provider's schema refuses (the check is real)", () => {
      const stack = new ExampleStack(testingApp(), "capydb-example");
      // Through the escape hatch, past the construct's own checks: an attribute the schema lacks.
      stack.project.backupSchedule!.resource.addOverride("cron_second", 5);
      const dir = Testing.fullSynth(stack);
      try {
        const result = toBeValidTerraform(dir);
        expect(result.pass).toBe(false);
        expect(result.message).toContain('No argument or block type is named \\"cron_second\\"');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);
  });
});
