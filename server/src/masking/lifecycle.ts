// What masking tells the lifecycle hooks (registered in server.ts): a deleted project's
// masked snapshot goes with it; replaced production data makes it stale (the next masked
// preview derives a new one from the new snapshot), so it goes at once.
import type { AppContext } from "../context.js";
import { deleteMaskedSnapshot } from "./store.js";

export function registerMaskingLifecycle(ctx: AppContext): void {
  const drop = async (project: { id: string }) => {
    const name = await deleteMaskedSnapshot(ctx.db, project.id);
    if (name && ctx.instances) await ctx.instances.dropSnapshot(name);
  };
  ctx.lifecycle.onProjectDeleted("masked snapshot", drop);
  ctx.lifecycle.onProductionReplaced("forget the masked snapshot", drop);
}
