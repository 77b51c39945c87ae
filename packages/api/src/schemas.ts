// The zod schemas of every resource and request body of the CapyDB API.
// Single source of truth for the server's validation, the OpenAPI document,
// the typed client, the GitHub Action and the Terraform provider.
//
// Resource objects always carry every documented field; a value that does not
// exist yet (a job's completed_at, a project's last_error) is null, never omitted.
import { z } from "zod";
import { errorCodes, type ErrorCode } from "./error-codes.js";

const timestamp = z.string().describe("RFC 3339 date-time");
const nullableTimestamp = timestamp.nullable();

/** Every error answer: `error` for a person, `code` for a program (see error-codes.ts). */
export const ErrorBody = z
  .object({
    error: z.string().describe('What went wrong, for a person; a validation error starts with the field ("name: ...")'),
    code: z.enum(errorCodes as [ErrorCode, ...ErrorCode[]]).describe("What went wrong, for a program: switch on this, not on the text"),
  })
  .meta({ id: "Error" });

// ---------------------------------------------------------------- who asked (additions)
/** Who asked for a job, a preview or a cutover request: an API key, a signed-in user, or a GitHub Actions workflow (a trust policy's token). */
export const ActorKind = z.enum(["api_key", "user", "github_actions"]);
/** On jobs and previews: null for the platform's own work and for rows made before they were recorded. */
const requestedBy = {
  requested_by_actor_kind: ActorKind.nullable(),
  /** The API key's or user's id; for GitHub Actions "owner/repo#<run id>". */
  requested_by_actor_id: z.string().nullable(),
  /** GitHub Actions: the pull request of the workflow run (from its ref refs/pull/N/merge), else null. */
  requested_by_pr_number: z.number().int().nullable(),
  /** GitHub Actions: the commit the workflow run is for, else null. */
  requested_by_sha: z.string().nullable(),
};

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
    ...requestedBy,
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

// ---------------------------------------------------------------- text that reaches Postgres
// Postgres cannot store NUL in text (the statement fails), and the other C0/C1 controls
// (escape sequences, backspace, CSI) have no business in a label, an id or a URL: they are
// refused here, once, so every field that reaches the database answers a 400 naming it.
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const NO_CONTROLS = /^[^\u0000-\u001f\u007f-\u009f]*$/;
/** Free text (notes): newlines and tabs are fine, NUL never is. */
// eslint-disable-next-line no-control-regex -- refusing NUL is the point
const NO_NUL = /^[^\u0000]*$/;

/** One line of text: no control characters (NUL, escape sequences, newlines). */
export const singleLine = (max: number) =>
  z.string().max(max, `must be at most ${max} characters`).regex(NO_CONTROLS, "must not contain control characters (NUL, escape sequences, newlines)");
/** Free text over several lines: anything but NUL, which Postgres cannot store. */
export const multiLine = (max: number) => z.string().max(max, `must be at most ${max} characters`).regex(NO_NUL, "must not contain NUL characters");

// ---------------------------------------------------------------- durations
const DURATION_UNIT_MS: Record<string, number> = { "": 1, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d{1,9})\s?(ms|s|min|h|d)?$/;
/** Postgres keeps statement_timeout and idle_in_transaction_session_timeout in an int of milliseconds. */
export const PG_MAX_TIMEOUT_MS = 2_147_483_647;

/** Milliseconds of a duration in PgDuration's syntax ("0", "500ms", "30s", "5min", "2h", "1d"); NaN when it is not one. */
export function pgDurationMs(value: string): number {
  const m = DURATION.exec(value);
  return m ? Number(m[1]) * DURATION_UNIT_MS[m[2] ?? ""] : NaN;
}

/**
 * A Postgres duration as accepted by SET statement_timeout: "0" (none), "500ms", "30s",
 * "5min", "2h", "1d" — at most Postgres's own limit (about 24.8 days), so a value that
 * passes here is one ALTER ROLE ... SET accepts. Plans set lower ceilings (see /v1/organizations/{orgID}/quotas).
 */
