// Enabling and disabling extensions inside a project's database.
import type { AppContext } from "../context.js";
import type { JobHandler } from "../platform/jobs/worker.js";
import { PermanentError } from "../platform/jobs/errors.js";
import { quoteIdent } from "../platform/dataplane/sql.js";
import { loadProject } from "../projects/service.js";

export function extensionJobHandlers(ctx: AppContext): Record<string, JobHandler> {
  async function target(projectId: string) {
    const project = await loadProject(ctx.db, projectId);
    if (!project || project.state !== "ready") throw new PermanentError(`project ${projectId} is not ready`);
    return project;
  }
  return {
    "extension.enable": {
      async run(job) {
        const { name, trusted } = job.job.payload as { name: string; trusted: boolean };
        const project = await target(job.job.project_id!);
        await ctx.clusters.withDatabase(project.cluster_id, project.database_name, async (c) => {
          // Trusted extensions are created as the project's role, so the tenant owns
          // them; allowlisted untrusted ones need the superuser.
          if (trusted) await c.query(`SET ROLE ${quoteIdent(project.role_name)}`);
          await c.query(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(name)} CASCADE`);
        });
      },
    },
    "extension.disable": {
      async run(job) {
        const { name } = job.job.payload as { name: string };
        const project = await target(job.job.project_id!);
        await ctx.clusters.withDatabase(project.cluster_id, project.database_name, async (c) => {
          // No CASCADE: when other objects depend on it, Postgres's refusal (2BP01)
          // fails the job with its reason instead of dropping the user's objects.
          await c.query(`DROP EXTENSION IF EXISTS ${quoteIdent(name)}`);
        });
      },
    },
  };
}
