// Imports: validating a request and enqueueing the job that performs it.
import { recordLatestJob } from "../projects/store.js";
import type { AppContext } from "../context.js";
import { jobs } from "../jobs/catalogue.js";
import { enqueue } from "../platform/jobs/define.js";
import { badRequest, conflict, projectStateConflict } from "../http/errors.js";
import { inTransaction } from "../platform/store/db.js";
import { newId } from "../platform/secrets.js";
import type { JobRow } from "../platform/jobs/types.js";
import type { ProjectRow } from "../projects/store.js";
import { targetTableCount } from "./preflight.js";
import { checkSource, parseSourceUrl, SourceUrlInvalid, ForbiddenTarget, UnresolvableHost } from "./source.js";
import { assertUploadStored, isProjectUpload, takeUploadForImport } from "./uploads.js";

export async function createImport(
  ctx: AppContext,
  project: ProjectRow,
  body: { source_url?: string; object_key?: string; replace?: boolean },
): Promise<JobRow> {
  if (project.state !== "ready") throw projectStateConflict(project.state, `project is ${project.state}: imports run once it is ready`);
  if (!body.source_url === !body.object_key) throw badRequest("source_url: send exactly one of source_url or object_key");
  if (body.source_url) {
    try {
      // Refused addresses are refused now, not after a job was queued.
      await checkSource(ctx.netguard, parseSourceUrl(body.source_url));
    } catch (err) {
      if (err instanceof SourceUrlInvalid || err instanceof ForbiddenTarget) throw badRequest(err.message);
      // an unresolvable host fails the preflight inside the job with its message
      if (!(err instanceof UnresolvableHost)) throw err;
    }
  } else if (!isProjectUpload(project.id, body.object_key!)) {
    throw badRequest("object_key: not an upload of this project (get one from POST .../imports/uploads)");
  } else {
    await assertUploadStored(ctx.db, body.object_key!);
  }
  if (!body.replace && (await targetTableCount(ctx, project)) > 0) {
    throw conflict('the project\'s database is not empty: send "replace": true to replace its contents with the import', "database_not_empty");
  }
  return inTransaction(ctx.db, async (tx) => {
    const jobId = newId("job");
    const payload: { replace: boolean; source_url_sealed?: string; object_key?: string } = { replace: Boolean(body.replace) };
    // The source URL carries a password: the job row holds it sealed, never in clear.
    if (body.source_url) payload.source_url_sealed = ctx.box.seal(body.source_url);
    else {
      // Single use: the upload is this import's from now on (400 when it was not stored, already imported or expired).
      await takeUploadForImport(tx, body.object_key!, jobId);
      payload.object_key = body.object_key;
    }
    const job = await enqueue(tx, jobs.importRun, { organizationId: project.organization_id, projectId: project.id, clusterId: project.cluster_id }, payload, {
      id: jobId,
      maxAttempts: ctx.config.jobMaxAttempts,
    });
    await recordLatestJob(tx, project.id, jobId);
    return job;
  });
}
