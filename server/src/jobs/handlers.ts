// The handlers of every catalogued job type (catalogue.ts), gathered from the resources
// that run them: what the worker is given.
import type { AppContext } from "../context.js";
import type { JobHandler } from "../platform/jobs/worker.js";
import { projectJobHandlers } from "../projects/jobs.js";
import { projectMoveHandlers } from "../projects/move.js";
import { extensionJobHandlers } from "../extensions/jobs.js";
import { previewJobHandlers } from "../previews/jobs.js";
import { backupJobHandlers } from "../backups/jobs.js";
import { importJobHandlers } from "../imports/jobs.js";
import { cutoverJobHandlers } from "../cutovers/jobs.js";
import { schemaDiffJobHandlers } from "../schemadiffs/jobs.js";

export function jobHandlers(ctx: AppContext): Record<string, JobHandler> {
  return {
    ...projectJobHandlers(ctx),
    ...projectMoveHandlers(ctx),
    ...extensionJobHandlers(ctx),
    ...previewJobHandlers(ctx),
    ...backupJobHandlers(ctx),
    ...importJobHandlers(ctx),
    ...cutoverJobHandlers(ctx),
    ...schemaDiffJobHandlers(ctx),
  };
}
