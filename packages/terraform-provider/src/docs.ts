// Registry-style documentation (docs/index.md, docs/resources/*.md, docs/data-sources/*.md), in
// the layout and format of the Terraform Registry and HashiCorp's tfplugindocs, generated from the
// provider's own schema (src/registry.ts) and the hand-written examples/ next to it.
//
//   npm run docs -w packages/terraform-provider              # rewrite docs/
//   npm run docs -w packages/terraform-provider -- --check   # exit 1 listing stale files
//
// The output is deterministic (attributes sorted by name, LF endings, a final newline), so the
// committed docs can be compared byte for byte with a fresh generation (test/docs.test.ts).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { CtyType } from "./cty/types.js";
import type { DataSource, Resource } from "./framework/resource.js";
import { PROVIDER_SCHEMA, dataSources, resources } from "./registry.js";
import type { AttributeSpec, BlockSpec } from "./schema/schema.js";

export const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));
export const DOCS_DIR = path.join(PACKAGE_DIR, "docs");
export const EXAMPLES_DIR = path.join(PACKAGE_DIR, "examples");
export const PROVIDER_NAME = "capydb";
export const DOCS_COMMAND = "npm run docs -w packages/terraform-provider";

/** The environment variable each provider argument falls back to (src/provider.ts, configureProvider). */
export const PROVIDER_ENV: Readonly<Record<string, string>> = { api_url: "CAPYDB_API_URL", api_key: "CAPYDB_API_KEY" };

type Kind = "resource" | "data-source";

/** A doc page's path under docs/: the type name without the provider's prefix. */
export function docPath(kind: Kind, typeName: string): string {
  return `${kind === "resource" ? "resources" : "data-sources"}/${typeName.replace(/^capydb_/, "")}.md`;
}

/** The example files of a type, relative to examples/. */
export function exampleFiles(kind: Kind, typeName: string): { config: string; importScript?: string } {
  if (kind === "resource") return { config: `resources/${typeName}/resource.tf`, importScript: `resources/${typeName}/import.sh` };
  return { config: `data-sources/${typeName}/data-source.tf` };
}

// ---------------------------------------------------------------- types and attribute lines

const SCALAR: Readonly<Record<string, string>> = { string: "String", number: "Number", bool: "Boolean" };

/** tfplugindocs' name of an attribute's type: String, List of String, Map of Number, List of Object... */
function typeName(t: CtyType): string {
  if (typeof t === "string") return SCALAR[t];
  if ("list" in t) return `List of ${typeName(t.list)}`;
  if ("set" in t) return `Set of ${typeName(t.set)}`;
  if ("map" in t) return `Map of ${typeName(t.map)}`;
  return "Object";
}

/** The object type an attribute's values are made of (an object, or a collection of objects), if any. */
function objectOf(t: CtyType): Record<string, CtyType> | undefined {
  if (typeof t === "string") return undefined;
  if ("object" in t) return t.object;
  const inner = "list" in t ? t.list : "set" in t ? t.set : t.map;
  return typeof inner !== "string" && "object" in inner ? inner.object : undefined;
}

/** One line of a list of attributes, with its nested section when it has one. */
interface Entry {
  name: string;
  line: string;
  nested?: Section;
}

/** A "Nested Schema for `x`" section: its anchor and its grouped entries. */
interface Section {
  anchor: string;
  title: string;
  groups: Group[];
}

interface Group {
  label: "Required" | "Optional" | "Read-Only";
  entries: Entry[];
}

/** The text on one line (descriptions are plain text, written on one line). */
function oneLine(text: string | undefined): string {
  return (text ?? "").replace(/\s+/g, " ").trim();
}

/**
 * A plain-text description as Markdown on one line: outside `code spans`, the characters that
 * would start emphasis or raw HTML (the "*" of a ref pattern, the "<name>" of an id form) are escaped.
 */
function markdown(text: string | undefined): string {
  return oneLine(text)
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 ? part : part.replace(/([\\*<])/g, "\\$1")))
    .join("");
}

function groupOf(a: { required?: boolean; optional?: boolean }): Group["label"] {
  return a.required ? "Required" : a.optional ? "Optional" : "Read-Only";
}

function see(anchor: string): string {
  return `(see [below for nested schema](#${anchor}))`;
}

