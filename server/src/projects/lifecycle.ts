// What the projects resource tells the lifecycle hooks (registered in server.ts).
import type { AppContext } from "../context.js";
import { liveProjectDatabaseNames, retiredProjectRoles } from "./store.js";

export function registerProjectLifecycle(ctx: AppContext): void {
  ctx.lifecycle.expectedDatabases((clusterId) => liveProjectDatabaseNames(ctx.db, clusterId));
  ctx.lifecycle.retiredRoles((clusterId) => retiredProjectRoles(ctx.db, clusterId));
}
