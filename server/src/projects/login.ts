// A project's own login role, as the platform's work inside its databases uses it.
import type { AppContext } from "../context.js";
import type { JobContext } from "../platform/jobs/worker.js";
import type { TenantLogin } from "../platform/dataplane/tenant-session.js";
import type { ProjectRow } from "./store.js";

/** The project's own role (its password registered as a secret of the job): the platform's work in its databases logs in as it. */
export function projectLogin(ctx: AppContext, job: JobContext, project: ProjectRow): TenantLogin {
  const password = ctx.box.open(project.role_password_sealed);
  job.addSecret(password);
  return { role: project.role_name, password };
}
