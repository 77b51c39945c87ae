// The cutover request opened when a pull request is merged: one per preview, so a re-run of
// the merge workflow finds the request it opened instead of opening another.
import * as core from "@actions/core";
import { CapyApiError, CapyClient, type Cutover, type PreviewDatabase } from "@capydb/api";
import type { EventInfo } from "./event.js";

/** Statuses in which a request still stands (or has done its work): never opened twice. */
const STANDING = new Set<Cutover["status"]>(["open", "acknowledged", "in_progress", "completed"]);

async function standingRequest(client: CapyClient, projectId: string, previewId: string): Promise<Cutover | null> {
  const { cutover_requests } = await client.listCutoverRequests(projectId);
  return cutover_requests.find((r) => r.preview_database_id === previewId && STANDING.has(r.status)) ?? null;
}

/** The note an operator reads: what was merged, and where. */
export function defaultCutoverNote(event: EventInfo, preview: PreviewDatabase): string {
  const pr = event.pullRequest;
  const what = pr
    ? `Pull request #${pr.number}${pr.title ? ` "${pr.title}"` : ""} was merged${pr.htmlUrl ? ` (${pr.htmlUrl})` : ""}`
    : `Requested by a workflow run`;
  const run = event.runUrl ? `; workflow run ${event.runUrl}` : "";
  return `${what}: promote preview ${preview.name} (${preview.id}) to production${run}.`.slice(0, 2000);
}

export async function requestCutover(
  client: CapyClient,
  projectId: string,
  preview: PreviewDatabase,
  note: string,
  mode: "schema" | "data",
): Promise<{ request: Cutover; reused: boolean }> {
  const existing = await standingRequest(client, projectId, preview.id);
  if (existing) {
    core.info(`Cutover request ${existing.id} for preview ${preview.id} already exists (status ${existing.status}): not opening another`);
    return { request: existing, reused: true };
  }
  try {
    const { cutover_request } = await client.createCutoverRequest(projectId, { preview_id: preview.id, customer_note: note, mode });
    core.info(`Cutover request ${cutover_request.id} (mode ${mode}) opened for preview ${preview.id} (status ${cutover_request.status})`);
    return { request: cutover_request, reused: false };
  } catch (err) {
    // A concurrent run opened one between our look and our request.
    if (err instanceof CapyApiError && err.code === "cutover_already_open") {
      const raced = await standingRequest(client, projectId, preview.id);
      if (raced) return { request: raced, reused: true };
    }
    throw err;
  }
}