function attributeEntry(name: string, a: AttributeSpec, prefix: string): Entry {
  const anchor = `nestedatt--${prefix}${name}`;
  let type: string;
  let nested: Section | undefined;
  if (a.nested) {
    type = "Attributes List";
    nested = { anchor, title: `${prefix.replace(/--/g, ".")}${name}`, groups: attributeGroups(a.nested.attributes, `${prefix}${name}--`) };
  } else {
    type = typeName(a.type);
    const object = objectOf(a.type);
    if (object) {
      // An object-typed attribute is read-only data here (uncovered_columns, backups): its fields
      // are listed as tfplugindocs lists them, all under the attribute's own group.
      const fields: Record<string, AttributeSpec> = Object.fromEntries(
        Object.entries(object).map(([n, t]) => [n, { type: t, description: "", computed: a.computed, optional: a.optional, required: a.required }]),
      );
      nested = { anchor, title: `${prefix.replace(/--/g, ".")}${name}`, groups: attributeGroups(fields, `${prefix}${name}--`) };
    }
  }
  const flags = a.sensitive ? `${type}, Sensitive` : type;
  const text = [markdown(a.description), nested ? see(anchor) : ""].filter(Boolean).join(" ");
  return { name, line: `- \`${name}\` (${flags})${text ? ` ${text}` : ""}`, nested };
}

function attributeGroups(attributes: Record<string, AttributeSpec>, prefix: string): Group[] {
  return group(Object.entries(attributes).map(([name, a]) => ({ spec: a, entry: attributeEntry(name, a, prefix) })));
}

function group(items: Array<{ spec: { required?: boolean; optional?: boolean }; entry: Entry }>): Group[] {
  const out: Group[] = [];
  for (const label of ["Required", "Optional", "Read-Only"] as const) {
    const entries = items
      .filter((i) => groupOf(i.spec) === label)
      .map((i) => i.entry)
      .sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    if (entries.length) out.push({ label, entries });
  }
  return out;
}

/** The groups of a block: its attributes, and its nested blocks (each optional: SINGLE nesting). */
function blockGroups(block: BlockSpec): Group[] {
  const items = Object.entries(block.attributes).map(([name, a]) => ({
    spec: a as { required?: boolean; optional?: boolean },
    entry: attributeEntry(name, a, ""),
  }));
  for (const [name, b] of Object.entries(block.blocks ?? {})) {
    const anchor = `nestedblock--${name}`;
    const section: Section = { anchor, title: name, groups: attributeGroups(b.block.attributes, `${name}--`) };
    const text = [markdown(b.block.description), see(anchor)].filter(Boolean).join(" ");
    items.push({ spec: { optional: true }, entry: { name, line: `- \`${name}\` (Block, Optional) ${text}`, nested: section } });
  }
  return group(items);
}

/** Every nested section below `groups`, depth first in the order of the entries. */
function sections(groups: Group[]): Section[] {
  const out: Section[] = [];
  for (const g of groups)
    for (const e of g.entries) {
      if (e.nested) out.push(e.nested, ...sections(e.nested.groups));
    }
  return out;
}

/** The "## Schema" part of a page, in tfplugindocs' format. */
function schemaMarkdown(block: BlockSpec): string {
  const groups = blockGroups(block);
  const parts = ["<!-- schema generated by src/docs.ts -->\n## Schema"];
  for (const g of groups) parts.push(`### ${g.label}`, g.entries.map((e) => e.line).join("\n"));
  for (const s of sections(groups)) {
    parts.push(`<a id="${s.anchor}"></a>\n### Nested Schema for \`${s.title}\``);
    for (const g of s.groups) parts.push(`${g.label}:`, g.entries.map((e) => e.line).join("\n"));
  }
  return parts.join("\n\n");
}

// ---------------------------------------------------------------- pages

/** YAML front matter with a block scalar description, as tfplugindocs writes it. */
function frontMatter(pageTitle: string, description: string): string {
  return [
    "---",
    `# generated by src/docs.ts (${DOCS_COMMAND}): do not edit`,
    `page_title: "${pageTitle}"`,
    'subcategory: ""',
    "description: |-",
    `  ${oneLine(description)}`,
    "---",
  ].join("\n");
}

/** An example file's text, without trailing blank lines. */
function example(examplesDir: string, rel: string): string {
  const file = path.join(examplesDir, rel);
  if (!fs.existsSync(file)) throw new Error(`missing example ${path.relative(PACKAGE_DIR, file)}: write it, then run \`${DOCS_COMMAND}\``);
  return fs.readFileSync(file, "utf8").replace(/\r\n/g, "\n").replace(/\s+$/, "");
}

function typePage(kind: Kind, item: Resource | DataSource, examplesDir: string): string {
  const label = kind === "resource" ? "Resource" : "Data Source";
  const description = item.schema.block.description ?? "";
  const files = exampleFiles(kind, item.typeName);
  const parts = [
    frontMatter(`${item.typeName} ${label} - terraform-provider-${PROVIDER_NAME}`, description),
    `# ${item.typeName} (${label})`,
    markdown(description),
    "## Example Usage",
    "```terraform\n" + example(examplesDir, files.config) + "\n```",
    schemaMarkdown(item.schema.block),
  ];
  if (files.importScript) {
    parts.push("## Import", "Import is supported using the following syntax:", "```shell\n" + example(examplesDir, files.importScript) + "\n```");
  }
  return parts.join("\n\n") + "\n";
}

