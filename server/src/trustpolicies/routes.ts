import type { FastifyInstance } from "fastify";
import { CreateTrustPolicyRequest, GitHubOidcExchangeRequest } from "@capydb/api";
import type { AppContext } from "../context.js";
import { parse, pathId } from "../http/errors.js";
import { projectFor } from "../projects/service.js";
import { GitHubOidcVerifier } from "./github-oidc.js";
import { createTrustPolicy, exchangeGitHubToken, getTrustPolicy, listTrustPolicies, removeTrustPolicy, toApiTrustPolicy } from "./service.js";

/** The exchange's route: public (the GitHub ID token in the body is the credential). */
export const GITHUB_OIDC_EXCHANGE_ROUTE = "/v1/auth/github-oidc";

export function trustPolicyRoutes(app: FastifyInstance, ctx: AppContext): void {
  const settings = ctx.config.githubOidc;
  const verifier = new GitHubOidcVerifier({
    issuer: settings.issuer,
    jwksUrl: settings.jwksUrl,
    jwksCacheSeconds: settings.jwksCacheSeconds,
    // the server's public URL is known once it listens
    audience: () => settings.audience ?? ctx.publicUrl,
  });

  app.post<{ Params: { projectID: string } }>("/v1/projects/:projectID/trust-policies", async (req, reply) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    const body = parse(CreateTrustPolicyRequest, req.body);
    const policy = await createTrustPolicy(ctx, req.principal!, project, body);
    reply.code(201);
    return { trust_policy: toApiTrustPolicy(policy) };
  });

  app.get<{ Params: { projectID: string } }>("/v1/projects/:projectID/trust-policies", async (req) => {
    const project = await projectFor(ctx, req.principal!, pathId(req.params.projectID, "prj", "project"));
    return { trust_policies: (await listTrustPolicies(ctx, req.principal!, project)).map(toApiTrustPolicy) };
  });

  app.get<{ Params: { trustPolicyID: string } }>("/v1/trust-policies/:trustPolicyID", async (req) => {
    const policy = await getTrustPolicy(ctx, req.principal!, pathId(req.params.trustPolicyID, "tp", "trust policy"));
    return { trust_policy: toApiTrustPolicy(policy) };
  });

  app.delete<{ Params: { trustPolicyID: string } }>("/v1/trust-policies/:trustPolicyID", async (req, reply) => {
    await removeTrustPolicy(ctx, req.principal!, pathId(req.params.trustPolicyID, "tp", "trust policy"));
    return reply.code(204).send();
  });

  app.post(GITHUB_OIDC_EXCHANGE_ROUTE, async (req) => {
    const body = parse(GitHubOidcExchangeRequest, req.body);
    return exchangeGitHubToken(ctx, verifier, body.token, body.project_id);
  });
}
