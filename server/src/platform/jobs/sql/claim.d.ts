import type { Queryable } from "../../store/db.js";
import type { JobRow } from "../types.js";
/**
 * Claims up to `limit` due jobs with FOR UPDATE SKIP LOCKED and gives each a lease.
 *
 * A job with a locked_resource is a candidate only when it is the oldest pending
 * job of that resource and the resource's lock row is free (or its holder's lease
 * ran out). The lock row is taken with SKIP LOCKED and re-checked by Postgres
 * after a concurrent claim commits, so two jobs of one resource never run at once.
 */
export declare function claimJobs(db: Queryable, workerId: string, limit: number, leaseSeconds: number, types: string[]): Promise<JobRow[]>;
