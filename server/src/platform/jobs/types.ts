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
  /** De-duplicates while pending: at most one pending job per key. */
  job_key: string | null;
  attempts: number;
  max_attempts: number;
  /** Rescued after its last attempt: only the handler's cleanup is left to run. */
  cleanup_only: boolean;
  /** The maximum runtime the claiming worker gave it (its type's limit), in seconds. */
  max_runtime_seconds: number | null;
  /** Seconds its finished (or abandoned) attempts ran, summed: what the maximum runtime is measured against. */
  run_seconds: number;
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
  /** Who asked for it (see platform/requested-by.ts); null for the platform's own work. */
  requested_by_actor_kind: Job["requested_by_actor_kind"];
  requested_by_actor_id: string | null;
  requested_by_pr_number: number | null;
  requested_by_sha: string | null;
  created_at: Date;
  updated_at: Date;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toApiJob(row: JobRow): Job {
  return {
    id: row.id,
    type: row.type,
    state: row.state,
    organization_id: row.organization_id,
    project_id: row.project_id,
    preview_database_id: row.preview_database_id,
    cluster_id: row.cluster_id,
    locked_resource: row.locked_resource,
    attempts: row.attempts,
    max_attempts: row.max_attempts,
    retry_classification: row.retry_classification,
    error: row.error,
    last_exit_code: row.last_exit_code,
    last_stdout: row.last_stdout,
    last_stderr: row.last_stderr,
    claimed_by: row.claimed_by,
    claimed_at: iso(row.claimed_at),
    started_at: iso(row.started_at),
    completed_at: iso(row.completed_at),
    requested_by_actor_kind: row.requested_by_actor_kind,
    requested_by_actor_id: row.requested_by_actor_id,
    requested_by_pr_number: row.requested_by_pr_number,
    requested_by_sha: row.requested_by_sha,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
