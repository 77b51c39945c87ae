// The schema diff job: production's schema to the preview's, classified, stored as the preview's latest.
import type { AppContext } from "../context.js";
import { jobs } from "../jobs/catalogue.js";
import type { JobHandler } from "../platform/jobs/worker.js";
import { PermanentError } from "../platform/jobs/errors.js";
import { loadProject } from "../projects/store.js";
import { loadPreview } from "../previews/store.js";
import { computeSchemaDiff, summarize } from "./diff.js";
import { markReviewFailed, saveSchemaDiff } from "./store.js";
import { recordCutoverReview } from "./review.js";
import { loadCutover } from "../cutovers/store.js";
import { payloadOf } from "../platform/jobs/define.js";
import { errorMessage } from "../platform/jobs/errors.js";
import { scrubSecrets } from "../platform/jobs/scrub.js";

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
    [jobs.cutoverSchemaDiff.type]: {
      async run(job) {
        const cutoverId = payloadOf(jobs.cutoverSchemaDiff, job.job).cutover_id;
        const cut = await loadCutover(ctx.db, cutoverId);
        if (!cut) throw new PermanentError(`cutover request ${cutoverId} no longer exists`);
        const preview = await loadPreview(ctx.db, cut.preview_database_id);
        // Executed (or gone) before this job ran: the executed phase holds the evidence.
        if (!preview || preview.state !== "ready") throw new PermanentError(`preview ${cut.preview_database_id} is ${preview?.state ?? "gone"}, not ready`);
        const project = await loadProject(ctx.db, cut.project_id);
        if (!project || project.state !== "ready") throw new PermanentError(`project ${cut.project_id} is not ready`);
        await recordCutoverReview(ctx, job, cut.id, "opened", project, preview);
      },
      async cleanup(job, error) {
        const cutoverId = payloadOf(jobs.cutoverSchemaDiff, job.job).cutover_id;
        await markReviewFailed(ctx.db, cutoverId, "opened", job.job.id, scrubSecrets(errorMessage(error)));
      },
    },
  };
}
