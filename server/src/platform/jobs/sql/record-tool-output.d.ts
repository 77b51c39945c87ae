import type { Queryable } from "../../store/db.js";
/** Stores the last tool run's exit code and (already scrubbed, truncated) output on the job. */
export declare function recordToolOutput(db: Queryable, jobId: string, leaseToken: string, out: {
    exitCode: number | null;
    stdout: string;
    stderr: string;
}): Promise<void>;
