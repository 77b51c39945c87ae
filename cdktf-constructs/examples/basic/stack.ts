// The example stack: one CapyDB project with pgcrypto and citext, a daily 03:30 UTC backup kept
// 14 days, and its connection details as outputs; with `masking`, rules that mask the personal
// columns of its users table in previews.
import { TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { CapyProject, CapyProvider } from "@capydb/cdktf-constructs";

export interface ExampleStackProps {
  /** @default "capydb-example" */
  readonly projectName?: string;
  /** Hour of the daily backup, UTC. @default 3 */
  readonly backupHour?: number;
  /**
   * Declare masking rules for the `users` table (email, full_name, born_on). The server checks
   * rules against the project's tables, so turn this on once the application's migrations have
   * created that table. @default false
   */
  readonly masking?: boolean;
}

export class ExampleStack extends TerraformStack {
  readonly project: CapyProject;

  constructor(scope: Construct, id: string, props: ExampleStackProps = {}) {
    super(scope, id);

    // No props: the provider reads CAPYDB_API_URL and CAPYDB_API_KEY when Terraform runs, so the
    // key never lands in cdk.tf.json.
    new CapyProvider(this, "capydb");

    this.project = new CapyProject(this, "db", {
      name: props.projectName ?? "capydb-example",
      settings: { statementTimeout: "30s" },
      extensions: ["pgcrypto", "citext"],
      backupSchedule: { hour: props.backupHour ?? 3, minute: 30, retentionDays: 14 },
      masking: props.masking
        ? {
            rules: [
              { table: "users", column: "email", strategy: "email" },
              { table: "users", column: "full_name", strategy: "name" },
              { table: "users", column: "born_on", strategy: "date_shift", days: 30 },
            ],
          }
        : undefined,
    });

    new TerraformOutput(this, "project_id", { value: this.project.projectId });
    new TerraformOutput(this, "database_name", { value: this.project.databaseName });
    new TerraformOutput(this, "role_name", { value: this.project.roleName });
    new TerraformOutput(this, "host", { value: this.project.host });
    new TerraformOutput(this, "port", { value: this.project.port });
    new TerraformOutput(this, "pooled_port", { value: this.project.pooledPort });
    new TerraformOutput(this, "ssl_mode", { value: this.project.sslMode });
    new TerraformOutput(this, "connection_uri", { value: this.project.connectionUri, sensitive: true });
  }
}
