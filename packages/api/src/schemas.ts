// The zod schemas of every resource and request body of the CapyDB API.
// Single source of truth for the server's validation, the OpenAPI document,
// the typed client, the GitHub Action and the Terraform provider.
//
// Resource objects always carry every documented field; a value that does not
// exist yet (a job's completed_at, a project's last_error) is null, never omitted.
import { z } from "zod";

const timestamp = z.string().describe("RFC 3339 date-time");
const nullableTimestamp = timestamp.nullable();

export const ErrorBody = z.object({ error: z.string() }).meta({ id: "Error" });

// ---------------------------------------------------------------- jobs
export const JobState = z.enum(["pending", "running", "succeeded", "failed", "canceled"]);
export const RetryClassification = z.enum(["transient", "permanent"]);

export const Job = z
  .object({
    id: z.string(),
    type: z.string(),
    state: JobState,
    organization_id: z.string().nullable(),
    project_id: z.string().nullable(),
    preview_database_id: z.string().nullable(),
    cluster_id: z.string().nullable(),
    locked_resource: z.string().nullable(),
    attempts: z.number().int(),
    max_attempts: z.number().int(),
    retry_classification: RetryClassification.nullable(),
    error: z.string().nullable(),
    last_exit_code: z.number().int().nullable(),
    last_stdout: z.string().nullable(),
    last_stderr: z.string().nullable(),
    claimed_by: z.string().nullable(),
    claimed_at: nullableTimestamp,
    started_at: nullableTimestamp,
    completed_at: nullableTimestamp,
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: "Job" });
export type Job = z.infer<typeof Job>;

// ---------------------------------------------------------------- projects
export const ProjectState = z.enum(["provisioning", "ready", "failed", "deleting", "deleted"]);

