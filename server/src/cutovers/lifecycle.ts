// What the cutovers resource tells the lifecycle hooks (registered in server.ts): a
// deleted project's previous production databases go, its open requests are canceled;
// a previous production kept for its rollback window should exist.
import type { AppContext } from "../context.js";
import { dropProjectCutoverLeftovers } from "./jobs.js";

export function registerCutoverLifecycle(ctx: AppContext): void {
  ctx.lifecycle.onProjectDeleted("cutover leftovers", (project) => dropProjectCutoverLeftovers(ctx, project));
  ctx.lifecycle.expectedDatabases(async (clusterId) =>
    (
      await ctx.db.query<{ name: string }>(
        `SELECT c.previous_database_name AS name FROM cutover_requests c JOIN projects p ON p.id = c.project_id
       WHERE p.cluster_id = $1 AND c.previous_database_name IS NOT NULL AND c.previous_dropped_at IS NULL`,
        [clusterId],
      )
    ).rows.map((r) => r.name),
  );
}
