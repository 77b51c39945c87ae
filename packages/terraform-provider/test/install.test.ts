// The two other ways to install the provider, under the real Terraform CLI: a packed (zip)
// filesystem mirror, and dev_overrides pointing at the TypeScript sources through a symlink.
// `terraform validate` needs no server: the provider only checks the configuration.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROVIDER_ADDRESS, PROVIDER_VERSION } from "../src/registry.js";
import { Workspace, explain, prepareMirror, tempRoot, terraformVersion } from "./terraform-cli.js";

const tfVersion = await terraformVersion();
if (!tfVersion) console.warn("install.test.ts: skipped: no `terraform` on the PATH (install Terraform 1.11.4 to run these tests)");

const BIN_DIR = fileURLToPath(new URL("../bin", import.meta.url));

const CONFIG = `
terraform {
  required_providers {
    capydb = { source = "capydb/capydb" }
  }
}
provider "capydb" {}
resource "capydb_scheduled_backup" "s" {
  project_id  = "prj_placeholder"
  cron_hour   = 25
  cron_minute = 0
}
`;

describe.skipIf(!tfVersion)("installing terraform-provider-capydb", () => {
  let root: string;

  beforeAll(() => {
    root = tempRoot("capydb-tf-install-");
  });

  afterAll(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it("installs from a packed (zip) filesystem mirror", async () => {
    const cli = await prepareMirror(path.join(root, "zip"), { zip: true });
    const zips = fs.readdirSync(path.join(cli.mirrorDir, ...PROVIDER_ADDRESS.split("/")));
    expect(zips).toEqual([expect.stringMatching(new RegExp(`^terraform-provider-capydb_${PROVIDER_VERSION.replace(/\./g, "\\.")}_\\w+_\\w+\\.zip$`))]);
    const ws = new Workspace(root, "zip-ws", { TF_CLI_CONFIG_FILE: cli.cliConfig });
    ws.write(CONFIG);
    const init = await ws.run(["init", "-input=false"]);
    expect(init.code, explain(init)).toBe(0);
    expect(init.stdout).toContain(`Installed capydb/capydb v${PROVIDER_VERSION}`);
    const validate = await ws.run(["validate"]);
    expect(validate.code, explain(validate)).toBe(1);
    expect(validate.stderr).toContain("cron_hour: Too big: expected number to be <=23");
  }, 120_000);

  it("runs from the TypeScript sources through dev_overrides, via a symlink to the launcher", async () => {
    const linkDir = path.join(root, "dev-bin");
    fs.mkdirSync(linkDir);
    fs.symlinkSync(path.join(BIN_DIR, "terraform-provider-capydb"), path.join(linkDir, "terraform-provider-capydb"));
    const rc = path.join(root, "dev.rc");
    fs.writeFileSync(rc, `provider_installation {\n  dev_overrides {\n    "${PROVIDER_ADDRESS}" = ${JSON.stringify(linkDir)}\n  }\n  direct {}\n}\n`);
    const ws = new Workspace(root, "dev-ws", { TF_CLI_CONFIG_FILE: rc });
    ws.write(CONFIG);
    const validate = await ws.run(["validate"]);
    expect(validate.code, explain(validate)).toBe(1);
    expect(validate.stdout + validate.stderr).toContain("Provider development overrides are in effect");
    expect(validate.stderr).toContain("with capydb_scheduled_backup.s,");
    expect(validate.stderr).toContain("cron_hour: Too big: expected number to be <=23");
  }, 120_000);
});