export const PgDuration = z
  .string()
  .regex(DURATION, 'must be a duration such as "0", "500ms", "30s", "5min", "1h"')
  .refine((v) => !(pgDurationMs(v) > PG_MAX_TIMEOUT_MS), `must be at most ${PG_MAX_TIMEOUT_MS}ms (about 24.8 days), Postgres's limit`);

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

/** The plans of the API; their ceilings are the operator's (CAPYDB_PLANS). */
export const PlanName = z.enum(["free", "pro", "enterprise"]);
export type PlanName = z.infer<typeof PlanName>;

const projectSettings = {
  environment: z.enum(["production", "staging", "development"]),
  plan: PlanName,
  max_connections: z.number().int().min(1).max(10000),
  statement_timeout: PgDuration,
  idle_transaction_timeout: PgDuration,
  storage_limit_bytes: z.number().int().min(1_048_576).max(Number.MAX_SAFE_INTEGER),
};

export const CreateProjectRequest = z
  .strictObject({
    name: ProjectName,
    organization_id: singleLine(64).min(1).optional().describe("Platform admins only: the organization to create the project in."),
    region: singleLine(63).min(1).optional(),
    environment: projectSettings.environment.optional(),
    plan: projectSettings.plan.optional().describe("Platform admins only (others may only name the default plan, free)."),
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
    plan: projectSettings.plan.optional().describe("Platform admins only (others may only repeat the current plan)."),
    max_connections: projectSettings.max_connections.optional(),
    statement_timeout: projectSettings.statement_timeout.optional(),
    idle_transaction_timeout: projectSettings.idle_transaction_timeout.optional(),
    storage_limit_bytes: projectSettings.storage_limit_bytes.optional(),
  })
  .meta({ id: "UpdateProjectRequest" });
export type UpdateProjectRequest = z.infer<typeof UpdateProjectRequest>;

// ---------------------------------------------------------------- cursor pagination (lists)
export const PAGE_LIMIT_MAX = 200;
/** A page size given with a cursor alone. */
export const PAGE_LIMIT_DEFAULT = 50;
const pageLimitError = `must be a whole number from 1 to ${PAGE_LIMIT_MAX}`;
/**
 * ?limit=&cursor= on a list: with either, the answer has at most `limit` items and next_cursor
 * (null on the last page); with neither, the list answers as it always did, without next_cursor.
 */
export const pageQuery = {
  limit: z.coerce
    .number({ error: pageLimitError })
    .int({ error: pageLimitError })
    .min(1, { error: pageLimitError })
    .max(PAGE_LIMIT_MAX, { error: pageLimitError })
    .optional()
    .describe(`Page size, 1-${PAGE_LIMIT_MAX} (${PAGE_LIMIT_DEFAULT} when only cursor is given); with it or cursor the answer carries next_cursor`),
  cursor: singleLine(512).min(1).optional().describe("The next_cursor of the previous page (opaque); absent for the first page"),
};
/** On lists: the cursor of the next page, null on the last; present only when limit or cursor was given. */
export const nextCursor = z
  .string()
  .nullable()
  .optional()
  .describe("Present when limit or cursor was given: pass it as ?cursor= for the next page; null on the last page");
/** The query of a list that takes nothing but pagination (unknown parameters are ignored, as before). */
export const PageQuery = z.object(pageQuery);

export const ListProjectsQuery = z.strictObject({
  organization_id: singleLine(64).min(1).optional(),
  ...pageQuery,
});

// ---------------------------------------------------------------- extensions
export const ExtensionName = z.string().regex(/^[a-z0-9_][a-z0-9_-]{0,62}$/, "must be a Postgres extension name (lowercase letters, digits, _ and -)");

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
    /** Its data went through the project's masking rules (see MaskingRules). */
    masked: z.boolean(),
    /** When the masked data was checked against production (no original value of a masked column survived); null unless masked. */
    masking_verified_at: nullableTimestamp,
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
    ...requestedBy,
  })
  .meta({ id: "PreviewDatabase" });
