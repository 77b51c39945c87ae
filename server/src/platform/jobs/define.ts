// A job type declared once (its payload's schema, the resource it locks, the key that
// de-duplicates it) and used by both sides: enqueue() validates the payload and derives
// the lock and the key; payloadOf() validates it again when the job runs, so a handler
// never reads an untyped Record. The catalogue of every type is server/src/jobs/catalogue.ts.
import { z } from "zod";
import type { Queryable } from "../store/db.js";
import { newId } from "../secrets.js";
import { PermanentError } from "./errors.js";
import { enqueueJob } from "./sql/enqueue.js";
import type { JobRow } from "./types.js";

/** The rows a job is about (all optional: platform jobs have none). */
export interface JobSubject {
  organizationId?: string | null;
  projectId?: string | null;
  previewDatabaseId?: string | null;
  clusterId?: string | null;
}

export interface JobDefinition<P> {
  type: string;
  payload: z.ZodType<P>;
  /** The resource two jobs of which never run at once (null: none). */
  lockedResource(subject: JobSubject, payload: P): string | null;
  /** Jobs with the same key are one while pending: enqueueing again answers the pending one. */
  dedupeKey?(subject: JobSubject, payload: P): string | null;
}

export function defineJob<P>(definition: JobDefinition<P>): JobDefinition<P> {
  return definition;
}

/** The subject's id a lock or key needs, or an error naming the job type (a programming error, caught by tests). */
export function required(type: string, value: string | null | undefined, what: string): string {
  if (!value) throw new Error(`${type}: a ${what} is required to enqueue it`);
  return value;
}

export interface EnqueueOptions {
  id?: string;
  maxAttempts?: number;
  runAt?: Date | null;
}

/**
 * Enqueues a job of the definition's type inside the caller's transaction. With a
 * dedupe key, a pending job of the same key is answered instead of a second one.
 */
export async function enqueue<P>(db: Queryable, definition: JobDefinition<P>, subject: JobSubject, payload: P, options: EnqueueOptions = {}): Promise<JobRow> {
  const parsed = definition.payload.parse(payload);
  return enqueueJob(db, {
    id: options.id ?? newId("job"),
    type: definition.type,
    payload: parsed as Record<string, unknown>,
    organizationId: subject.organizationId ?? null,
    projectId: subject.projectId ?? null,
    previewDatabaseId: subject.previewDatabaseId ?? null,
    clusterId: subject.clusterId ?? null,
    lockedResource: definition.lockedResource(subject, parsed),
    jobKey: definition.dedupeKey?.(subject, parsed) ?? null,
    maxAttempts: options.maxAttempts,
    runAt: options.runAt ?? null,
  });
}

/** The running job's payload, checked against its definition (a row that does not match fails the job for good). */
export function payloadOf<P>(definition: JobDefinition<P>, job: JobRow): P {
  if (job.type !== definition.type) throw new PermanentError(`job ${job.id} is a ${job.type}, not a ${definition.type}`);
  const parsed = definition.payload.safeParse(job.payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PermanentError(`job ${job.id} (${job.type}) has a malformed payload: ${issue.path.join(".") || "payload"}: ${issue.message}`);
  }
  return parsed.data;
}
