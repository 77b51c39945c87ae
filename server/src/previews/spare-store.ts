// Dropping a project's spare clones: what the snapshot's refresh and its forgetting
// need of spares, kept apart from the spare jobs (spares.ts) so snapshots and spares
// do not import each other.
import type { AppContext } from "../context.js";
import type { ProjectRef } from "../platform/lifecycle.js";
import { dropDatabase } from "../platform/dataplane/provision.js";

/** Drops the project's spare, whatever its generation (the snapshot went or was replaced). */
export async function dropSpare(ctx: AppContext, project: ProjectRef, keepGeneration?: number): Promise<void> {
  const { rows } = await ctx.db.query<{ database_name: string }>(
    "DELETE FROM preview_spares WHERE project_id = $1 AND generation IS DISTINCT FROM $2 RETURNING database_name",
    [project.id, keepGeneration ?? null],
  );
  const admin = await ctx.clusters.pool(project.cluster_id);
  for (const r of rows) await dropDatabase(admin, r.database_name);
}
