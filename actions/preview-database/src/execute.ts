// Carries out a plan against the CapyDB API. Every path is safe to run again: previews are
// found by name before anything is made, a lost race for a name reuses the winner, a deleted
// preview counts as deleted, and a cutover request is opened once per preview.
import * as core from "@actions/core";
import { CapyApiError, CapyClient, CapyNetworkError, type CreatePreviewBody, type Cutover, type Job, type PreviewDatabase, type Project } from "@capydb/api";
import type { ActionSettings } from "./settings.js";
import type { EventInfo } from "./event.js";
import type { Plan } from "./plan.js";
import type { CommentView } from "./comment-body.js";
import { formatInstant } from "./comment-body.js";
import { ActionError, InputError } from "./errors.js";
import { assertNotProduction, fetchCredentials, publicPart, type Credentials } from "./credentials.js";
import { waitUntilAcceptingConnections } from "./readiness.js";
import { waitForJob } from "./job-wait.js";
import { describeSource, findLivePreview, findNewestPreview, inFlightJob } from "./previews.js";
import { defaultCutoverNote, requestCutover } from "./cutover.js";
import type { Deadline } from "./deadline.js";
import type { SchemaCheck } from "./schema-diff.js";

export type Operation = "created" | "reused" | "reset" | "deleted" | "cutover-requested" | "checked" | "skipped";

export interface Outcome {
  operation: Operation;
  preview: PreviewDatabase | null;
  credentials: Credentials | null;
  job: Job | null;
  cutover: Cutover | null;
  /** The comment's final state; null leaves the comment as it is. */
  view: CommentView | null;
  /** Why, for a skip. */
  note?: string;
  /** The schema diff against production, when this run made one (main.ts adds it). */
  schema?: SchemaCheck | null;
}

export interface Execution {
  client: CapyClient;
  settings: ActionSettings;
  event: EventInfo;
  name: string;
  projectId: string;
  /** The project (read once, in parallel with the first preview calls): what credentials are checked against. */
  project: Promise<Project>;
  deadline: Deadline;
  /** A progress state for the sticky comment; sent in the background. */
  report(view: CommentView): void;
  /** What is known so far, for outputs and the comment when the run fails. */
  trace: { preview: PreviewDatabase | null; job: Job | null };
}

/** Rounds of look → act before giving up on a preview that keeps changing under us. */
const MAX_ROUNDS = 6;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function transient(err: unknown): boolean {
  return err instanceof CapyNetworkError || (err instanceof CapyApiError && err.status >= 500);
}

export async function execute(plan: Exclude<Plan, { kind: "skip" }>, x: Execution): Promise<Outcome> {
  switch (plan.kind) {
    case "ensure":
      return ensure(x, plan.reset);
    case "reset":
      return ensure(x, true);
    case "delete":
      return remove(x, plan.why);
    case "extend":
      return extend(x);
    case "cutover":
      return cutover(x);
    case "check":
      return check(x);
  }
}

function createBody(x: Execution): CreatePreviewBody {
  const { source, mode, ttlSeconds, masked } = x.settings;
  return {
    name: x.name,
    ttl_seconds: ttlSeconds,
    source_kind: source.kind,
    ...(source.kind === "backup" ? { backup_id: source.backupId } : {}),
    ...(mode === "schema_only" ? { mode } : {}),
    // Omitted when empty: the server's default (masked when the project has masking rules).
    ...(masked !== null ? { masked } : {}),
  };
}

