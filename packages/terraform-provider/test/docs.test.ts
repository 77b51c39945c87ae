// The registry-style docs (docs/) and the examples (examples/) they are made from:
// (a) the committed docs are exactly what src/docs.ts generates from the schema now;
// (b) every resource and data source has its page and example (resources: an import.sh), and
//     nothing else is there;
// (c) every example passes the real `terraform validate`, with the provider from these sources
//     through dev_overrides (validation needs no server);
// (d) every import.sh's id is one the resource's importState accepts, and reaches the API as the
//     request the resource makes for that id.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CapyClient } from "@capydb/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DOCS_COMMAND, DOCS_DIR, EXAMPLES_DIR, docPath, exampleFiles, listFiles, renderDocs, staleDocs } from "../src/docs.js";
import { DiagnosticError } from "../src/framework/diagnostics.js";
import type { ProviderContext, Resource } from "../src/framework/resource.js";
import { createLogger } from "../src/plugin/log.js";
import { PROVIDER_ADDRESS, dataSources, resources } from "../src/registry.js";
import { Workspace, explain, tempRoot, terraformVersion } from "./terraform-cli.js";

const tfVersion = await terraformVersion();
if (!tfVersion) console.warn("docs.test.ts: `terraform validate` of the examples skipped: no `terraform` on the PATH (install Terraform 1.11.4)");

const BIN_DIR = fileURLToPath(new URL("../bin", import.meta.url));

function read(rel: string): string {
  return fs.readFileSync(path.join(EXAMPLES_DIR, rel), "utf8");
}

/** The one `terraform import <type>.<name> <id>` line of an import.sh, split. */
function importLine(rel: string): { type: string; name: string; id: string } {
  const commands = read(rel)
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  expect(commands, `${rel}: one command`).toHaveLength(1);
  const m = /^terraform import ([a-z0-9_]+)\.([a-z0-9_]+) (\S+)$/.exec(commands[0]);
  if (!m) throw new Error(`${rel}: not a "terraform import <type>.<name> <id>" line: ${commands[0]}`);
  return { type: m[1], name: m[2], id: m[3] };
}

