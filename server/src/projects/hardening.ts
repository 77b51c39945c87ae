// Hardening that databases made before a platform upgrade did not inherit from
// template1: a scheduler task applies it to each once.
import type { AppContext } from "../context.js";
import { hideOtherSessions } from "../platform/dataplane/privileged.js";
import { errorMessage } from "../platform/jobs/errors.js";
import { markSessionsHidden, projectsWithSessionsShown } from "./store.js";

/** Takes session visibility from PUBLIC in project databases made before template1 had it; answers how many. */
export async function hideSessionsInOlderDatabases(ctx: AppContext, batch = 20): Promise<number> {
  const rows = await projectsWithSessionsShown(ctx.db, batch);
  let done = 0;
  for (const p of rows) {
    try {
      await hideOtherSessions(ctx.clusters, p.cluster_id, p.database_name);
      await markSessionsHidden(ctx.db, p.id);
      done++;
    } catch (err) {
      // a swap in progress or the cluster down: the next pass tries again
      ctx.log.warn({ project_id: p.id, err: errorMessage(err) }, "could not hide other sessions in an older project database");
    }
  }
  return done;
}