export const Project = z
  .object({
    id: z.string(),
    organization_id: z.string(),
    name: z.string(),
    slug: z.string(),
    state: ProjectState,
    region: z.string(),
    plan: z.string(),
    environment: z.string(),
    cluster_id: z.string(),
    database_name: z.string(),
    role_name: z.string(),
    public_host: z.string(),
    direct_port: z.number().int(),
    pooled_port: z.number().int(),
    ssl_mode: z.string(),
    max_connections: z.number().int(),
    statement_timeout: z.string(),
    idle_transaction_timeout: z.string(),
    storage_limit_bytes: z.number().int(),
    latest_job_id: z.string().nullable(),
    last_error: z.string().nullable(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: "Project" });
export type Project = z.infer<typeof Project>;

/** A Postgres duration as accepted by SET statement_timeout: "0", "500ms", "30s", "5min", "2h", "1d". */
export const PgDuration = z
  .string()
  .regex(/^\d{1,9}\s?(ms|s|min|h|d)?$/, 'must be a duration such as "0", "500ms", "30s", "5min", "1h"');

/**
 * Display names: letters (any script), digits, spaces, ".", "_" and "-". Quotes,
 * semicolons, control characters and symbols are refused outright rather than
 * escaped, so a name can never be mistaken for SQL or shell by anything downstream.
 */
const displayName = (max: number) =>
  z
    .string()
    .trim()
    .min(1, "must not be empty")
    .max(max, `must be at most ${max} characters`)
    .regex(/^[\p{L}\p{N}][\p{L}\p{N} ._-]*$/u, 'may contain only letters, digits, spaces, ".", "_" and "-", starting with a letter or digit');

export const ProjectName = displayName(63);

const projectSettings = {
  environment: z.enum(["production", "staging", "development"]),
  plan: z.enum(["free", "pro", "enterprise"]),
  max_connections: z.number().int().min(1).max(10000),
  statement_timeout: PgDuration,
  idle_transaction_timeout: PgDuration,
  storage_limit_bytes: z.number().int().min(1_048_576).max(Number.MAX_SAFE_INTEGER),
};

export const CreateProjectRequest = z
  .strictObject({
    name: ProjectName,
    organization_id: z.string().min(1).optional().describe("Platform admins only: the organization to create the project in."),
    region: z.string().min(1).max(63).optional(),
    environment: projectSettings.environment.optional(),
    plan: projectSettings.plan.optional(),
    max_connections: projectSettings.max_connections.optional(),
    statement_timeout: projectSettings.statement_timeout.optional(),
    idle_transaction_timeout: projectSettings.idle_transaction_timeout.optional(),
    storage_limit_bytes: projectSettings.storage_limit_bytes.optional(),
  })
  .meta({ id: "CreateProjectRequest" });
export type CreateProjectRequest = z.infer<typeof CreateProjectRequest>;

export const UpdateProjectRequest = z
  .strictObject({
    name: ProjectName.optional(),
    environment: projectSettings.environment.optional(),
    plan: projectSettings.plan.optional(),
    max_connections: projectSettings.max_connections.optional(),
    statement_timeout: projectSettings.statement_timeout.optional(),
    idle_transaction_timeout: projectSettings.idle_transaction_timeout.optional(),
    storage_limit_bytes: projectSettings.storage_limit_bytes.optional(),
  })
  .meta({ id: "UpdateProjectRequest" });
export type UpdateProjectRequest = z.infer<typeof UpdateProjectRequest>;

export const ListProjectsQuery = z.strictObject({
  organization_id: z.string().min(1).optional(),
});

// ---------------------------------------------------------------- extensions
export const ExtensionName = z
  .string()
  .regex(/^[a-z0-9_][a-z0-9_-]{0,62}$/, "must be a Postgres extension name (lowercase letters, digits, _ and -)");

export const Extension = z
  .object({
    name: z.string(),
    default_version: z.string().nullable(),
    description: z.string().nullable(),
    enabled: z.boolean(),
    trusted: z.boolean(),
  })
  .meta({ id: "Extension" });
export type Extension = z.infer<typeof Extension>;

export const EnableExtensionRequest = z.strictObject({ name: ExtensionName }).meta({ id: "EnableExtensionRequest" });

// ---------------------------------------------------------------- preview databases
export const PreviewState = z.enum(["creating", "ready", "resetting", "failed", "deleting", "deleted", "promoted"]);
export const PreviewSourceKind = z.enum(["project", "backup", "empty"]);
export const PreviewMode = z.enum(["full", "schema_only"]);

export const PreviewDatabase = z
  .object({
    id: z.string(),
    project_id: z.string(),
    name: z.string(),
    state: PreviewState,
    mode: PreviewMode,
    source_kind: PreviewSourceKind,
    source_database: z.string().nullable(),
    source_backup_key: z.string().nullable(),
    source_restore_time: nullableTimestamp,
    database_name: z.string(),
    role_name: z.string(),
    public_host: z.string(),
    direct_port: z.number().int(),
    pooled_port: z.number().int(),
    ssl_mode: z.string(),
    ttl_expires_at: timestamp,
    last_error: z.string().nullable(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: "PreviewDatabase" });
export type PreviewDatabase = z.infer<typeof PreviewDatabase>;

export const MAX_PREVIEW_TTL_SECONDS = 30 * 24 * 3600;
const ttlSeconds = z.number().int().min(60).max(MAX_PREVIEW_TTL_SECONDS);

export const CreatePreviewRequest = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, "must be 1-40 lowercase letters, digits or dashes").optional(),
    source_kind: PreviewSourceKind.optional(),
    backup_id: z.string().min(1).optional(),
    mode: PreviewMode.optional(),
    ttl_seconds: ttlSeconds.optional(),
    fresh: z.boolean().optional(),
  })
  .meta({ id: "CreatePreviewRequest" });
export const ListPreviewsQuery = z.strictObject({ include_deleted: z.enum(["true", "false"]).optional() });
export const ResetPreviewRequest = z.strictObject({ fresh: z.boolean().optional() }).meta({ id: "ResetPreviewRequest" });
export const ExtendPreviewRequest = z.strictObject({ ttl_seconds: ttlSeconds.optional() }).meta({ id: "ExtendPreviewRequest" });

// ---------------------------------------------------------------- backups
export const Backup = z
  .object({
    id: z.string(),
    project_id: z.string(),
    label: z.string().nullable(),
    state: z.enum(["pending", "running", "completed", "failed"]),
    database_name: z.string(),
    backup_key: z.string().nullable(),
    size_bytes: z.number().int().nullable(),
    verification_state: z.enum(["pending", "verified", "failed"]),
    verification_error: z.string().nullable(),
    verified_at: nullableTimestamp,
    created_at: timestamp,
  })
  .meta({ id: "Backup" });
export type Backup = z.infer<typeof Backup>;

export const CreateBackupRequest = z.strictObject({ label: z.string().max(200).optional() }).meta({ id: "CreateBackupRequest" });