describe("registry docs (docs/)", () => {
  let scratch: string;
  beforeAll(() => {
    scratch = tempRoot("capydb-docs-");
  });
  afterAll(() => {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it(`are exactly what the generator writes from the current schema (else: ${DOCS_COMMAND})`, () => {
    const stale = staleDocs();
    expect(stale, `stale docs (run \`${DOCS_COMMAND}\`): ${stale.map((f) => `docs/${f}`).join(", ")}`).toEqual([]);
  });

  it("notice a change: a page edited by hand, one missing, one extra", () => {
    const copy = path.join(scratch, "docs");
    fs.cpSync(DOCS_DIR, copy, { recursive: true });
    expect(staleDocs(copy)).toEqual([]);
    fs.appendFileSync(path.join(copy, "resources", "project.md"), "edited\n");
    fs.rmSync(path.join(copy, "data-sources", "backups.md"));
    fs.writeFileSync(path.join(copy, "resources", "gone.md"), "# capydb_gone\n");
    expect(staleDocs(copy)).toEqual(["data-sources/backups.md", "resources/gone.md", "resources/project.md"]);
  });

  it("follow the registry's layout and tfplugindocs' format, with the schema's attributes", () => {
    const pages = renderDocs();
    for (const [rel, text] of pages) {
      expect(text.endsWith("\n") && !text.endsWith("\n\n"), `${rel} ends with one newline`).toBe(true);
      expect(text, `${rel} has LF endings`).not.toContain("\r");
      expect(text, `${rel}'s front matter`).toMatch(/^---\n(?:#[^\n]*\n)?page_title: "[^"\n]+"\nsubcategory: ""\ndescription: \|-\n {2}\S[^\n]*\n---\n\n# /);
    }
    const project = pages.get("resources/project.md")!;
    expect(project).toContain('page_title: "capydb_project Resource - terraform-provider-capydb"');
    expect(project).toContain("# capydb_project (Resource)");
    expect(project).toMatch(/## Example Usage\n\n```terraform\nresource "capydb_project" "app" \{/);
    expect(project).toMatch(/### Required\n\n- `name` \(String\) /);
    expect(project).toContain("- `password` (String, Sensitive) The password of the project's login role (role_name).");
    expect(project).toContain("- `pooled_connection_uri` (String, Sensitive) ");
    expect(project).toContain("- `max_connections` (Number) ");
    expect(project).toContain("- `timeouts` (Block, Optional) ");
    expect(project).toContain('<a id="nestedblock--timeouts"></a>\n### Nested Schema for `timeouts`\n\nOptional:\n\n- `create` (String) ');
    expect(project).toMatch(
      /## Import\n\nImport is supported using the following syntax:\n\n```shell\n# [^\n]+\nterraform import capydb_project\.app prj_abc123\n```\n$/,
    );
    // Read-Only after Optional after Required, each sorted by name.
    const readOnly = project.slice(project.indexOf("### Read-Only"), project.indexOf("<a id="));
    const names = [...readOnly.matchAll(/^- `([a-z_]+)`/gm)].map((m) => m[1]);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(["id", "connection_uri", "password", "pooled_connection_uri", "state"]));

    const masking = pages.get("resources/masking_rules.md")!;
    expect(masking).toContain("- `rules` (Attributes List) ");
    expect(masking).toContain("(see [below for nested schema](#nestedatt--rules))");
    expect(masking).toMatch(/<a id="nestedatt--rules"><\/a>\n### Nested Schema for `rules`\n\nRequired:\n\n- `column` \(String\)/);
    expect(masking).toContain("- `uncovered_columns` (List of Object) ");
    const trust = pages.get("resources/trust_policy.md")!;
    expect(trust).toContain("- `refs` (List of String) ");
    expect(trust).toContain("- `allow_forks` (Boolean) ");
    // Plain-text descriptions stay plain: no emphasis from a ref pattern's "*", no HTML from "<name>".
    expect(trust).toContain('"refs/pull/\\*/merge"]; "\\*" stands for');
    expect(pages.get("resources/extension.md")!).toContain('The import id, "\\<project_id>/\\<name>".');
    expect(masking).toContain("constant (every row gets `value`)");

    const dataProject = pages.get("data-sources/project.md")!;
    expect(dataProject).toContain('page_title: "capydb_project Data Source - terraform-provider-capydb"');
    expect(dataProject).toContain("# capydb_project (Data Source)");
    expect(dataProject).toMatch(/### Required\n\n- `id` \(String\) /);
    expect(dataProject).not.toContain("## Import");

    const index = pages.get("index.md")!;
    expect(index).toContain('page_title: "capydb Provider"');
    expect(index).toMatch(/## Example Usage\n\n```terraform\nterraform \{/);
    expect(index).toContain("- `api_key` (String, Sensitive) ");
    expect(index).toContain("$CAPYDB_API_KEY");
    expect(index).toContain("$CAPYDB_API_URL");
    expect(index).toContain("## Authentication");
    expect(index).toContain("## Installing");
  });
});

describe("docs and examples cover the provider", () => {
  it("a page per resource and data source, and nothing else", () => {
    const expected = ["index.md", ...resources.map((r) => docPath("resource", r.typeName)), ...dataSources.map((d) => docPath("data-source", d.typeName))];
    expect(listFiles(DOCS_DIR)).toEqual(expected.sort());
    expect(resources.length).toBe(6);
    expect(dataSources.length).toBe(2);
  });

  it("an example per resource and data source, an import.sh per resource, the provider's, and nothing else", () => {
    const expected = ["provider/provider.tf"];
    for (const r of resources) {
      const f = exampleFiles("resource", r.typeName);
      expected.push(f.config, f.importScript!);
      expect(read(f.config), f.config).toContain(`resource "${r.typeName}" "`);
    }
    for (const d of dataSources) {
      const f = exampleFiles("data-source", d.typeName);
      expected.push(f.config);
      expect(read(f.config), f.config).toContain(`data "${d.typeName}" "`);
    }
    expect(listFiles(EXAMPLES_DIR)).toEqual(expected.sort());
  });

  it("each import.sh imports into a resource its example declares, and says what the id is", () => {
    for (const r of resources) {
      const f = exampleFiles("resource", r.typeName);
      const { type, name } = importLine(f.importScript!);
      expect(type, f.importScript).toBe(r.typeName);
      expect(read(f.config), `${f.config} declares ${type}.${name}`).toContain(`resource "${type}" "${name}" {`);
      expect(read(f.importScript!), `${f.importScript} has a comment`).toMatch(/^# \S/m);
    }
  });
});

describe("import ids of the examples", () => {
  // A real client against a port nobody listens on: importState parses the id, then its first API
  // request fails to connect, and the client's error names the request's path.
  let closedPort: number;
  beforeAll(async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    closedPort = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function context(): ProviderContext {
    return {
      client: new CapyClient({ baseUrl: `http://127.0.0.1:${closedPort}`, apiKey: "capy_live_docs_test_key", retries: 0 }),
      signal: new AbortController().signal,
      log: createLogger("docs-test", () => {}),
    };
  }

  async function importError(resource: Resource, id: string): Promise<unknown> {
    try {
      await resource.importState(context(), id);
    } catch (err) {
      return err;
    }
    throw new Error(`importState(${id}) answered without a server`);
  }

  /** The API request each resource's importState makes first for the example's id. */
  const FIRST_REQUEST: Record<string, string> = {
    capydb_project: "/v1/projects/prj_abc123",
    capydb_scheduled_backup: "/v1/projects/prj_abc123",
    capydb_extension: "/v1/projects/prj_abc123/extensions",
    capydb_masking_rules: "/v1/projects/prj_abc123",
    capydb_preview_database: "/v1/preview-databases/pdb_def456",
    capydb_trust_policy: "/v1/trust-policies/tp_def456",
  };

  it("pass each resource's importState and reach the API as the request for that object", async () => {
    expect(Object.keys(FIRST_REQUEST).sort()).toEqual(resources.map((r) => r.typeName).sort());
    for (const r of resources) {
      const { id } = importLine(exampleFiles("resource", r.typeName).importScript!);
      const err = (await importError(r, id)) as { name?: string; path?: string; message?: string };
      expect(err, `${r.typeName} ${id}: ${err?.message}`).not.toBeInstanceOf(DiagnosticError);
      expect(err.name, `${r.typeName} ${id}: ${err.message}`).toBe("CapyNetworkError");
      expect(err.path, `${r.typeName} ${id}`).toBe(FIRST_REQUEST[r.typeName]);
    }
  });

  it("are in the documented form: ids the resources refuse are refused before any request", async () => {
    const byType = new Map(resources.map((r) => [r.typeName, r]));
    const refused: Array<[string, string]> = [
      ["capydb_extension", "prj_abc123"],
      ["capydb_extension", "prj_abc123/"],
      ["capydb_extension", "/pgcrypto"],
      ["capydb_masking_rules", "prj_abc123/rules"],
      ["capydb_trust_policy", "prj_abc123"],
      ["capydb_trust_policy", "prj_abc123/x/tp_def456"],
    ];
    for (const [type, id] of refused) {
      const err = await importError(byType.get(type)!, id);
      expect(err, `${type} ${id}`).toBeInstanceOf(DiagnosticError);
      expect((err as DiagnosticError).summary).toBe("Invalid import id");
    }
    // The older trust policy form the comment mentions is accepted too.
    const err = (await importError(byType.get("capydb_trust_policy")!, "prj_abc123/tp_def456")) as { name?: string; path?: string };
    expect([err.name, err.path]).toEqual(["CapyNetworkError", "/v1/trust-policies/tp_def456"]);
    // The id forms of the resources that pass any id to the API: their ids' prefixes.
    const FORM: Record<string, RegExp> = {
      capydb_project: /^prj_[a-z0-9]+$/,
      capydb_scheduled_backup: /^prj_[a-z0-9]+$/,
      capydb_masking_rules: /^prj_[a-z0-9]+$/,
      capydb_extension: /^prj_[a-z0-9]+\/[a-z0-9_]+$/,
      capydb_preview_database: /^pdb_[a-z0-9]+$/,
      capydb_trust_policy: /^(prj_[a-z0-9]+\/)?tp_[a-z0-9]+$/,
    };
    for (const r of resources) expect(importLine(exampleFiles("resource", r.typeName).importScript!).id, r.typeName).toMatch(FORM[r.typeName]);
  });
});

describe.skipIf(!tfVersion)("examples under terraform validate (dev_overrides)", () => {
  let root: string;
  let rc: string;
  beforeAll(() => {
    root = tempRoot("capydb-docs-validate-");
    const linkDir = path.join(root, "dev-bin");
    fs.mkdirSync(linkDir);
    fs.symlinkSync(path.join(BIN_DIR, "terraform-provider-capydb"), path.join(linkDir, "terraform-provider-capydb"));
    rc = path.join(root, "dev.rc");
    fs.writeFileSync(rc, `provider_installation {\n  dev_overrides {\n    "${PROVIDER_ADDRESS}" = ${JSON.stringify(linkDir)}\n  }\n  direct {}\n}\n`);
  });
  afterAll(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  /** A directory holding the provider's example and `files`, as a user would put them together. */
  function workspace(name: string, files: Record<string, string>): Workspace {
    const ws = new Workspace(root, name, { TF_CLI_CONFIG_FILE: rc });
    fs.writeFileSync(path.join(ws.dir, "provider.tf"), read("provider/provider.tf"));
    for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(ws.dir, file), text);
    return ws;
  }

  const dirs = [
    "provider",
    ...resources.map((r) => path.posix.dirname(exampleFiles("resource", r.typeName).config)),
    ...dataSources.map((d) => path.posix.dirname(exampleFiles("data-source", d.typeName).config)),
  ];

  it.each(dirs)(
    "examples/%s is valid",
    async (dir) => {
      const files = Object.fromEntries(
        fs
          .readdirSync(path.join(EXAMPLES_DIR, dir))
          .filter((f) => f.endsWith(".tf") && f !== "provider.tf")
          .map((f) => [f, read(`${dir}/${f}`)]),
      );
      const ws = workspace(dir.replace(/\//g, "-"), files);
      const r = await ws.run(["validate"]);
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout, explain(r)).toContain("Success! The configuration is valid");
      expect(r.stdout + r.stderr, "the provider came from dev_overrides").toContain("Provider development overrides are in effect");
    },
    120_000,
  );

  it("are formatted as `terraform fmt` writes them", async () => {
    const ws = new Workspace(root, "fmt", { TF_CLI_CONFIG_FILE: rc });
    fs.cpSync(EXAMPLES_DIR, path.join(ws.dir, "examples"), { recursive: true });
    const r = await ws.run(["fmt", "-check", "-recursive", "-list=true", "examples"]);
    expect(r.code, `not formatted (run \`terraform fmt -recursive packages/terraform-provider/examples\`): ${r.stdout.trim()}\n${explain(r)}`).toBe(0);
    // The check itself: a badly indented copy is reported.
    fs.appendFileSync(path.join(ws.dir, "examples", "provider", "provider.tf"), 'locals {\n      x   = "y"\n}\n');
    const bad = await ws.run(["fmt", "-check", "-recursive", "-list=true", "examples"]);
    expect(bad.code, explain(bad)).not.toBe(0);
    expect(bad.stdout).toContain(path.join("examples", "provider", "provider.tf"));
  }, 60_000);

  it("an example made invalid fails: the provider's own checks run", async () => {
    const rel = exampleFiles("resource", "capydb_scheduled_backup").config;
    const broken = read(rel).replace(/cron_hour(\s+)= 3\b/, "cron_hour$1= 25");
    expect(broken).not.toBe(read(rel));
    const ws = workspace("broken", { "resource.tf": broken });
    const r = await ws.run(["validate"]);
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr).toContain("cron_hour: Too big: expected number to be <=23");
  }, 120_000);
});