export type PreviewDatabase = z.infer<typeof PreviewDatabase>;

export const MAX_PREVIEW_TTL_SECONDS = 30 * 24 * 3600;
const ttlSeconds = z.number().int().min(60).max(MAX_PREVIEW_TTL_SECONDS);

export const CreatePreviewRequest = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, "must be 1-40 lowercase letters, digits or dashes")
      .optional(),
    source_kind: PreviewSourceKind.optional(),
    backup_id: singleLine(64).min(1).optional(),
    mode: PreviewMode.optional(),
    ttl_seconds: ttlSeconds.optional(),
    fresh: z.boolean().optional(),
    /** Default: true when the project has masking rules. false needs an organization key or a platform admin. */
    masked: z.boolean().optional(),
  })
  .meta({ id: "CreatePreviewRequest" });
export const ListPreviewsQuery = z.strictObject({ include_deleted: z.enum(["true", "false"]).optional(), ...pageQuery });
export const ResetPreviewRequest = z.strictObject({ fresh: z.boolean().optional() }).meta({ id: "ResetPreviewRequest" });
export const ExtendPreviewRequest = z.strictObject({ ttl_seconds: ttlSeconds.optional() }).meta({ id: "ExtendPreviewRequest" });

// ---------------------------------------------------------------- schema diffs
export const SchemaRisk = z.enum(["safe", "risky", "destructive"]);
export const SchemaDiffStatement = z
  .object({
    /** One DDL statement of the migration from production's schema to the preview's. */
    sql: z.string(),
    /** The object it changes (schema.name), or null. */
    object: z.string().nullable(),
    /** What it does: create_table, drop_table, add_column, drop_column, alter_column_type, create_index, ... */
    kind: z.string(),
    risk: SchemaRisk,
    /** What happens to production, and the safer form when there is one. */
    reason: z.string(),
  })
  .meta({ id: "SchemaDiffStatement" });
export const SchemaDiff = z
  .object({
    created_at: timestamp,
    base: z.literal("production"),
    statements: z.array(SchemaDiffStatement),
    summary: z.object({ safe: z.number().int(), risky: z.number().int(), destructive: z.number().int() }),
  })
  .meta({ id: "SchemaDiff" });
export type SchemaDiff = z.infer<typeof SchemaDiff>;
export const CutoverMode = z.enum(["data", "schema"]);
/** A cutover request's schema evidence at one moment: the preview's diff against production, and production's schema fingerprint. */
export const CutoverSchemaReview = z
  .object({
    state: z.enum(["pending", "ready", "failed"]),
    /** When it was taken (or, pending, asked for). */
    taken_at: timestamp,
    statements: z.array(SchemaDiffStatement),
    summary: z.object({ safe: z.number().int(), risky: z.number().int(), destructive: z.number().int() }),
    /** sha256 of production's schema as pg_dump --schema-only writes it. */
    production_schema_sha256: z.string().nullable(),
    error: z.string().nullable(),
  })
  .meta({ id: "CutoverSchemaReview" });
export type CutoverSchemaReview = z.infer<typeof CutoverSchemaReview>;
/** What production received since the preview's data was taken (its origin): per table, exactly, from a logical slot. */
export const WritesSinceOrigin = z
  .object({
    /** false when the count is not known (no origin for this preview, the slot lost): `reason` says why. */
    known: z.boolean(),
    reason: z.string().nullable(),
    /** production's WAL position the preview's data is exactly as of */
    since_lsn: z.string().nullable(),
    /** when this count was read (live while the request waits; frozen when it is executed) */
    as_of: timestamp,
    last_write_at: nullableTimestamp,
    tables: z.array(z.object({ table: z.string(), inserts: z.number().int(), updates: z.number().int(), deletes: z.number().int(), last_write_at: timestamp })),
  })
  .meta({ id: "WritesSinceOrigin" });
