// A schema cutover's one write to production: the reviewed statements, in one transaction as
// the project's own role (DDL as the owner of what it changes: no platform right is lent to
// the tenant's schema), with a short lock_timeout so production's traffic waits at most that
// long behind it, retried with backoff when a lock could not be had. Any other failure rolls
// everything back: production is left as it was.
import type { AppContext } from "../context.js";
import type { JobContext } from "../platform/jobs/worker.js";
import { PermanentError, errorMessage } from "../platform/jobs/errors.js";
import { withTenantSession } from "../platform/dataplane/tenant-session.js";
import { projectLogin } from "../projects/login.js";
import type { ProjectRow } from "../projects/store.js";
import type { Statement } from "./risk.js";

const LOCK_NOT_AVAILABLE = "55P03";

class StatementFailed extends Error {
  constructor(
    readonly index: number,
    readonly cause: unknown,
  ) {
    super(errorMessage(cause));
  }
}

/** Applies `statements` to production; answers how many attempts it took. */
export async function applyReviewedSchema(ctx: AppContext, job: JobContext, project: ProjectRow, statements: Statement[]): Promise<{ attempts: number }> {
  const login = projectLogin(ctx, job, project);
  const attempts = ctx.config.schemaCutoverAttempts;
  for (let attempt = 1; ; attempt++) {
    try {
      await withTenantSession(ctx.clusters, project.cluster_id, project.database_name, login, async (c) => {
        await c.query("BEGIN");
        try {
          await c.query(`SET LOCAL lock_timeout = '${ctx.config.schemaCutoverLockTimeoutMs}ms'`);
          // the tenant's own path for the tenant's own statements (as its migrations ran in the preview)
          await c.query(`SET LOCAL search_path = "$user", public`);
          for (let i = 0; i < statements.length; i++) {
            ctx.faults.check("schema_cutover.statement");
            await c.query(statements[i].sql).catch((err) => {
              throw new StatementFailed(i, err);
            });
          }
          await c.query("COMMIT");
        } catch (err) {
          await c.query("ROLLBACK").catch(() => {});
          throw err;
        }
      });
      return { attempts: attempt };
    } catch (err) {
      const cause = err instanceof StatementFailed ? err.cause : err;
      const locked = (cause as { code?: string }).code === LOCK_NOT_AVAILABLE;
      if (locked && attempt < attempts) {
        job.log.info({ attempt, job_id: job.job.id }, "a schema cutover waited too long for a lock: rolled back, trying again");
        await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)));
        continue;
      }
      if (locked) {
        throw new PermanentError(
          `production's tables stayed locked by its own traffic: ${attempts} attempts with lock_timeout ${ctx.config.schemaCutoverLockTimeoutMs} ms each failed; nothing was changed`,
        );
      }
      if (err instanceof StatementFailed) {
        const sql = statements[err.index].sql.replace(/\s+/g, " ").slice(0, 200);
        throw new PermanentError(`statement ${err.index + 1} of ${statements.length} failed (${sql}): ${err.message}; nothing was changed (one transaction)`);
      }
      throw err;
    }
  }
}
