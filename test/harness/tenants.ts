// Tenants for tests: an organization with its own key and a client holding it, and ready
// projects with the connection string a tenant gets.
import { CapyClient, type Project } from "@capydb/api";
import type { TestServer } from "./server.js";

/** A new organization, and a client holding a new key of it (named `keyName`, by default as the organization). */
export async function organization(t: TestServer, name: string, keyName = name): Promise<{ orgId: string; client: CapyClient }> {
  const orgId = (await t.admin.createOrganization({ name })).organization.id;
  const client = new CapyClient({ baseUrl: t.url, apiKey: (await t.admin.createApiKey(orgId, { name: keyName })).secret, retries: 0 });
  return { orgId, client };
}

/** A new organization and a client holding its key. */
export async function tenant(t: TestServer, name: string): Promise<CapyClient> {
  return (await organization(t, name)).client;
}

/** A ready project of the tenant, and its connection string. */
export async function readyProject(client: CapyClient, name: string): Promise<{ project: Project; uri: string }> {
  const created = await client.createProject({ name });
  await client.waitForJob(created.job.id, { timeoutMs: 60_000 });
  return { project: (await client.getProject(created.project.id)).project as Project, uri: await client.getConnectionUri(created.project.id) };
}
