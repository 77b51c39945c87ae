// What the projects resource tells the lifecycle hooks (registered in server.ts).
import type { AppContext } from "../context.js";

export function registerProjectLifecycle(ctx: AppContext): void {
  ctx.lifecycle.expectedDatabases(async (clusterId) =>
    (
      await ctx.db.query<{ name: string }>("SELECT database_name AS name FROM projects WHERE cluster_id = $1 AND state IN ('provisioning', 'ready')", [
        clusterId,
      ])
    ).rows.map((r) => r.name),
  );
  ctx.lifecycle.retiredRoles(async (clusterId) =>
    (
      await ctx.db.query<{ role: string; project_id: string }>(
        "SELECT role_name AS role, id AS project_id FROM projects WHERE cluster_id = $1 AND state IN ('deleted', 'failed')",
        [clusterId],
      )
    ).rows.map((r) => ({ role: r.role, projectId: r.project_id })),
  );
}
