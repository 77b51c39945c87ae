import type { FastifyInstance } from "fastify";
import { CreateApiKeyRequest, CreateOrganizationRequest, PutOrganizationQuotasRequest } from "@capydb/api";
import type { AppContext } from "../context.js";
import { canAccess, requireAdmin, type Principal } from "../http/auth.js";
import { badRequest, conflict, forbidden, notFound, parse, pathId } from "../http/errors.js";
import { loadProject } from "../projects/store.js";
import * as orgs from "./service.js";
import { listApiKeys, listOrganizations, loadApiKey, organizationExists, revokeApiKey } from "./store.js";
import { organizationQuotas, setOrganizationQuotas } from "./quotas.js";

/** Organization-level management is for admins and the organization's own org keys/users. */
async function requireOrgAccess(ctx: AppContext, p: Principal, orgId: string): Promise<void> {
  if (p.kind === "project") throw forbidden("a project-scoped API key cannot manage API keys: use an organization key");
  if (!canAccess(p, orgId) || !(await organizationExists(ctx.db, orgId))) throw notFound(`organization ${orgId} not found`);
}

export function organizationRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post("/v1/organizations", async (req, reply) => {
    requireAdmin(req.principal!);
    const body = parse(CreateOrganizationRequest, req.body);
    try {
      const org = await orgs.createOrganization(ctx.db, body.name, body.clerk_organization_id ?? null);
      reply.code(201);
      return { organization: orgs.toApiOrganization(org) };
    } catch (err) {
      if ((err as { code?: string }).code === "23505") throw conflict("clerk_organization_id: already linked to another organization");
      throw err;
    }
  });

  app.get("/v1/organizations", async (req) => {
    requireAdmin(req.principal!);
    return { organizations: (await listOrganizations(ctx.db)).map(orgs.toApiOrganization) };
  });

  app.post<{ Params: { orgID: string } }>("/v1/organizations/:orgID/api-keys", async (req, reply) => {
    const orgId = pathId(req.params.orgID, "org", "organization");
    await requireOrgAccess(ctx, req.principal!, orgId);
    const body = parse(CreateApiKeyRequest, req.body);
    if (body.project_id) {
      const project = await loadProject(ctx.db, body.project_id);
      if (!project || project.organization_id !== orgId || project.state === "deleted") {
        throw badRequest(`project_id: project ${body.project_id} does not exist in organization ${orgId}`);
      }
    }
    const { key, secret } = await orgs.createApiKey(ctx.db, { name: body.name, organizationId: orgId, projectId: body.project_id ?? null });
    reply.code(201);
    return { api_key: orgs.toApiKey(key), secret };
  });

  app.get<{ Params: { orgID: string } }>("/v1/organizations/:orgID/api-keys", async (req) => {
    const orgId = pathId(req.params.orgID, "org", "organization");
    await requireOrgAccess(ctx, req.principal!, orgId);
    return { api_keys: (await listApiKeys(ctx.db, orgId)).map(orgs.toApiKey) };
  });

  app.get<{ Params: { orgID: string } }>("/v1/organizations/:orgID/quotas", async (req) => {
    const orgId = pathId(req.params.orgID, "org", "organization");
    const p = req.principal!;
    if (p.kind === "project") throw forbidden("a project-scoped API key cannot read its organization's quotas: use an organization key");
    if (!canAccess(p, orgId) || !(await organizationExists(ctx.db, orgId))) throw notFound(`organization ${orgId} not found`);
    return { quotas: await organizationQuotas(ctx.db, ctx.config.plans, orgId) };
  });

  app.put<{ Params: { orgID: string } }>("/v1/organizations/:orgID/quotas", async (req) => {
    requireAdmin(req.principal!);
    const orgId = pathId(req.params.orgID, "org", "organization");
    const body = parse(PutOrganizationQuotasRequest, req.body);
    if (!(await organizationExists(ctx.db, orgId))) throw notFound(`organization ${orgId} not found`);
    return { quotas: await setOrganizationQuotas(ctx.db, ctx.config.plans, orgId, body) };
  });

  app.delete<{ Params: { keyID: string } }>("/v1/api-keys/:keyID", async (req) => {
    const keyId = pathId(req.params.keyID, "key", "API key");
    const p = req.principal!;
    const key = await loadApiKey(ctx.db, keyId);
    if (!key || key.revoked_at || (p.kind !== "admin" && (key.is_platform_admin || !key.organization_id || !canAccess(p, key.organization_id)))) {
      throw notFound(`API key ${keyId} not found`);
    }
    if (p.kind === "project") throw forbidden("a project-scoped API key cannot revoke keys");
    const revoked = await revokeApiKey(ctx.db, keyId);
    ctx.apiKeyCache.evict(keyId);
    return { api_key: orgs.toApiKey(revoked) };
  });
}
