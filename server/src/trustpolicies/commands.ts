// What a GitHub Actions token may call: the catalogue says, per endpoint (`githubActions` in
// packages/api endpoints.ts), whether any such token may ("read": what the action reads) or which
// command of its trust policy it needs. Everything else (production's connection string,
// backups, imports, keys, trust policies, operator endpoints) is refused, whatever the policy.
import { endpoints, routePath } from "@capydb/api";
import { forbidden } from "../http/errors.js";
import type { WorkflowGrant } from "./tokens.js";

const byRoute = new Map(endpoints.filter((e) => e.githubActions).map((e) => [`${e.method} ${e.route ?? routePath(e.path)}`, e.githubActions!]));

/** Refuses (403) a request the token may not make; `route` is Fastify's route pattern. */
export function authorizeWorkflowRequest(grant: WorkflowGrant, method: string, route: string): void {
  // Fastify answers HEAD with the GET route
  const needs = byRoute.get(`${method === "HEAD" ? "GET" : method} ${route}`);
  if (needs === "read") return;
  if (!needs) {
    throw forbidden(
      `a GitHub Actions token cannot call ${method} ${route}: it manages the preview databases of its project (its trust policy's commands) and nothing else; use an API key`,
    );
  }
  if (!grant.commands.includes(needs)) {
    throw forbidden(`command ${needs} is not allowed by trust policy ${grant.trustPolicyId}, which issued this token (it allows ${grant.commands.join(", ")})`);
  }
}
