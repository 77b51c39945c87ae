import type { AppContext } from "../context.js";
import type { JobHandler } from "../platform/jobs/worker.js";
export declare function extensionJobHandlers(ctx: AppContext): Record<string, JobHandler>;
