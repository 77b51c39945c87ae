// The import job: preflight again, copy into a new database as the project's
// role, and swap it in by rename only when the copy succeeded.
import type { AppContext } from "../context.js";
import type { JobHandler } from "../platform/jobs/worker.js";
import { PermanentError } from "../platform/jobs/errors.js";
import { dropDatabase, prepareEmptyTenantDatabase } from "../platform/dataplane/provision.js";
import { tenantEndpoint } from "../platform/dataplane/tenant-session.js";
import { finishTools, startDump, startRestore, TOLERATED_RESTORE_ERRORS } from "../platform/dataplane/pgtools.js";
import { loadProject, type ProjectRow } from "../projects/service.js";
import { forgetSnapshot } from "../previews/dataplane.js";
import { swapDatabase } from "../backups/jobs.js";
import { NotAnArchive, sniffArchive } from "./archive.js";
import { preflight } from "./preflight.js";
import { sourceEndpoint } from "./source.js";

const buildName = (p: ProjectRow) => `${p.database_name}_im`;
const oldName = (p: ProjectRow) => `${p.database_name}_pre`;

/**
 * An empty database for the project's role. The source's untrusted extensions (the
 * preflight checked them against the allowlist) are made by the platform in schema
 * public, where the source's dump expects them: safe because the database is new
 * and no tenant can connect to it yet (checked by the privileged module).
 */
async function prepareBuild(ctx: AppContext, project: ProjectRow, extensions: string[]): Promise<void> {
  const admin = await ctx.clusters.pool(project.cluster_id);
  const { rows } = await admin.query<{ name: string; trusted: boolean }>(
    `SELECT a.name, coalesce(v.trusted, false) AS trusted FROM pg_available_extensions a
     LEFT JOIN pg_available_extension_versions v ON v.name = a.name AND v.version = a.default_version WHERE a.name = ANY($1::text[])`,
    [extensions],
  );
  const untrusted = rows.filter((e) => !e.trusted && ctx.config.extensionAllowlist.includes(e.name)).map((e) => ({ name: e.name, schema: "public" }));
  await prepareEmptyTenantDatabase(ctx.clusters, project.cluster_id, buildName(project), project.role_name, untrusted);
}

export function importJobHandlers(ctx: AppContext): Record<string, JobHandler> {
  return {
    "import.run": {
      async run(job) {
        const project = await loadProject(ctx.db, job.job.project_id!);
        if (!project || project.state !== "ready") throw new PermanentError(`project ${job.job.project_id} is not ready`);
        const password = ctx.box.open(project.role_password_sealed);
        job.addSecret(password);
        const target = await tenantEndpoint(ctx.clusters, project.cluster_id, buildName(project), { role: project.role_name, password });
        const payload = job.job.payload as { source_url_sealed?: string; object_key?: string; replace: boolean };
        if (payload.source_url_sealed) {
          const url = ctx.box.open(payload.source_url_sealed);
          const checks = await preflight(ctx, project, url);
          if (checks.checked) job.addSecret(checks.checked.password);
          const failed = checks.checks.filter((c) => c.status === "fail" || (c.name === "target_empty" && c.status !== "pass" && !payload.replace));
          if (failed.length) throw new PermanentError(`preflight failed: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`);
          await prepareBuild(ctx, project, checks.source.extensions.map((e) => e.name));
          ctx.faults.check("import.before_copy");
          const dump = startDump(job, sourceEndpoint(checks.checked!), { binDir: ctx.config.pgBinDir });
          const restore = startRestore(job, target, ctx.config.pgBinDir);
          dump.stdout.pipe(restore.stdin);
          await finishTools(job, [dump, restore], TOLERATED_RESTORE_ERRORS);
        } else {
          const key = payload.object_key!;
          let sniffed;
          try {
            sniffed = await sniffArchive(await ctx.blobs.get(key));
          } catch (err) {
            if (err instanceof NotAnArchive) throw new PermanentError(err.message);
            throw err;
          }
          await prepareBuild(ctx, project, []);
          const restore = startRestore(job, target, ctx.config.pgBinDir);
          sniffed.stream.on("error", (err) => restore.stdin.destroy(err));
          sniffed.stream.pipe(restore.stdin);
          await finishTools(job, [restore], TOLERATED_RESTORE_ERRORS);
        }
        ctx.faults.check("import.after_copy");
        await swapDatabase(ctx, project, buildName(project), oldName(project));
        // Previews made from now on must hold the imported data, not a snapshot of the replaced one.
        await forgetSnapshot(ctx, project);
        await ctx.pooler.sync(project.cluster_id);
        if (payload.object_key) await ctx.blobs.delete(payload.object_key).catch(() => {});
      },
      async cleanup(job) {
        // The project keeps its previous data: only the build goes, and the uploaded
        // dump with it (the upload was single-use: nothing else will import it).
        const { object_key } = job.job.payload as { object_key?: string };
        try {
          const project = await loadProject(ctx.db, job.job.project_id!);
          if (!project) return;
          const admin = await ctx.clusters.pool(project.cluster_id);
          await dropDatabase(admin, buildName(project));
        } finally {
          if (object_key) await ctx.blobs.delete(object_key);
        }
      },
    },
  };
}
