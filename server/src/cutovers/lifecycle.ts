// What the cutovers resource tells the lifecycle hooks (registered in server.ts): a
// deleted project's previous production databases go, its open requests are canceled;
// a previous production kept for its rollback window should exist.
import type { AppContext } from "../context.js";
import { dropProjectCutoverLeftovers } from "./jobs.js";
import { keptPreviousOnCluster } from "./store.js";

export function registerCutoverLifecycle(ctx: AppContext): void {
  ctx.lifecycle.onProjectDeleted("cutover leftovers", (project) => dropProjectCutoverLeftovers(ctx, project));
  ctx.lifecycle.expectedDatabases((clusterId) => keptPreviousOnCluster(ctx.db, clusterId));
}
