// Job handlers for projects: provisioning and deletion on the data plane.
import type { AppContext } from "../context.js";
import { jobs } from "../jobs/catalogue.js";
import type { JobContext, JobHandler } from "../platform/jobs/worker.js";
import { PermanentError, errorMessage } from "../platform/jobs/errors.js";
import { scrubSecrets } from "../platform/jobs/scrub.js";
import { createTenantDatabase, dropDatabase, ensureLoginRole, grantTenantDatabase } from "../platform/dataplane/provision.js";
import { adoptPublicSchema, dropTenantRole } from "../platform/dataplane/privileged.js";
import { loadProject, markProjectDeleted, markProjectFailed, markProjectReady, recordProjectError, type ProjectRow } from "./store.js";

async function projectOf(ctx: AppContext, job: JobContext): Promise<ProjectRow> {
  const project = await loadProject(ctx.db, job.job.project_id!);
  if (!project) throw new PermanentError(`project ${job.job.project_id} no longer exists`);
  return project;
}

export function projectJobHandlers(ctx: AppContext): Record<string, JobHandler> {
  return {
    [jobs.projectCreate.type]: {
      async run(job) {
        const project = await projectOf(ctx, job);
        if (project.state !== "provisioning") throw new PermanentError(`project is ${project.state}, not provisioning`);
        const password = ctx.box.open(project.role_password_sealed);
        job.addSecret(password);
        // On the instance engine the project's own PostgreSQL is made and started first.
        const instance = await ctx.instances?.instanceOf(project.cluster_id);
        if (instance) await ctx.instances!.ensureFromTemplate(instance);
        const admin = await ctx.clusters.pool(project.cluster_id);
        // Each step checks what exists, so a retried or rescued job finishes the work.
        await ensureLoginRole(admin, project.role_name, password, project);
        ctx.faults.check("project.create.after_role");
        // Schema public is handed to the role before the role may connect.
        await createTenantDatabase(admin, project.database_name, project.role_name, undefined, { grant: false });
        await adoptPublicSchema(ctx.clusters, project.cluster_id, project.database_name, project.role_name);
        await grantTenantDatabase(admin, project.database_name, project.role_name);
        ctx.faults.check("project.create.after_database");
        await ctx.pooler.sync(project.cluster_id);
        await markProjectReady(ctx.db, project.id);
      },
      async cleanup(job, error) {
        // A failed provisioning leaves neither database nor role behind.
        const project = await projectOf(ctx, job);
        const instance = await ctx.instances?.instanceOf(project.cluster_id);
        if (instance) {
          // the whole instance goes: nothing of it is anyone else's
          await ctx.instances!.destroy(instance);
        } else {
          const admin = await ctx.clusters.pool(project.cluster_id);
          await dropDatabase(admin, project.database_name);
          await dropTenantRole(ctx.clusters, project.cluster_id, project.role_name);
        }
        await markProjectFailed(ctx.db, project.id, scrubSecrets(errorMessage(error)));
        await ctx.pooler.sync(project.cluster_id).catch(() => {});
      },
    },
    [jobs.projectDelete.type]: {
      async run(job) {
        const project = await projectOf(ctx, job);
        // Every resource removes what it holds of the project (hooks registered in server.ts).
        await ctx.lifecycle.projectDeleted(project);
        await ctx.pooler.kill(project.cluster_id, project.database_name).catch(() => {});
        const instance = await ctx.instances?.instanceOf(project.cluster_id);
        if (instance) {
          if (instance.state === "active") await ctx.instances!.destroy(instance);
        } else {
          const admin = await ctx.clusters.pool(project.cluster_id);
          await dropDatabase(admin, project.database_name);
          await dropTenantRole(ctx.clusters, project.cluster_id, project.role_name);
        }
        await markProjectDeleted(ctx.db, project.id);
        await ctx.pooler.sync(project.cluster_id);
      },
      async cleanup(job, error) {
        await recordProjectError(ctx.db, job.job.project_id, scrubSecrets(errorMessage(error)));
      },
    },
  };
}
