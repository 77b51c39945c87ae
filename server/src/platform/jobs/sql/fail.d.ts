import type { Queryable } from "../../store/db.js";
export interface FailInput {
    jobId: string;
    leaseToken: string;
    error: string;
    classification: "transient" | "permanent";
    /** When the job should be retried (transient with attempts left); null fails it for good. */
    retryInMs: number | null;
}
/**
 * Records a failed attempt: back to pending with a later run_at when it will be
 * retried, else failed for good. Lease-checked like completion. Returns the new
 * state, or null when the lease was lost.
 */
export declare function failJob(db: Queryable, input: FailInput): Promise<"pending" | "failed" | null>;