function indexPage(examplesDir: string): string {
  const block = PROVIDER_SCHEMA.block;
  const withEnv: BlockSpec = {
    ...block,
    attributes: Object.fromEntries(
      Object.entries(block.attributes).map(([name, a]) => {
        const env = PROVIDER_ENV[name];
        return [name, env && !a.description.includes(`$${env}`) ? { ...a, description: `${a.description} Defaults to the ${env} environment variable.` } : a];
      }),
    ),
  };
  const resourceList = [...resources]
    .map((r) => r.typeName)
    .sort()
    .map((t) => `- [${t}](${docPath("resource", t)})`)
    .join("\n");
  const dataSourceList = [...dataSources]
    .map((d) => d.typeName)
    .sort()
    .map((t) => `- [${t}](${docPath("data-source", t)})`)
    .join("\n");
  const parts = [
    frontMatter(`${PROVIDER_NAME} Provider`, block.description ?? ""),
    `# ${PROVIDER_NAME} Provider`,
    markdown(block.description),
    "## Example Usage",
    "```terraform\n" + example(examplesDir, "provider/provider.tf") + "\n```",
    schemaMarkdown(withEnv),
    "## Authentication",
    [
      "The provider calls the CapyDB API with an organization API key (`capy_live_...`); a platform-admin key works too,",
      "and then each `capydb_project` needs its `organization_id`. Give the key in the `CAPYDB_API_KEY` environment",
      "variable rather than in the configuration, and the server's base URL in `api_url` or `CAPYDB_API_URL`.",
      "The key never appears in the provider's logs or diagnostics.",
    ].join("\n"),
    "## Installing",
    [
      "The provider is not on the public Terraform Registry: a CapyDB server serves its releases and a",
      "[provider network mirror](https://developer.hashicorp.com/terraform/internals/provider-network-mirror-protocol)",
      "under `/terraform/providers/v1/`. Point Terraform's CLI configuration at it, then run `terraform init`:",
      "",
      "```hcl",
      "provider_installation {",
      "  network_mirror {",
      '    url     = "https://capydb.example.com/terraform/providers/v1/"',
      '    include = ["registry.terraform.io/capydb/capydb"]',
      "  }",
      "  direct {",
      '    exclude = ["registry.terraform.io/capydb/capydb"]',
      "  }",
      "}",
      "```",
    ].join("\n"),
    "## Resources",
    resourceList,
    "## Data Sources",
    dataSourceList,
  ];
  return parts.join("\n\n") + "\n";
}

/** Every page, by its path under docs/ (sorted). */
export function renderDocs(examplesDir = EXAMPLES_DIR): Map<string, string> {
  const pages: Array<[string, string]> = [["index.md", indexPage(examplesDir)]];
  for (const r of resources) pages.push([docPath("resource", r.typeName), typePage("resource", r, examplesDir)]);
  for (const d of dataSources) pages.push([docPath("data-source", d.typeName), typePage("data-source", d, examplesDir)]);
  return new Map(pages.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The files under `dir`, relative to it, with "/" separators, sorted. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (sub: string) => {
    for (const e of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${e.name}` : e.name;
      if (e.isDirectory()) walk(rel);
      else out.push(rel);
    }
  };
  walk("");
  return out.sort();
}

/** The files of `docsDir` that differ from a fresh generation, are missing, or should not be there. */
export function staleDocs(docsDir = DOCS_DIR, examplesDir = EXAMPLES_DIR): string[] {
  const fresh = renderDocs(examplesDir);
  const stale = new Set<string>();
  for (const [rel, text] of fresh) {
    const file = path.join(docsDir, rel);
    if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text) stale.add(rel);
  }
  for (const rel of listFiles(docsDir)) if (!fresh.has(rel)) stale.add(rel);
  return [...stale].sort();
}

/** Writes docs/ afresh (files no longer generated are removed); answers the paths written. */
export function writeDocs(docsDir = DOCS_DIR, examplesDir = EXAMPLES_DIR): string[] {
  const fresh = renderDocs(examplesDir);
  for (const rel of listFiles(docsDir)) if (!fresh.has(rel)) fs.rmSync(path.join(docsDir, rel));
  for (const [rel, text] of fresh) {
    fs.mkdirSync(path.dirname(path.join(docsDir, rel)), { recursive: true });
    fs.writeFileSync(path.join(docsDir, rel), text);
  }
  return [...fresh.keys()];
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--check")) {
    const stale = staleDocs();
    if (stale.length) {
      console.error(`stale docs (run \`${DOCS_COMMAND}\`):\n${stale.map((f) => `  docs/${f}`).join("\n")}`);
      process.exit(1);
    }
    console.log(`docs/ is up to date (${renderDocs().size} pages)`);
  } else {
    const written = writeDocs();
    console.log(`wrote ${written.length} pages under docs/`);
  }
}