/** Creates the preview; null when it could not tell (a lost race for the name, a transient error): look again. */
async function tryCreate(x: Execution): Promise<{ preview: PreviewDatabase; job: Job } | null> {
  try {
    const created = await x.client.createPreview(x.projectId, createBody(x));
    x.trace.preview = created.preview;
    x.trace.job = created.job;
    core.info(`Creating preview ${x.name} (${created.preview.id}) from ${describeSource(created.preview)}: job ${created.job.id}`);
    x.report({ status: "creating", preview: created.preview, jobId: created.job.id });
    return created;
  } catch (err) {
    // The key could list the project's previews, so a 403 here is the unmasked copy it asked for:
    // on a project with masking rules only an organization key may make one.
    if (err instanceof CapyApiError && err.code === "forbidden" && x.settings.masked === false) {
      throw new InputError(
        "masked",
        `false was refused by CapyDB (403 on ${err.method} ${err.path}: ${err.message}). An unmasked preview of a project with ` +
          "masking rules needs an organization API key; a project-scoped key (or a workflow's OIDC token) makes masked previews only. Remove `masked: false` " +
          "(the preview is then masked), or pass an organization key as `api-key`.",
      );
    }
    if (err instanceof CapyApiError && err.code === "preview_name_taken") {
      core.info(`A preview named ${x.name} appeared meanwhile (a concurrent run made it): using it`);
      return null;
    }
    if (transient(err)) {
      core.info(`Creating the preview got no clear answer (${(err as Error).message}): looking it up again`);
      await sleep(1_000);
      return null;
    }
    throw err;
  }
}

async function ensure(x: Execution, reset: boolean): Promise<Outcome> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const existing = await findLivePreview(x.client, x.projectId, x.name);
    if (!existing) {
      const created = await tryCreate(x);
      if (created) return finish(x, created.preview, created.job, "created");
      continue;
    }
    x.trace.preview = existing;
    switch (existing.state) {
      case "ready": {
        const preview = await extendOnPush(x, existing);
        x.trace.preview = preview;
        if (!reset) return finish(x, preview, null, "reused");
        const { job } = await x.client.resetPreview(preview.id);
        x.trace.job = job;
        core.info(`Resetting preview ${x.name} to ${describeSource(preview)}: job ${job.id}`);
        x.report({ status: "resetting", preview, jobId: job.id });
        return finish(x, preview, job, "reset");
      }
      case "creating":
      case "resetting": {
        const job = await inFlightJob(x.client, x.projectId, existing.id);
        if (job) x.trace.job = job;
        if (!x.settings.wait) return finish(x, existing, job, "reused");
        if (job) {
          core.info(`Preview ${x.name} (${existing.id}) is ${existing.state} (job ${job.id} of an earlier run): waiting for it`);
          x.report({ status: existing.state, preview: existing, jobId: job.id });
          await waitForJob(x.client, job, x.deadline);
        } else {
          await sleep(500);
        }
        continue;
      }
      case "failed": {
        core.warning(`Preview ${x.name} (${existing.id}) failed earlier (${existing.last_error ?? "no error recorded"}): deleting it and creating it again`);
        const { job } = await x.client.deletePreview(existing.id);
        await waitForJob(x.client, job, x.deadline);
        continue;
      }
      case "deleting": {
        const { job } = await x.client.deletePreview(existing.id); // answers the delete job under way
        core.info(`Preview ${x.name} (${existing.id}) is being deleted (job ${job.id}): waiting, then creating it again`);
        await waitForJob(x.client, job, x.deadline);
        continue;
      }
      default:
        continue;
    }
  }
  throw new ActionError(`Preview ${x.name} kept changing state while this run tried to use it (${MAX_ROUNDS} rounds): re-run the workflow`);
}

/** Waits for the job (when `wait`), fetches and masks the credentials, and checks the database answers. */
async function finish(x: Execution, preview: PreviewDatabase, job: Job | null, operation: Operation): Promise<Outcome> {
  warnOnMaskingMismatch(x, preview, operation);
  let current = preview;
  let finished = job;
  let credentials: Credentials;
  if (job && x.settings.wait) {
    finished = x.trace.job = await waitForJob(x.client, job, x.deadline);
    // The preview's names and ports do not change with a job: both reads go out at once.
    const [fresh, creds] = await Promise.all([x.client.getPreview(preview.id), fetchCredentials(x.client, preview, await x.project)]);
    current = x.trace.preview = fresh.preview;
    if (current.state !== "ready") {
      throw new ActionError(`Job ${job.id} succeeded but preview ${current.id} is ${current.state}${current.last_error ? `: ${current.last_error}` : ""}`);
    }
    assertNotProduction(current, await x.project);
    credentials = creds;
  } else {
    credentials = await fetchCredentials(x.client, current, await x.project);
  }
  if (x.settings.wait) await waitUntilAcceptingConnections(credentials, x.deadline);
  const inProgress = job !== null && !x.settings.wait;
  const view: CommentView = inProgress
    ? { status: operation === "reset" ? "resetting" : "creating", preview: current, jobId: job.id }
    : { status: operation === "reset" ? "reset" : "ready", preview: current, connection: publicPart(credentials), verified: x.settings.wait };
  if (inProgress) core.info(`Not waiting for job ${job.id} (wait: false): the credentials are output now and work once it succeeds`);
  return { operation, preview: current, credentials, job: finished ?? x.trace.job, cutover: null, view };
}