export const ScheduledBackup = z
  .object({
    id: z.string(),
    organization_id: z.string(),
    project_id: z.string(),
    label: z.string().nullable(),
    cron_hour: z.number().int(),
    cron_minute: z.number().int(),
    is_active: z.boolean(),
    retention_days: z.number().int(),
    last_run_at: nullableTimestamp,
    last_job_id: z.string().nullable(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: "ScheduledBackup" });
export type ScheduledBackup = z.infer<typeof ScheduledBackup>;

export const PutScheduledBackupRequest = z
  .strictObject({
    cron_hour: z.number().int().min(0).max(23),
    cron_minute: z.number().int().min(0).max(59),
    is_active: z.boolean(),
    retention_days: z.number().int().min(1).max(365).optional(),
    label: z.string().max(200).optional(),
  })
  .meta({ id: "PutScheduledBackupRequest" });

// ---------------------------------------------------------------- imports
export const PreflightCheck = z.object({
  name: z.string(),
  status: z.enum(["pass", "warn", "fail"]),
  detail: z.string(),
});
export const Preflight = z
  .object({
    checks: z.array(PreflightCheck),
    ok: z.boolean(),
    source: z.object({
      database_size_bytes: z.number().int(),
      extensions: z.array(z.object({ name: z.string(), version: z.string() })),
      server_version: z.string(),
    }),
    storage_limit_bytes: z.number().int(),
    target_version: z.string(),
  })
  .meta({ id: "Preflight" });
export const PreflightRequest = z.strictObject({ source_url: z.string().min(1).max(4096) }).meta({ id: "PreflightRequest" });
export const CreateImportRequest = z
  .strictObject({
    source_url: z.string().min(1).max(4096).optional(),
    object_key: z.string().min(1).max(512).optional(),
    replace: z.boolean().optional(),
  })
  .meta({ id: "CreateImportRequest" });
export const Upload = z
  .object({ object_key: z.string(), upload_url: z.string(), expires_at: timestamp })
  .meta({ id: "Upload" });

// ---------------------------------------------------------------- cutovers
export const CutoverStatus = z.enum(["open", "acknowledged", "rejected", "canceled", "in_progress", "completed", "failed", "rolled_back"]);
export const CutoverRequest = z
  .object({
    id: z.string(),
    organization_id: z.string(),
    project_id: z.string(),
    preview_database_id: z.string(),
    status: CutoverStatus,
    customer_note: z.string().nullable(),
    operator_note: z.string().nullable(),
    external_ticket_ref: z.string().nullable(),
    rejected_reason: z.string().nullable(),
    requested_by_actor_kind: z.enum(["api_key", "user"]),
    requested_by_actor_id: z.string(),
    ack_at: nullableTimestamp,
    ack_by_user_id: z.string().nullable(),
    pre_cutover_backup_id: z.string().nullable(),
    promote_job_id: z.string().nullable(),
    // additions to the published contract: why a cutover failed, and its rollback
    failure_reason: z.string().nullable(),
    rollback_job_id: z.string().nullable(),
    rollback_until: nullableTimestamp,
    completed_at: nullableTimestamp,
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: "CutoverRequest" });
export type CutoverRequest = z.infer<typeof CutoverRequest>;
export const CreateCutoverRequest = z
  .strictObject({ preview_id: z.string().min(1), customer_note: z.string().max(2000).optional() })
  .meta({ id: "CreateCutoverRequest" });

export const AcknowledgeCutoverRequest = z
  .strictObject({ operator_note: z.string().max(2000).optional(), external_ticket_ref: z.string().max(200).optional() })
  .meta({ id: "AcknowledgeCutoverRequest" });
export const RejectCutoverRequest = z
  .strictObject({ rejected_reason: z.string().trim().min(1, "must not be empty").max(2000), operator_note: z.string().max(2000).optional() })
  .meta({ id: "RejectCutoverRequest" });
export const ListCutoversQuery = z.strictObject({ status: CutoverStatus.optional() });

// ---------------------------------------------------------------- organizations and keys (additions)
export const Organization = z
  .object({
    id: z.string(),
    name: z.string(),
    clerk_organization_id: z.string().nullable(),
    created_at: timestamp,
  })
  .meta({ id: "Organization" });
export type Organization = z.infer<typeof Organization>;
export const CreateOrganizationRequest = z
  .strictObject({
    name: displayName(100),
    clerk_organization_id: z.string().min(1).max(200).optional().describe("Links a Clerk organization: its members' session tokens act on this organization."),
  })
  .meta({ id: "CreateOrganizationRequest" });

export const ApiKey = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string(),
    organization_id: z.string().nullable(),
    project_id: z.string().nullable(),
    created_at: timestamp,
    last_used_at: nullableTimestamp,
  })
  .meta({ id: "ApiKey" });
export type ApiKey = z.infer<typeof ApiKey>;
export const CreateApiKeyRequest = z
  .strictObject({ name: displayName(100), project_id: z.string().min(1).optional() })
  .meta({ id: "CreateApiKeyRequest" });

export const ConnectionUri = z.object({ uri: z.string() }).meta({ id: "ConnectionUri" });
export const ConnectionUriQuery = z.strictObject({ pooled: z.enum(["true", "false"]).optional() });
