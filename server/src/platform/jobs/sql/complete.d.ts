import type { Queryable } from "../../store/db.js";
/**
 * Marks a job succeeded and frees its resource, only if this worker still holds
 * the lease: a job rescued after a lost lease and finished elsewhere is not
 * completed twice. Returns false when the lease was lost.
 */
export declare function completeJob(db: Queryable, jobId: string, leaseToken: string): Promise<boolean>;
