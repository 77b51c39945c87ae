// Enabling and disabling extensions inside a project's database.
import type { AppContext } from "../context.js";
import { jobs } from "../jobs/catalogue.js";
import { payloadOf } from "../platform/jobs/define.js";
import type { JobHandler } from "../platform/jobs/worker.js";
import { PermanentError } from "../platform/jobs/errors.js";
import { quoteIdent } from "../platform/dataplane/sql.js";
import { withTenantSession, type TenantLogin } from "../platform/dataplane/tenant-session.js";
import { disableUntrustedExtension, enableUntrustedExtension, UnsafeDatabaseError } from "../platform/dataplane/privileged.js";
import { loadProject } from "../projects/store.js";

export function extensionJobHandlers(ctx: AppContext): Record<string, JobHandler> {
  async function target(projectId: string) {
    const project = await loadProject(ctx.db, projectId);
    if (!project || project.state !== "ready") throw new PermanentError(`project ${projectId} is not ready`);
    return project;
  }
  const loginOf = (project: { role_name: string; role_password_sealed: string }): TenantLogin => ({
    role: project.role_name,
    password: ctx.box.open(project.role_password_sealed),
  });
  return {
    [jobs.extensionEnable.type]: {
      async run(job) {
        const { name, trusted } = payloadOf(jobs.extensionEnable, job.job);
        const project = await target(job.job.project_id!);
        const login = loginOf(project);
        job.addSecret(login.password);
        if (trusted) {
          // Created by the project's own role (a login as it, not SET ROLE), so the tenant owns it.
          // In the role's usual schema (public), as for a user's own CREATE EXTENSION: our sessions otherwise resolve in pg_catalog only.
          await withTenantSession(ctx.clusters, project.cluster_id, project.database_name, login, async (c) => {
            await c.query(`SET search_path = "$user", public`);
            await c.query(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(name)} CASCADE`);
          });
          return;
        }
        // Allow-listed untrusted ones need the superuser: the reviewed privileged module, into the platform's schema.
        if (!ctx.config.extensionAllowlist.includes(name)) throw new PermanentError(`extension "${name}" is not on this platform's allowlist`);
        try {
          await enableUntrustedExtension(ctx.clusters, project.cluster_id, project.database_name, name);
        } catch (err) {
          if (err instanceof UnsafeDatabaseError) throw new PermanentError(err.message);
          throw err;
        }
      },
    },
    [jobs.extensionDisable.type]: {
      async run(job) {
        const { name } = payloadOf(jobs.extensionDisable, job.job);
        const project = await target(job.job.project_id!);
        const login = loginOf(project);
        job.addSecret(login.password);
        // No CASCADE: when other objects depend on it, Postgres's refusal (2BP01)
        // fails the job with its reason instead of dropping the user's objects.
        const owner = await withTenantSession(ctx.clusters, project.cluster_id, project.database_name, login, async (c) => {
          const { rows } = await c.query<{ mine: boolean }>(
            `SELECT e.extowner OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) AS mine
             FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) $1::pg_catalog.name`,
            [name],
          );
          if (rows[0]?.mine) await c.query(`DROP EXTENSION IF EXISTS ${quoteIdent(name)}`);
          return rows[0] ? (rows[0].mine ? "tenant" : "platform") : "none";
        });
        if (owner !== "platform") return;
        if (!ctx.config.extensionAllowlist.includes(name)) {
          throw new PermanentError(`extension "${name}" was not enabled through this platform and cannot be disabled here`);
        }
        await disableUntrustedExtension(ctx.clusters, project.cluster_id, project.database_name, name);
      },
    },
  };
}