/** `masked` applies when a preview is made: one made before keeps its own, and the run says so. */
function warnOnMaskingMismatch(x: Execution, preview: PreviewDatabase, operation: Operation): void {
  const asked = x.settings.masked;
  if (operation === "created" || asked === null || preview.masked === asked) return;
  core.warning(
    `Preview ${x.name} (${preview.id}) is ${preview.masked ? "masked" : "not masked"}: it was made so, and \`masked: ${asked}\` applies only ` +
      `when a preview is made. Delete it (command: delete, or close and reopen the pull request) to make it again ${asked ? "masked" : "unmasked"}.`,
  );
}

/** Waits out an earlier run's create or reset; answers the preview as it is then. */
async function settle(x: Execution, preview: PreviewDatabase): Promise<PreviewDatabase> {
  let current = preview;
  for (let round = 0; round < MAX_ROUNDS && (current.state === "creating" || current.state === "resetting"); round++) {
    const job = await inFlightJob(x.client, x.projectId, current.id);
    if (job) {
      core.info(`Preview ${x.name} is ${current.state} (job ${job.id}): waiting for it`);
      await waitForJob(x.client, job, x.deadline);
    } else {
      await sleep(500);
    }
    current = (await x.client.getPreview(current.id)).preview;
  }
  x.trace.preview = current;
  return current;
}

async function remove(x: Execution, why: string): Promise<Outcome> {
  const view: CommentView = { status: "torn-down", reason: why };
  const existing = await findLivePreview(x.client, x.projectId, x.name);
  if (!existing) {
    const gone = await findNewestPreview(x.client, x.projectId, x.name);
    core.info(
      gone
        ? `Preview ${x.name} (${gone.id}) is already ${gone.state}: nothing to delete`
        : `No preview named ${x.name} exists in project ${x.projectId}: nothing to delete`,
    );
    return { operation: "deleted", preview: gone, credentials: null, job: null, cutover: null, view };
  }
  x.trace.preview = existing;
  const { job } = await x.client.deletePreview(existing.id);
  x.trace.job = job;
  core.info(`Deleting preview ${x.name} (${existing.id}): job ${job.id}`);
  let current = existing;
  if (x.settings.wait) {
    x.trace.job = await waitForJob(x.client, job, x.deadline);
    current = (await x.client.getPreview(existing.id)).preview;
    if (current.state !== "deleted") throw new ActionError(`Job ${job.id} succeeded but preview ${current.id} is ${current.state}`);
    core.info(`Preview ${x.name} (${current.id}) deleted`);
  }
  return { operation: "deleted", preview: current, credentials: null, job: x.trace.job, cutover: null, view };
}

/**
 * A push extends the preview's life; one that reached the maximum lifetime the platform
 * operator set (preview_lifetime_exceeded) is reused as it is, with a warning: the pull
 * request's workflow must not fail because it is old.
 */
async function extendOnPush(x: Execution, existing: PreviewDatabase): Promise<PreviewDatabase> {
  try {
    const { preview } = await x.client.extendPreview(existing.id, { ttl_seconds: x.settings.ttlSeconds });
    core.info(`Reusing preview ${x.name} (${preview.id}); it now expires at ${formatInstant(preview.ttl_expires_at)}`);
    return preview;
  } catch (err) {
    if (!(err instanceof CapyApiError && err.code === "preview_lifetime_exceeded")) throw err;
    core.warning(`Preview ${x.name} (${existing.id}) cannot be extended any more and expires at ${formatInstant(existing.ttl_expires_at)}: ${err.message}`);
    return existing;
  }
}

