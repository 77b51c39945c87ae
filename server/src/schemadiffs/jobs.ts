// The schema diff job: production's schema to the preview's, classified, stored as the preview's latest.
import type { AppContext } from "../context.js";
import { jobs } from "../jobs/catalogue.js";
import type { JobHandler } from "../platform/jobs/worker.js";
import { PermanentError } from "../platform/jobs/errors.js";
import { loadProject } from "../projects/store.js";
import { loadPreview } from "../previews/store.js";
import { computeSchemaDiff, summarize } from "./diff.js";
import { saveSchemaDiff } from "./store.js";

export function schemaDiffJobHandlers(ctx: AppContext): Record<string, JobHandler> {
  return {
    [jobs.previewSchemaDiff.type]: {
      async run(job) {
        const preview = await loadPreview(ctx.db, job.job.preview_database_id!);
        if (!preview || preview.state !== "ready") throw new PermanentError(`preview ${job.job.preview_database_id} is ${preview?.state ?? "gone"}, not ready`);
        const project = await loadProject(ctx.db, preview.project_id);
        if (!project || project.state !== "ready") throw new PermanentError(`project ${preview.project_id} is not ready`);
        const statements = await computeSchemaDiff(ctx, job, project, preview);
        const summary = summarize(statements);
        await saveSchemaDiff(ctx.db, { preview_database_id: preview.id, project_id: project.id, job_id: job.job.id, statements, summary });
        job.log.info({ job_id: job.job.id, ...summary }, "schema diff computed");
      },
    },
  };
}
