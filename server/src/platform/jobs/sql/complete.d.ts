import type { Queryable } from "../../store/db.js";
export interface CompletionInput {
    jobId: string;
    leaseToken: string;
}
/**
 * Marks jobs succeeded and frees their resources, each only if this worker still
 * holds its lease: a job rescued after a lost lease and finished elsewhere is not
 * completed twice. Takes many jobs at once so a busy worker writes one statement
 * (and one commit) for all the jobs that finished together. Returns the ids
 * completed; a missing id means that job's lease was lost.
 */
export declare function completeJobs(db: Queryable, jobs: CompletionInput[]): Promise<Set<string>>;
/** One job's lease-checked completion; false when the lease was lost. */
export declare function completeJob(db: Queryable, jobId: string, leaseToken: string): Promise<boolean>;