export type WritesSinceOrigin = z.infer<typeof WritesSinceOrigin>;
/** A table whose production writes a data cutover cannot carry into the preview, and why. */
export const TableNotCarried = z.object({ table: z.string(), reason: z.string() }).meta({ id: "TableNotCarried" });
/**
 * A data cutover carries production's writes since the preview's origin into the preview
 * (replayed from the origin's logical slot, then the last of them under a brief write pause)
 * before it becomes production.
 */
export const CarryOver = z
  .object({
    /** false when production's writes cannot be carried at all (no origin: the shared engine, an old preview); `reason` says why. */
    possible: z.boolean(),
    reason: z.string().nullable(),
    /** Tables whose writes cannot be applied to the preview's schema: execute refuses unless accept_write_loss. Live while the request waits. */
    tables_not_carried: z.array(TableNotCarried),
    /** The operator executed with accept_write_loss: true (those tables' writes are not carried). */
    accept_write_loss: z.boolean(),
    state: z.enum(["waiting", "catching_up", "paused", "done", "failed"]),
    /** production's WAL position carried through */
    through_lsn: z.string().nullable(),
    transactions: z.number().int(),
    /** per table, the rows carried (and skipped, when accepted) */
    tables: z.array(
      z.object({ table: z.string(), inserts: z.number().int(), updates: z.number().int(), deletes: z.number().int(), skipped: z.number().int() }),
    ),
    /** sequences set to production's values (or kept, when the preview's were further) */
    sequences: z.number().int(),
    /** how long production's writes were paused for the last changes and the swap */
    pause_ms: z.number().int().nullable(),
  })
  .meta({ id: "CarryOver" });
export type CarryOver = z.infer<typeof CarryOver>;

// ---------------------------------------------------------------- masking rules
export const MaskingStrategy = z.enum(["email", "name", "phone", "hash", "redact", "null", "constant", "date_shift"]);
export const MAX_MASKING_RULES = 500;
export const MAX_MASKING_SHIFT_DAYS = 36500;

export const MaskingRule = z
  .strictObject({
    /** schema.table ("users" means "public.users"). */
    table: singleLine(130).min(1),
    column: singleLine(63).min(1),
    strategy: MaskingStrategy,
    /** The value every row gets (strategy "constant" only). */
    value: singleLine(1000).optional(),
    /** Dates move by a stable shift of 1 to this many days, either way (strategy "date_shift" only). */
    days: z.number().int().min(1).max(MAX_MASKING_SHIFT_DAYS).optional(),
  })
  .meta({ id: "MaskingRule" });
export type MaskingRule = z.infer<typeof MaskingRule>;

export const UncoveredColumn = z.object({ table: z.string(), column: z.string(), reason: z.string() }).meta({ id: "UncoveredColumn" });
export type UncoveredColumn = z.infer<typeof UncoveredColumn>;

export const MaskingRules = z
  .object({
    rules: z.array(MaskingRule),
    /** Masked previews are refused (409 masking_coverage_incomplete) while uncovered_columns is not empty. */
    require_coverage: z.boolean(),
    /** Columns of production that look personal (by name or sampled content) and have no rule. */
    uncovered_columns: z.array(UncoveredColumn),
    /** null until rules are first set. */
    updated_at: nullableTimestamp,
  })
  .meta({ id: "MaskingRules" });
export type MaskingRules = z.infer<typeof MaskingRules>;

export const PutMaskingRulesRequest = z
  .strictObject({
    rules: z.array(MaskingRule).max(MAX_MASKING_RULES, `must have at most ${MAX_MASKING_RULES} rules`),
    require_coverage: z.boolean().optional(),
  })
  .meta({ id: "PutMaskingRulesRequest" });

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

