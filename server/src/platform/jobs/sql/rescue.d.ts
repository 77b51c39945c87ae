import type { Queryable } from "../../store/db.js";
/**
 * Jobs whose worker stopped renewing its lease (crashed, killed, partitioned) go
 * back to pending at once, or fail when they have used all their attempts.
 * Called by every worker periodically; SKIP LOCKED keeps concurrent rescuers apart.
 */
export declare function rescueExpiredJobs(db: Queryable): Promise<Array<{
    id: string;
    state: string;
}>>;
