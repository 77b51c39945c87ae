// What the previews resource tells the lifecycle hooks (registered in server.ts): a
// deleted project's previews and snapshot go with it; replaced production data makes
// the snapshot stale; previews, snapshots and spares are databases that should exist.
import type { AppContext } from "../context.js";
import { dropProjectPreviews, forgetSnapshot } from "./dataplane.js";

export function registerPreviewLifecycle(ctx: AppContext): void {
  ctx.lifecycle.onProjectDeleted("previews", (project) => dropProjectPreviews(ctx, project));
  ctx.lifecycle.onProductionReplaced("forget the snapshot", (project) => forgetSnapshot(ctx, project));
  ctx.lifecycle.expectedDatabases(async (clusterId) =>
    (
      await ctx.db.query<{ name: string }>(
        `SELECT database_name AS name FROM preview_databases WHERE cluster_id = $1 AND state IN ('creating', 'ready', 'resetting')
       UNION ALL SELECT database_name FROM project_snapshots WHERE cluster_id = $1
       UNION ALL SELECT database_name FROM preview_spares WHERE cluster_id = $1`,
        [clusterId],
      )
    ).rows.map((r) => r.name),
  );
  ctx.lifecycle.retiredRoles(async (clusterId) =>
    (
      await ctx.db.query<{ role: string; project_id: string }>(
        "SELECT role_name AS role, project_id FROM preview_databases WHERE cluster_id = $1 AND state IN ('deleted', 'failed', 'promoted')",
        [clusterId],
      )
    ).rows.map((r) => ({ role: r.role, projectId: r.project_id })),
  );
}