export const CreateBackupRequest = z.strictObject({ label: singleLine(200).optional() }).meta({ id: "CreateBackupRequest" });

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
    label: singleLine(200).optional(),
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
export const PreflightRequest = z.strictObject({ source_url: singleLine(4096).min(1) }).meta({ id: "PreflightRequest" });
export const CreateImportRequest = z
  .strictObject({
    source_url: singleLine(4096).min(1).optional(),
    object_key: singleLine(512).min(1).optional(),
    replace: z.boolean().optional(),
  })
  .meta({ id: "CreateImportRequest" });
export const Upload = z.object({ object_key: z.string(), upload_url: z.string(), expires_at: timestamp }).meta({ id: "Upload" });

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
    requested_by_actor_kind: ActorKind,
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
    // the schema evidence (issue #17): the diff when the request was opened and when it was executed
    schema_diff_at_open: CutoverSchemaReview.nullable(),
    schema_diff_at_execute: CutoverSchemaReview.nullable(),
    /** Whether production's schema changed between the two; null until both were taken. */
    production_schema_changed: z.boolean().nullable(),
    /** When it changed: the lines of production's schema (pg_dump's SQL) gone and new, at most 200 each. */
    production_schema_changes: z.object({ removed: z.array(z.string()), added: z.array(z.string()) }).nullable(),
    mode: CutoverMode,
    /** Schema mode, once executed: how many reviewed statements were applied, in how many attempts, and what still differs from the preview after. */
    schema_applied: z.object({ statements: z.number().int(), attempts: z.number().int(), residual: z.array(SchemaDiffStatement) }).nullable(),
    /** Production's writes since the preview's origin: a cutover of the preview's data would not carry them over. Null for requests from before origins. */
    writes_since_origin: WritesSinceOrigin.nullable(),
    /** Data mode: how production's writes since the origin are carried into the preview before the swap. Null in schema mode. */
    carry_over: CarryOver.nullable(),
    /** Data mode, once completed: how a rollback would carry production's writes since the swap back into the previous data (live within the window; as done after a rollback). */
    rollback_carry_over: CarryOver.nullable(),
  })
  .meta({ id: "CutoverRequest" });
export type CutoverRequest = z.infer<typeof CutoverRequest>;
export const CreateCutoverRequest = z
  .strictObject({
    preview_id: singleLine(64).min(1),
    customer_note: multiLine(2000).optional(),
    /** data (default): the preview's data becomes production's; schema: production keeps its data and gets the preview's reviewed schema diff. */
    mode: CutoverMode.optional(),
  })
  .meta({ id: "CreateCutoverRequest" });

/** Rollback's optional body. */
export const RollbackCutoverRequest = z
  .strictObject({
    /** Go on although some tables' writes since the cutover cannot be carried back into the previous data (rollback_carry_over.tables_not_carried). */
    accept_write_loss: z.boolean().optional(),
  })
  .meta({ id: "RollbackCutoverRequest" });
/** Execute's optional body. */
export const ExecuteCutoverRequest = z
  .strictObject({
    /** Data mode: go on although some tables' writes since the origin cannot be carried (carry_over.tables_not_carried); recorded on the request. */
    accept_write_loss: z.boolean().optional(),
  })
  .meta({ id: "ExecuteCutoverRequest" });
export const AcknowledgeCutoverRequest = z
  .strictObject({ operator_note: multiLine(2000).optional(), external_ticket_ref: singleLine(200).optional() })
  .meta({ id: "AcknowledgeCutoverRequest" });
export const RejectCutoverRequest = z
  .strictObject({ rejected_reason: multiLine(2000).trim().min(1, "must not be empty"), operator_note: multiLine(2000).optional() })
  .meta({ id: "RejectCutoverRequest" });
