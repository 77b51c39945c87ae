// A project being deleted takes its trust policies with it: the tokens they issued stop working
// at once, before its databases go.
import type { AppContext } from "../context.js";
import { deleteProjectTrustPolicies } from "./store.js";

export function registerTrustPolicyLifecycle(ctx: AppContext): void {
  ctx.lifecycle.onProjectDeleted("trust policies", (project) => deleteProjectTrustPolicies(ctx.db, project.id));
}
