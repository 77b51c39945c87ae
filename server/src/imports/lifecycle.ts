// What the imports resource tells the lifecycle hooks (registered in server.ts): a
// deleted project's uploads go.
import type { AppContext } from "../context.js";
import { deleteProjectUploads } from "./uploads.js";

export function registerImportLifecycle(ctx: AppContext): void {
  ctx.lifecycle.onProjectDeleted("uploads", (project) => deleteProjectUploads(ctx, project.id));
}