export const ListCutoversQuery = z.strictObject({ status: CutoverStatus.optional(), ...pageQuery });

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
    clerk_organization_id: singleLine(200).min(1).optional().describe("Links a Clerk organization: its members' session tokens act on this organization."),
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
export const CreateApiKeyRequest = z.strictObject({ name: displayName(100), project_id: singleLine(64).min(1).optional() }).meta({ id: "CreateApiKeyRequest" });

// ---------------------------------------------------------------- trust policies (additions)
/** What a GitHub Actions token may do: create, reset, delete and extend previews, check (schema diffs), cutover (open a request). */
export const TrustPolicyCommand = z.enum(["create", "reset", "delete", "extend", "check", "cutover"]);
export type TrustPolicyCommand = z.infer<typeof TrustPolicyCommand>;
export const TRUST_POLICY_COMMANDS = TrustPolicyCommand.options;

/** GitHub's rules: an owner of letters, digits and inner dashes (39 at most), a name of letters, digits, ".", "_" and "-". */
const GitHubRepository = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/, 'must be a GitHub repository as "owner/repo"')
  .refine((v) => ![".", ".."].includes(v.split("/")[1]), 'must be a GitHub repository as "owner/repo"');

/** A ref, or a pattern where "*" stands for exactly one whole path segment (refs/pull/*\/merge). */
const RefPattern = singleLine(255)
  .regex(/^refs\/[^/]/, 'must be a full ref starting with "refs/" (refs/heads/main, refs/pull/*/merge)')
  .refine((v) => v.split("/").every((segment) => segment !== "" && (segment === "*" || !segment.includes("*"))), {
    message: '"*" may only stand for a whole path segment (refs/heads/*, not refs/heads/feat*), and no segment may be empty',
  });

const policyList = <T extends z.ZodType>(item: T) => z.array(item).min(1, "must not be empty: omit it to allow any").max(50, "must have at most 50 entries");

export const CreateTrustPolicyRequest = z
  .strictObject({
    /** Who issues the workflow's ID tokens. Default "github" (the only one so far). */
    provider: z.enum(["github"]).optional(),
    repository: GitHubRepository,
    /** GitHub's id of the repository: a repository deleted and recreated under the same name has another. Default: pinned by the first token exchanged. */
    repository_id: z
      .union([z.string().regex(/^[1-9][0-9]{0,19}$/, "must be GitHub's numeric repository id"), z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)])
      .optional(),
    /** Default: any ref. */
    refs: policyList(RefPattern).optional(),
    /** Default: any environment, or none. */
    environments: policyList(singleLine(255).min(1)).optional(),
    /** Workflow events (event_name), e.g. pull_request, push. Default: any. */
    events: policyList(z.string().regex(/^[a-z_]{1,64}$/, "must be a GitHub Actions event name such as pull_request or push")).optional(),
    /** Default: every command. */
    commands: policyList(TrustPolicyCommand).optional(),
    /** Trust runs through which a fork's code can hold the token (pull_request_target, workflow_run). Default false. */
    allow_forks: z.boolean().optional(),
  })
  .meta({ id: "CreateTrustPolicyRequest" });
export type CreateTrustPolicyRequest = z.infer<typeof CreateTrustPolicyRequest>;

export const TrustPolicy = z
  .object({
    id: z.string(),
    project_id: z.string(),
    organization_id: z.string(),
    provider: z.enum(["github"]),
    repository: z.string(),
    /** null until pinned (by the first token exchanged when not given). */
    repository_id: z.string().nullable(),
    /** null: any. */
    refs: z.array(z.string()).nullable(),
    environments: z.array(z.string()).nullable(),
    events: z.array(z.string()).nullable(),
    commands: z.array(TrustPolicyCommand),
    allow_forks: z.boolean(),
    created_at: timestamp,
  })
  .meta({ id: "TrustPolicy" });
export type TrustPolicy = z.infer<typeof TrustPolicy>;

