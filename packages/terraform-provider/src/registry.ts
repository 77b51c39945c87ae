// The provider's schema and the list of its resources and data sources.
import { backupsDataSource } from "./data-sources/backups.js";
import { projectDataSource } from "./data-sources/project.js";
import type { DataSource, Resource } from "./framework/resource.js";
import { extensionResource } from "./resources/extension.js";
import { maskingRulesResource } from "./resources/masking-rules.js";
import { previewDatabaseResource } from "./resources/preview-database.js";
import { projectResource } from "./resources/project.js";
import { scheduledBackupResource } from "./resources/scheduled-backup.js";
import { trustPolicyResource } from "./resources/trust-policy.js";
import { type SchemaSpec, schemaToJson } from "./schema/schema.js";

/** Kept equal to package.json's version (a test checks it). */
export const PROVIDER_VERSION = "0.1.0";
export const PROVIDER_ADDRESS = "registry.terraform.io/capydb/capydb";

export const PROVIDER_SCHEMA: SchemaSpec = {
  version: 0,
  block: {
    description:
      "The CapyDB provider: projects, backup schedules, extensions, masking rules, preview databases and GitHub Actions trust policies on a CapyDB server.",
    attributes: {
      api_url: { type: "string", optional: true, description: "Base URL of the CapyDB API, e.g. https://capydb.example.com (default: $CAPYDB_API_URL)." },
      api_key: { type: "string", optional: true, sensitive: true, description: "An organization API key, capy_live_... (default: $CAPYDB_API_KEY)." },
    },
  },
};

export const resources: Resource[] = [
  projectResource,
  scheduledBackupResource,
  extensionResource,
  previewDatabaseResource,
  maskingRulesResource,
  trustPolicyResource,
];
export const dataSources: DataSource[] = [projectDataSource, backupsDataSource];

/** The provider's schema in the JSON format of `terraform providers schema -json`. */
export function providerSchemaJson(): Record<string, unknown> {
  const byName = <T extends { typeName: string; schema: SchemaSpec }>(items: T[]) =>
    Object.fromEntries([...items].sort((a, b) => a.typeName.localeCompare(b.typeName)).map((i) => [i.typeName, schemaToJson(i.schema)]));
  return {
    format_version: "1.0",
    provider_schemas: {
      [PROVIDER_ADDRESS]: {
        provider: schemaToJson(PROVIDER_SCHEMA),
        resource_schemas: byName(resources),
        data_source_schemas: byName(dataSources),
      },
    },
  };
}
