import type { Job } from "@capydb/api";
/** A row of the jobs table (the API's Job plus queue internals). */
export interface JobRow {
    id: string;
    type: string;
    state: Job["state"];
    payload: Record<string, unknown>;
    organization_id: string | null;
    project_id: string | null;
    preview_database_id: string | null;
    cluster_id: string | null;
    locked_resource: string | null;
    attempts: number;
    max_attempts: number;
    run_at: Date;
    lease_token: string | null;
    lease_expires_at: Date | null;
    retry_classification: "transient" | "permanent" | null;
    error: string | null;
    last_exit_code: number | null;
    last_stdout: string | null;
    last_stderr: string | null;
    claimed_by: string | null;
    claimed_at: Date | null;
    started_at: Date | null;
    completed_at: Date | null;
    created_at: Date;
    updated_at: Date;
}
export declare function toApiJob(row: JobRow): Job;
