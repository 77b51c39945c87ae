// What the previews resource tells the lifecycle hooks (registered in server.ts): a
// deleted project's previews and snapshot go with it; replaced production data makes
// the snapshot stale; previews, snapshots and spares are databases that should exist.
import type { AppContext } from "../context.js";
import { dropProjectPreviews, forgetSnapshot } from "./dataplane.js";
import { expectedPreviewDatabases, retiredPreviewRoles } from "./store.js";

export function registerPreviewLifecycle(ctx: AppContext): void {
  ctx.lifecycle.onProjectDeleted("previews", (project) => dropProjectPreviews(ctx, project));
  ctx.lifecycle.onProductionReplaced("forget the snapshot", (project) => forgetSnapshot(ctx, project));
  ctx.lifecycle.expectedDatabases((clusterId) => expectedPreviewDatabases(ctx.db, clusterId));
  ctx.lifecycle.retiredRoles(async (clusterId) => (await retiredPreviewRoles(ctx.db, clusterId)).map((r) => ({ role: r.role, projectId: r.project_id })));
}
