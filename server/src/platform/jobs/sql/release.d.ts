import type { Queryable } from "../../store/db.js";
/**
 * Gives a running job back to the queue without counting the attempt, at graceful
 * shutdown, so another worker picks it up at once instead of after the lease.
 */
export declare function releaseJob(db: Queryable, jobId: string, leaseToken: string): Promise<boolean>;
