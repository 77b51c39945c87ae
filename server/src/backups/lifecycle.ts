// What the backups resource tells the lifecycle hooks (registered in server.ts): a
// deleted project's backups go, blobs and rows.
import type { AppContext } from "../context.js";
import { deleteProjectBackups } from "./service.js";
import { backupKey } from "./take.js";

export function registerBackupLifecycle(ctx: AppContext): void {
  ctx.lifecycle.onProjectDeleted("backups", (project) => deleteProjectBackups(ctx, project.id, backupKey));
}
