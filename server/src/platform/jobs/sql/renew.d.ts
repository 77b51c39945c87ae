import type { Queryable } from "../../store/db.js";
/** Extends a running job's lease; false when the lease was lost (the job was rescued by another worker). */
export declare function renewLease(db: Queryable, jobId: string, leaseToken: string, leaseSeconds: number): Promise<boolean>;
