// Looking previews and their jobs up by name: the preview's name is the key that makes every
// re-run find what an earlier run made instead of making another.
import { CapyClient, type Job, type PreviewDatabase } from "@capydb/api";

/** The live preview of that name (at most one: the server keeps live names unique per project). */
export async function findLivePreview(client: CapyClient, projectId: string, name: string): Promise<PreviewDatabase | null> {
  const { preview_databases } = await client.listPreviews(projectId);
  return preview_databases.find((p) => p.name === name) ?? null;
}

/** The newest preview of that name, deleted and promoted ones included. */
export async function findNewestPreview(client: CapyClient, projectId: string, name: string): Promise<PreviewDatabase | null> {
  const { preview_databases } = await client.listPreviews(projectId, { includeDeleted: true });
  return preview_databases.filter((p) => p.name === name).sort((a, b) => b.created_at.localeCompare(a.created_at))[0] ?? null;
}

/** The newest job still pending or running on the preview (an earlier run's create or reset). */
export async function inFlightJob(client: CapyClient, projectId: string, previewId: string): Promise<Job | null> {
  const { jobs } = await client.listProjectJobs(projectId);
  return jobs.find((j) => j.preview_database_id === previewId && (j.state === "pending" || j.state === "running")) ?? null;
}

/** Where the preview's data comes from, in words. */
export function describeSource(p: PreviewDatabase): string {
  if (p.source_kind === "empty") return "an empty database";
  if (p.source_kind === "backup") return p.masked === true ? "a masked backup" : "a backup";
  if (p.mode === "schema_only") return "the production schema (no data)";
  return p.masked === true ? "a masked copy of production" : "a copy of production";
}