export const GitHubOidcExchangeRequest = z
  .strictObject({
    /** The ID token of the workflow run (core.getIDToken(audience)). */
    token: z.string().min(1).max(16_384, "must be at most 16384 characters"),
    project_id: singleLine(64).min(1),
  })
  .meta({ id: "GitHubOidcExchangeRequest" });

export const OidcAccessToken = z
  .object({
    /** capy_oidc_...: a bearer token for this project only, for the policy's commands, until expires_at. */
    access_token: z.string(),
    expires_at: timestamp,
    project_id: z.string(),
    commands: z.array(TrustPolicyCommand),
  })
  .meta({ id: "OidcAccessToken" });
export type OidcAccessToken = z.infer<typeof OidcAccessToken>;

// ---------------------------------------------------------------- quotas (additions)
/** A ceiling on a timeout: a PgDuration other than "0". */
const timeoutCeiling = PgDuration.refine((v) => pgDurationMs(v) > 0, 'must be more than "0" (allow_no_timeout says whether "0" is allowed)');

/**
 * The ceilings of a plan, set by the platform operator (CAPYDB_PLANS) and optionally
 * overridden per organization by a platform admin. Tenants set their projects' settings
 * within them; platform admins are bound only by the cluster's capacity.
 */
export const Quotas = z
  .strictObject({
    max_connections: z.number().int().min(1).max(10000).describe("Highest max_connections a tenant may set on a project."),
    default_max_connections: z.number().int().min(1).max(10000).describe("max_connections of a project created without one (never above max_connections)."),
    preview_max_connections: z.number().int().min(1).max(10000).describe("Connection limit of each preview's role (the project's own when that is lower)."),
    storage_limit_bytes: z.number().int().min(1_048_576).max(Number.MAX_SAFE_INTEGER).describe("Highest storage_limit_bytes; also the default."),
    max_statement_timeout: timeoutCeiling.describe("Longest statement_timeout a tenant may set."),
    max_idle_transaction_timeout: timeoutCeiling.describe("Longest idle_transaction_timeout a tenant may set."),
    allow_no_timeout: z.boolean().describe('Whether "0" (no timeout) may be set; when not, a project created without a timeout gets the longest one.'),
    projects_per_organization: z.number().int().min(0).max(1_000_000).describe("Projects (not deleted) an organization may have."),
    previews_per_project: z.number().int().min(0).max(10000).describe("Live preview databases per project."),
    manual_backups_per_project: z
      .number()
      .int()
      .min(0)
      .max(100_000)
      .describe("Backups taken on request (not by a schedule) a project keeps; delete one to take another."),
    max_preview_lifetime_seconds: z
      .number()
      .int()
      .min(60)
      .max(10 * 365 * 24 * 3600)
      .describe("A preview expires at most this long after its creation, however often it is extended."),
  })
  .meta({ id: "Quotas" });
export type Quotas = z.infer<typeof Quotas>;

/** What a platform admin sets for one organization: any subset of the ceilings, over every plan. */
export const PutOrganizationQuotasRequest = Quotas.partial().meta({ id: "PutOrganizationQuotasRequest" });
export type QuotaOverrides = z.infer<typeof PutOrganizationQuotasRequest>;

export const OrganizationQuotas = z
  .object({
    organization_id: z.string(),
    overrides: Quotas.partial().describe("The ceilings a platform admin set for this organization (over every plan)."),
    plans: z.object({ free: Quotas, pro: Quotas, enterprise: Quotas }).describe("The ceilings in force for this organization's projects, by plan."),
    updated_at: nullableTimestamp,
  })
  .meta({ id: "OrganizationQuotas" });
export type OrganizationQuotas = z.infer<typeof OrganizationQuotas>;

export const ConnectionUri = z.object({ uri: z.string() }).meta({ id: "ConnectionUri" });
export const ConnectionUriQuery = z.strictObject({ pooled: z.enum(["true", "false"]).optional() });
