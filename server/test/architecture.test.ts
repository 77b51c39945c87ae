// The layout rules of the server, checked on the source: each table has one writer (its
// resource's store module), and no resource imports another resource's job handlers.
// (Import cycles: `npx -y madge@8 --circular --extensions ts --ts-config tsconfig.json server/src packages/api/src`.)
import { describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src");

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith(".ts") ? [p] : [];
  });
}

const files = sources(src).map((p) => ({ rel: path.relative(src, p).split(path.sep).join("/"), text: fs.readFileSync(p, "utf8") }));

/** Each control-plane table and the one module that writes it. */
const WRITERS: Record<string, string> = {
  organizations: "organizations/store.ts",
  api_keys: "organizations/store.ts",
  organization_quotas: "organizations/store.ts",
  users: "organizations/store.ts",
  projects: "projects/store.ts",
  preview_databases: "previews/store.ts",
  project_snapshots: "previews/store.ts",
  preview_spares: "previews/store.ts",
  backups: "backups/store.ts",
  scheduled_backups: "backups/store.ts",
  cutover_requests: "cutovers/store.ts",
  uploads: "imports/store.ts",
  masking_rules: "masking/store.ts",
  masked_snapshots: "masking/store.ts",
  schema_diffs: "schemadiffs/store.ts",
  cutover_schema_reviews: "schemadiffs/store.ts",
  trust_policies: "trustpolicies/store.ts",
  oidc_access_tokens: "trustpolicies/store.ts",
  clusters: "platform/dataplane/clusters.ts",
  instances: "platform/dataplane/instances/registry.ts",
};

describe("the server's layout", () => {
  for (const [table, writer] of Object.entries(WRITERS)) {
    it(`${table} is written by ${writer} only`, () => {
      const write = new RegExp(`\\b(INSERT\\s+INTO|UPDATE|DELETE\\s+FROM)\\s+${table}\\b`, "i");
      const writers = files.filter((f) => write.test(f.text)).map((f) => f.rel);
      // the instance registry also writes the clusters row of each instance it records
      const allowed = table === "clusters" ? [writer, WRITERS.instances] : [writer];
      expect(writers.filter((w) => !allowed.includes(w))).toEqual([]);
      expect(writers).toContain(writer);
    });
  }

  it("no resource imports another resource's jobs.ts", () => {
    const resources = new Set(files.map((f) => f.rel.split("/")[0]).filter((d) => !d.endsWith(".ts") && !["platform", "http", "jobs", "cli"].includes(d)));
    const offenders = files.flatMap((f) =>
      [...f.text.matchAll(/from "\.\.\/([a-z]+)\/jobs\.js"/g)]
        .filter((m) => resources.has(m[1]) && f.rel.split("/")[0] !== m[1] && f.rel !== "jobs/handlers.ts")
        .map((m) => `${f.rel} imports ${m[1]}/jobs.ts`),
    );
    expect(offenders).toEqual([]);
  });
});
