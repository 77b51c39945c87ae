import type { Queryable } from "../../store/db.js";
import type { JobRow } from "../types.js";
export interface EnqueueInput {
    id: string;
    type: string;
    payload?: Record<string, unknown>;
    organizationId?: string | null;
    projectId?: string | null;
    previewDatabaseId?: string | null;
    clusterId?: string | null;
    lockedResource?: string | null;
    maxAttempts?: number;
    runAt?: Date | null;
}
/**
 * Inserts a job, makes sure its resource has a lock row, and wakes the workers.
 * Runs inside the caller's transaction so a job exists exactly when the change
 * that asked for it is committed.
 */
export declare function enqueueJob(db: Queryable, input: EnqueueInput): Promise<JobRow>;
