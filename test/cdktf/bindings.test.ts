// The committed L1 bindings (cdktf-constructs/src/.gen) are what `npm run generate` makes from the
// provider's current schema: regenerate into a scratch directory and compare file by file.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GENERATED_DIR,
  type ProviderDescription,
  diffTrees,
  generateBindings,
  listFiles,
  readProvider,
} from "../../cdktf-constructs/scripts/generate-bindings.js";
import { PROVIDER_VERSION } from "../../packages/terraform-provider/src/registry.js";
import { tempDir } from "./support.js";

describe("generated bindings (cdktf-constructs/src/.gen)", () => {
  const scratch = tempDir("capydb-bindings-test-");
  let provider: ProviderDescription;
  beforeAll(async () => {
    provider = await readProvider();
  }, 60_000);
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it("are exactly what a fresh generation from the provider's schema writes (else: npm run generate -w cdktf-constructs)", async () => {
    expect(provider.version).toBe(PROVIDER_VERSION);
    const fresh = path.join(scratch, "gen");
    await generateBindings(fresh, provider);

    const stale = diffTrees(fresh, GENERATED_DIR);
    expect(stale, `stale generated files (run \`npm run generate -w cdktf-constructs\`): ${stale.join(", ")}`).toEqual([]);
    expect(listFiles(GENERATED_DIR)).toEqual(expect.arrayContaining(["providers/capydb/project/index.ts", "providers/capydb/provider/index.ts"]));
  }, 120_000);

  it("cover every resource and data source of the schema, and pin the provider version", () => {
    const schemas = Object.values(provider.schema.provider_schemas)[0] as { resource_schemas: object; data_source_schemas: object };
    const generated = fs.readFileSync(path.join(GENERATED_DIR, "providers", "capydb", "index.ts"), "utf8");
    const modules = [
      ...Object.keys(schemas.resource_schemas).map((t) => t.replace(/^capydb_/, "")),
      ...Object.keys(schemas.data_source_schemas).map((t) => `data-${t}`),
    ].map((m) => m.replace(/_/g, "-"));
    expect(modules.length).toBeGreaterThanOrEqual(6);
    for (const m of modules) expect(generated).toContain(`from './${m}/index.js'`);
    const project = fs.readFileSync(path.join(GENERATED_DIR, "providers", "capydb", "project", "index.ts"), "utf8");
    expect(project).toContain(`providerVersion: '${provider.version}'`);
  });

  it("notice a change: a binding edited by hand, or a file missing, is reported", async () => {
    const copy = path.join(scratch, "copy");
    fs.cpSync(GENERATED_DIR, copy, { recursive: true });
    expect(diffTrees(GENERATED_DIR, copy)).toEqual([]);
    const projectFile = path.join(copy, "providers", "capydb", "project", "index.ts");
    fs.appendFileSync(projectFile, "\n// edited\n");
    fs.rmSync(path.join(copy, "providers", "capydb", "extension", "README.md"));
    expect(diffTrees(GENERATED_DIR, copy)).toEqual(["providers/capydb/extension/README.md", "providers/capydb/project/index.ts"]);
  });
});