/**
 * The live, ready preview whose schema the workflow's own migrations changed, with its
 * credentials (for the outputs and the comment's connection table): nothing is made, reset or
 * extended. The diff itself is main.ts's.
 */
async function check(x: Execution): Promise<Outcome> {
  const existing = await findLivePreview(x.client, x.projectId, x.name);
  if (!existing) {
    throw new ActionError(
      `No live preview named ${x.name} in project ${x.projectId}: nothing to check. Make it first in an earlier step ` +
        "(command: auto or create, with schema-diff: false), run the migrations against its database-url, then command: check.",
    );
  }
  const preview = x.settings.wait ? await settle(x, existing) : existing;
  x.trace.preview = preview;
  if (preview.state !== "ready") {
    throw new ActionError(
      `Preview ${x.name} (${preview.id}) is ${preview.state}${preview.last_error ? ` (${preview.last_error})` : ""}: its schema can be ` +
        "diffed once it is ready (make it again with command: create)",
    );
  }
  const credentials = await fetchCredentials(x.client, preview, await x.project);
  const view: CommentView = { status: "ready", preview, connection: publicPart(credentials), verified: false };
  return { operation: "checked", preview, credentials, job: null, cutover: null, view };
}

async function extend(x: Execution): Promise<Outcome> {
  const existing = await findLivePreview(x.client, x.projectId, x.name);
  if (!existing) throw new ActionError(`No live preview named ${x.name} in project ${x.projectId}: nothing to extend (make it with command: create)`);
  const settled = x.settings.wait ? await settle(x, existing) : existing;
  if (settled.state === "failed")
    throw new ActionError(`Preview ${x.name} (${settled.id}) is failed (${settled.last_error ?? "no error recorded"}): re-create it with command: create`);
  const { preview } = await x.client.extendPreview(settled.id, { ttl_seconds: x.settings.ttlSeconds });
  core.info(`Preview ${x.name} (${preview.id}) now expires at ${formatInstant(preview.ttl_expires_at)}`);
  return finish(x, preview, null, "reused");
}

async function cutover(x: Execution): Promise<Outcome> {
  const live = await findLivePreview(x.client, x.projectId, x.name);
  let preview: PreviewDatabase;
  if (live) {
    preview = x.settings.wait ? await settle(x, live) : live;
    if (preview.state !== "ready") {
      throw new ActionError(
        `Preview ${x.name} (${preview.id}) is ${preview.state}${preview.last_error ? ` (${preview.last_error})` : ""}: no cutover request was opened`,
      );
    }
  } else {
    // Promoted already (a re-run after the operator finished): answer the request that did it.
    const newest = await findNewestPreview(x.client, x.projectId, x.name);
    if (newest?.state !== "promoted") {
      const note = `No live preview named ${x.name} in project ${x.projectId}: no cutover request was opened.`;
      core.notice(note);
      return { operation: "skipped", preview: newest, credentials: null, job: null, cutover: null, view: null, note };
    }
    preview = newest;
  }
  x.trace.preview = preview;
  if (preview.masked && preview.state !== "promoted" && x.settings.cutoverMode === "data") {
    // the server refuses it too (409): production would get masked data
    const note =
      `Preview ${x.name} (${preview.id}) holds masked data: promoting it would replace production's data with masked data, ` +
      `so no cutover request was opened. Use cutover-mode: schema (production keeps its data), or a preview made with masked: false (an organization key).`;
    core.warning(note);
    return { operation: "skipped", preview, credentials: null, job: null, cutover: null, view: null, note };
  }
  const note = x.settings.cutoverNote ?? defaultCutoverNote(x.event, preview);
  const { request } = await requestCutover(x.client, x.projectId, preview, note, x.settings.cutoverMode);
  return {
    operation: "cutover-requested",
    preview,
    credentials: null,
    job: null,
    cutover: request,
    view: { status: "cutover-requested", preview, cutover: request },
  };
}
