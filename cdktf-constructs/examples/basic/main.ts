// The example app: `node --import tsx main.ts` (or `cdktf synth`, which runs the same command
// from cdktf.json) writes cdktf.out/stacks/capydb-example/cdk.tf.json for Terraform.
//
// Context (cdktf.json "context", or CDKTF_CONTEXT_JSON='{"backupHour":5}'):
//   projectName   the project's display name (default "capydb-example")
//   backupHour    hour of the daily backup, UTC (default 3)
//   masking       true: mask the users table's personal columns in previews (once the table exists)
import { App } from "cdktf";
import { ExampleStack } from "./stack.js";

const app = new App();
const backupHour = app.node.tryGetContext("backupHour") as number | string | undefined;
new ExampleStack(app, "capydb-example", {
  projectName: app.node.tryGetContext("projectName") as string | undefined,
  backupHour: backupHour === undefined ? undefined : Number(backupHour),
  masking: [true, "true"].includes(app.node.tryGetContext("masking") as boolean | string),
});
app.synth();
