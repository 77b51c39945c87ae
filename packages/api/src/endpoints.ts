// The catalogue of every endpoint: the 22 of the published contract and the additions.
// The OpenAPI document, the server's "not implemented yet" routes and the contract tests
// are all derived from this list, so an endpoint cannot exist in one and not the others.
import { z } from "zod";
import * as s from "./schemas.js";
import { ERROR_CODES, type ErrorCode } from "./error-codes.js";

export interface Endpoint {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** OpenAPI-style path: /v1/projects/{projectID} */
  path: string;
  /**
   * The OpenAPI operationId, and the name of the typed client's method for it (CapyClient.<id>):
   * one name, so generated SDKs and the hand-written client agree (checked by test/openapi-operation-ids).
   */
  operationId: string;
  summary: string;
  tag: string;
  /** True for the 22 endpoints of ../shared/api-reference/contract.json. */
  contract: boolean;
  /** Platform-admin only (403 for everyone else). */
  admin?: boolean;
  /** Unauthenticated. */
  public?: boolean;
  /** The server's route when it differs from the documented path (a wildcard). */
  route?: string;
  body?: z.ZodType;
  /**
   * Whether the server refuses the call without a body. Default: when {} does not satisfy `body`
   * (an absent body is read as {}); set it where the server needs more than the schema says.
   */
  bodyRequired?: boolean;
  query?: z.ZodType;
  /** Success status and body schema. */
  status: number;
  response: z.ZodType;
  /**
   * What a GitHub Actions token (capy_oidc_..., from POST /v1/auth/github-oidc) needs to call it:
   * nothing more ("read"), or this command in its trust policy. Absent: such tokens get 403.
   */
  githubActions?: "read" | s.TrustPolicyCommand;
  /**
   * The error codes this endpoint answers beyond those every endpoint of its kind does (see
   * errorCodesOf): its 403s, 409s, specific 400s and 404s. The OpenAPI document lists them.
   */
  errors?: ErrorCode[];
}

const jobEnvelope = z.object({ job: s.Job });
const projectEnvelope = z.object({ project: s.Project });
const previewEnvelope = z.object({ preview: s.PreviewDatabase });
const cutoverEnvelope = z.object({ cutover_request: s.CutoverRequest });

export const endpoints: Endpoint[] = [
  // Projects
  {
    method: "GET",
    path: "/v1/projects",
    operationId: "listProjects",
    tag: "Projects",
    contract: true,
    summary: "List projects",
    query: s.ListProjectsQuery,
    status: 200,
    response: z.object({ projects: z.array(s.Project), next_cursor: s.nextCursor }),
  },
  {
    method: "POST",
    path: "/v1/projects",
    operationId: "createProject",
    tag: "Projects",
    contract: true,
    summary: "Create a project (a database and a login role)",
    body: s.CreateProjectRequest,
    status: 201,
    response: z.object({ job: s.Job, project: s.Project }),
    errors: ["forbidden", "plan_ceiling_exceeded", "project_limit_reached", "connection_capacity_exceeded", "instance_capacity_exceeded"],
  },
  {
    method: "GET",
    path: "/v1/projects/{projectID}",
    operationId: "getProject",
    githubActions: "read",
    tag: "Projects",
    contract: true,
    summary: "Get a project",
    status: 200,
    response: projectEnvelope,
  },
  {
    method: "PATCH",
    path: "/v1/projects/{projectID}",
    operationId: "updateProject",
    tag: "Projects",
    contract: true,
    summary: "Update a project's settings (applied to Postgres at once)",
    body: s.UpdateProjectRequest,
    status: 200,
    response: projectEnvelope,
    errors: ["forbidden", "plan_ceiling_exceeded", "project_not_ready", "project_deleted", "connection_capacity_exceeded"],
  },
  {
    method: "DELETE",
    path: "/v1/projects/{projectID}",
    operationId: "deleteProject",
    tag: "Projects",
    contract: true,
    summary: "Delete a project (drops its database and role)",
    status: 202,
    response: jobEnvelope,
  },
  {
    method: "GET",
    path: "/v1/projects/{projectID}/connection-uri",
    operationId: "getConnectionUri",
    tag: "Projects",
    contract: false,
    summary: "The project's connection string, password included",
    query: s.ConnectionUriQuery,
    status: 200,
    response: s.ConnectionUri,
    errors: ["project_deleted", "pooling_unavailable"],
  },
  {
    method: "POST",
    path: "/v1/projects/{projectID}/move-to-instance",
    operationId: "moveProjectToInstance",
    tag: "Projects",
    contract: false,
    admin: true,
    summary: "Operator: move a project of the shared engine to a PostgreSQL instance of its own (it is down while copied)",
    status: 202,
    response: jobEnvelope,
    errors: ["forbidden", "project_not_ready", "conflict", "instance_capacity_exceeded"],
  },
  {
    method: "GET",
    path: "/v1/projects/{projectID}/jobs",
    operationId: "listProjectJobs",
    githubActions: "read",
    tag: "Jobs",
    contract: false,
    summary: "A project's jobs, newest first",
    query: s.PageQuery,
    status: 200,
    response: z.object({ jobs: z.array(s.Job), next_cursor: s.nextCursor }),
  },
  // Extensions
  {
    method: "GET",
    path: "/v1/projects/{projectID}/extensions",
    operationId: "listExtensions",
    tag: "Extensions",
    contract: true,
    summary: "List the extensions available to a project",
    status: 200,
    response: z.object({ extensions: z.array(s.Extension) }),
    errors: ["project_not_ready", "project_deleted"],
  },
  {
    method: "POST",
    path: "/v1/projects/{projectID}/extensions",
    operationId: "enableExtension",
    tag: "Extensions",
    contract: true,
    summary: "Enable an extension",
    body: s.EnableExtensionRequest,
    status: 202,
    response: jobEnvelope,
    errors: ["project_not_ready", "project_deleted"],
  },
  {
    method: "DELETE",
    path: "/v1/projects/{projectID}/extensions/{name}",
    operationId: "disableExtension",
    tag: "Extensions",
    contract: true,
    summary: "Disable an extension",
    status: 202,
    response: jobEnvelope,
    errors: ["project_not_ready", "project_deleted"],
  },
  // Preview databases
  {
    method: "GET",
    path: "/v1/projects/{projectID}/preview-databases",
    operationId: "listPreviews",
    githubActions: "read",
    tag: "Previews",
    contract: true,
    summary: "List live preview databases (deleted ones too with ?include_deleted=true)",
    query: s.ListPreviewsQuery,
    status: 200,
    response: z.object({ preview_databases: z.array(s.PreviewDatabase), next_cursor: s.nextCursor }),
  },
  {
    method: "POST",
    path: "/v1/projects/{projectID}/preview-databases",
    operationId: "createPreview",
    githubActions: "create",
    tag: "Previews",
    contract: true,
    summary: "Create a preview database",
    body: s.CreatePreviewRequest,
    status: 201,
    response: z.object({ job: s.Job, preview: s.PreviewDatabase }),
    errors: [
      "project_not_ready",
      "project_deleted",
      "preview_lifetime_exceeded",
      "preview_limit_reached",
      "preview_name_taken",
      "masking_coverage_incomplete",
      "connection_capacity_exceeded",
      "instance_capacity_exceeded",
    ],
  },
  {
    method: "GET",
    path: "/v1/preview-databases/{previewID}",
    operationId: "getPreview",
    githubActions: "read",
    tag: "Previews",
    contract: false,
    summary: "Get a preview database",
    status: 200,
    response: previewEnvelope,
  },
  {
    method: "GET",
    path: "/v1/preview-databases/{previewID}/connection-uri",
    operationId: "getPreviewConnectionUri",
    githubActions: "read",
    tag: "Previews",
    contract: false,
    summary: "The preview's connection string, password included",
    query: s.ConnectionUriQuery,
    status: 200,
    response: s.ConnectionUri,
    errors: ["preview_not_ready", "preview_deleted", "pooling_unavailable"],
  },
  {
    method: "DELETE",
    path: "/v1/preview-databases/{previewID}",
    operationId: "deletePreview",
    githubActions: "delete",
    tag: "Previews",
    contract: true,
    summary: "Delete a preview database",
    status: 202,
    response: jobEnvelope,
    errors: ["preview_deleted"],
  },
  {
    method: "POST",
    path: "/v1/preview-databases/{previewID}/reset",
    operationId: "resetPreview",
    githubActions: "reset",
    tag: "Previews",
    contract: true,
    summary: "Reset a preview to its source's data",
    body: s.ResetPreviewRequest,
    status: 202,
    response: jobEnvelope,
    errors: ["preview_not_ready", "preview_deleted"],
  },
  {
    method: "POST",
    path: "/v1/preview-databases/{previewID}/extend",
    operationId: "extendPreview",
    githubActions: "extend",
    tag: "Previews",
    contract: true,
    summary: "Extend a preview's time to live",
    body: s.ExtendPreviewRequest,
    status: 200,
    response: previewEnvelope,
    errors: ["preview_deleted", "preview_lifetime_exceeded"],
  },
  // Backups
  {
    method: "GET",
    path: "/v1/projects/{projectID}/scheduled-backups",
    operationId: "listScheduledBackups",
    tag: "Backups",
    contract: true,
    summary: "List backup schedules",
    status: 200,
    response: z.object({ scheduled_backups: z.array(s.ScheduledBackup) }),
  },
  {
    method: "POST",
    path: "/v1/preview-databases/{previewID}/schema-diff",
    operationId: "createSchemaDiff",
    githubActions: "check",
    tag: "Previews",
    contract: false,
    summary: "Compute the DDL from production's schema to the preview's, with each statement's risk (a job)",
    status: 202,
    response: jobEnvelope,
    errors: ["preview_not_ready", "preview_deleted"],
  },
  {
    method: "GET",
    path: "/v1/preview-databases/{previewID}/schema-diff",
    operationId: "getSchemaDiff",
    githubActions: "check",
    tag: "Previews",
    contract: false,
    summary: "The preview's latest schema diff against production (404 before one was computed)",
    status: 200,
    response: z.object({ schema_diff: s.SchemaDiff }),
  },
  {
    method: "GET",
    path: "/v1/projects/{projectID}/masking-rules",
    operationId: "getMaskingRules",
    githubActions: "read",
    tag: "Masking",
    contract: false,
    summary: "The project's masking rules, and the columns that look personal with no rule",
    status: 200,
    response: z.object({ masking_rules: s.MaskingRules }),
    errors: ["project_not_ready", "project_deleted"],
  },
  {
    method: "PUT",
    path: "/v1/projects/{projectID}/masking-rules",
    operationId: "putMaskingRules",
    tag: "Masking",
    contract: false,
    summary: "Set the project's masking rules (masked snapshots taken before are not used again)",
    body: s.PutMaskingRulesRequest,
    status: 200,
    response: z.object({ masking_rules: s.MaskingRules }),
    errors: ["project_not_ready", "project_deleted"],
  },
  {
    method: "PUT",
    path: "/v1/projects/{projectID}/scheduled-backups/default",
    operationId: "putDefaultScheduledBackup",
    tag: "Backups",
    contract: true,
    summary: "Set the daily backup schedule",
    body: s.PutScheduledBackupRequest,
    status: 200,
    response: z.object({ scheduled_backup: s.ScheduledBackup }),
    errors: ["project_deleted"],
  },
  {
    method: "GET",
    path: "/v1/projects/{projectID}/backups",
    operationId: "listBackups",
    tag: "Backups",
    contract: true,
    summary: "List backups, newest first",
    query: s.PageQuery,
    status: 200,
    response: z.object({ backups: z.array(s.Backup), next_cursor: s.nextCursor }),
  },
  {
    method: "POST",
    path: "/v1/projects/{projectID}/backups",
    operationId: "createBackup",
    tag: "Backups",
    contract: true,
    summary: "Take a backup now",
    body: s.CreateBackupRequest,
    status: 202,
    response: jobEnvelope,
    errors: ["project_not_ready", "project_deleted", "backup_limit_reached"],
  },
  {
    method: "GET",
    path: "/v1/backups/{backupID}",
    operationId: "getBackup",
    tag: "Backups",
    contract: false,
    summary: "Get a backup",
    status: 200,
    response: z.object({ backup: s.Backup }),
  },
  {
    method: "POST",
    path: "/v1/backups/{backupID}/restore",
    operationId: "restoreBackup",
    tag: "Backups",
    contract: false,
    summary: "Restore a backup into its project (a safety backup is taken first; the swap is by rename)",
    status: 202,
    response: jobEnvelope,
    errors: ["project_not_found", "project_not_ready", "project_deleted", "backup_not_completed", "backup_verification_failed"],
  },
  {
    method: "DELETE",
    path: "/v1/backups/{backupID}",
    operationId: "deleteBackup",
    tag: "Backups",
    contract: false,
    summary: "Delete a backup (its archive and its record); pinned backups, backups in use and backups still being taken are kept (409)",
    status: 200,
    response: z.object({ backup: s.Backup }),
    errors: ["backup_pinned", "backup_not_completed", "backup_in_use"],
  },
  {
    method: "POST",
    path: "/v1/backups/{backupID}/verify",
    operationId: "verifyBackup",
    tag: "Backups",
    contract: false,
    summary: "Verify a backup again: restore it into a scratch database and compare row counts",
    status: 202,
    response: jobEnvelope,
    errors: ["project_not_found", "backup_not_completed"],
  },
  // Imports
  {
    method: "POST",
    path: "/v1/projects/{projectID}/imports",
    operationId: "createImport",
    tag: "Imports",
    contract: true,
    summary: "Import a database from a URL or an uploaded dump",
    body: s.CreateImportRequest,
    bodyRequired: true, // exactly one of source_url and object_key
    status: 202,
    response: jobEnvelope,
    errors: ["project_not_ready", "project_deleted", "database_not_empty", "conflict"],
  },
  {
    method: "POST",
    path: "/v1/projects/{projectID}/imports/uploads",
    operationId: "createUpload",
    tag: "Imports",
    contract: true,
    summary: "Get a signed URL to upload a dump to",
    status: 201,
    response: z.object({ upload: s.Upload }),
    errors: ["project_deleted"],
  },
  {
    method: "POST",
    path: "/v1/projects/{projectID}/imports/preflight",
    operationId: "preflightImport",
    tag: "Imports",
    contract: true,
    summary: "Check a source database before importing it",
    body: s.PreflightRequest,
    status: 200,
    response: z.object({ preflight: s.Preflight }),
  },
  {
    method: "PUT",
    path: "/v1/uploads/{objectKey}",
    operationId: "uploadDump",
    tag: "Imports",
    contract: false,
    public: true,
    route: "/v1/uploads/*",
    summary: "Upload a dump (custom or tar format) to a signed upload URL; authenticated by the URL's signature",
    status: 201,
    response: z.object({ object_key: z.string(), size_bytes: z.number().int(), format: z.enum(["custom", "tar"]) }),
    errors: ["validation_failed", "forbidden", "upload_url_expired", "conflict", "payload_too_large"],
  },
  // Cutovers
  {
    method: "GET",
    path: "/v1/projects/{projectID}/cutover-requests",
    operationId: "listCutoverRequests",
    githubActions: "read",
    tag: "Cutovers",
    contract: true,
    summary: "List cutover requests, newest first",
    query: s.PageQuery,
    status: 200,
    response: z.object({ cutover_requests: z.array(s.CutoverRequest), next_cursor: s.nextCursor }),
  },
  {
    method: "POST",
    path: "/v1/projects/{projectID}/cutover-requests",
    operationId: "createCutoverRequest",
    githubActions: "cutover",
    tag: "Cutovers",
    contract: true,
    summary: "Request that a preview be promoted to production",
    body: s.CreateCutoverRequest,
    status: 201,
    response: cutoverEnvelope,
    // conflict: a preview of masked data cannot be promoted in mode "data"
    errors: ["not_found", "preview_not_ready", "preview_deleted", "project_not_ready", "project_deleted", "cutover_already_open", "conflict"],
  },
  {
    method: "GET",
    path: "/v1/cutover-requests",
    operationId: "listAllCutoverRequests",
    tag: "Cutovers",
    contract: false,
    summary: "Cutover requests visible to the caller (all of them for operators), newest first",
    query: s.ListCutoversQuery,
    status: 200,
    response: z.object({ cutover_requests: z.array(s.CutoverRequest), next_cursor: s.nextCursor }),
  },
  {
    method: "GET",
    path: "/v1/cutover-requests/{cutoverID}",
    operationId: "getCutoverRequest",
    githubActions: "read",
    tag: "Cutovers",
    contract: false,
    summary: "Get a cutover request",
    status: 200,
    response: cutoverEnvelope,
  },
  {
    method: "POST",
    path: "/v1/cutover-requests/{cutoverID}/cancel",
    operationId: "cancelCutoverRequest",
    tag: "Cutovers",
    contract: false,
    summary: "Cancel a request that is open or acknowledged",
    status: 200,
    response: cutoverEnvelope,
    errors: ["cutover_state_conflict"],
  },
  {
    method: "POST",
    path: "/v1/cutover-requests/{cutoverID}/acknowledge",
    operationId: "acknowledgeCutoverRequest",
    tag: "Cutovers",
    contract: false,
    admin: true,
    summary: "Operator: acknowledge a request",
    body: s.AcknowledgeCutoverRequest,
    status: 200,
    response: cutoverEnvelope,
    errors: ["cutover_state_conflict"],
  },
  {
    method: "POST",
    path: "/v1/cutover-requests/{cutoverID}/reject",
    operationId: "rejectCutoverRequest",
    tag: "Cutovers",
    contract: false,
    admin: true,
    summary: "Operator: reject a request",
    body: s.RejectCutoverRequest,
    status: 200,
    response: cutoverEnvelope,
    errors: ["cutover_state_conflict"],
  },
  {
    method: "POST",
    path: "/v1/cutover-requests/{cutoverID}/execute",
    operationId: "executeCutoverRequest",
    tag: "Cutovers",
    contract: false,
    admin: true,
    summary:
      "Operator: take a pre-cutover backup, then promote the preview to production (mode data) or apply its reviewed schema diff to production (mode schema)",
    body: s.ExecuteCutoverRequest,
    status: 200,
    response: cutoverEnvelope,
    errors: ["cutover_state_conflict", "schema_review_not_ready", "production_schema_moved", "write_loss_not_accepted"],
  },
  {
    method: "POST",
    path: "/v1/cutover-requests/{cutoverID}/rollback",
    operationId: "rollbackCutoverRequest",
    tag: "Cutovers",
    contract: false,
    admin: true,
    summary: "Operator: swap the previous production database back, within the rollback window (data mode: production's writes since the cutover carried back)",
    body: s.RollbackCutoverRequest,
    status: 200,
    response: cutoverEnvelope,
    errors: ["cutover_state_conflict", "rollback_window_passed", "write_loss_not_accepted"],
  },
  // Jobs
  {
    method: "GET",
    path: "/v1/jobs/{jobID}",
    operationId: "getJob",
    githubActions: "read",
    tag: "Jobs",
    contract: false,
    summary: "Get a job",
    status: 200,
    response: jobEnvelope,
  },
  // Organizations and API keys
  {
    method: "POST",
    path: "/v1/organizations",
    operationId: "createOrganization",
    tag: "Organizations",
    contract: false,
    admin: true,
    summary: "Create an organization",
    body: s.CreateOrganizationRequest,
    status: 201,
    response: z.object({ organization: s.Organization }),
    errors: ["conflict"],
  },
  {
    method: "GET",
    path: "/v1/organizations",
    operationId: "listOrganizations",
    tag: "Organizations",
    contract: false,
    admin: true,
    summary: "List organizations",
    status: 200,
    response: z.object({ organizations: z.array(s.Organization) }),
  },
  {
    method: "POST",
    path: "/v1/organizations/{orgID}/api-keys",
    operationId: "createApiKey",
    tag: "API keys",
    contract: false,
    summary: "Create an API key (the secret is shown once)",
    body: s.CreateApiKeyRequest,
    status: 201,
    response: z.object({ api_key: s.ApiKey, secret: z.string() }),
    errors: ["forbidden"],
  },
  {
    method: "GET",
    path: "/v1/organizations/{orgID}/api-keys",
    operationId: "listApiKeys",
    tag: "API keys",
    contract: false,
    summary: "List an organization's API keys (no secrets)",
    status: 200,
    response: z.object({ api_keys: z.array(s.ApiKey) }),
    errors: ["forbidden"],
  },
  {
    method: "GET",
    path: "/v1/organizations/{orgID}/quotas",
    operationId: "getOrganizationQuotas",
    tag: "Organizations",
    contract: false,
    summary: "The ceilings in force for an organization's projects, by plan (set by the platform operator)",
    status: 200,
    response: z.object({ quotas: s.OrganizationQuotas }),
    errors: ["forbidden"],
  },
  {
    method: "PUT",
    path: "/v1/organizations/{orgID}/quotas",
    operationId: "putOrganizationQuotas",
    tag: "Organizations",
    contract: false,
    admin: true,
    summary: "Operator: set an organization's own ceilings over its plans' (the body replaces the previous ones; {} removes them)",
    body: s.PutOrganizationQuotasRequest,
    status: 200,
    response: z.object({ quotas: s.OrganizationQuotas }),
  },
  {
    method: "DELETE",
    path: "/v1/api-keys/{keyID}",
    operationId: "revokeApiKey",
    tag: "API keys",
    contract: false,
    summary: "Revoke an API key",
    status: 200,
    response: z.object({ api_key: s.ApiKey }),
    errors: ["forbidden"],
  },
  // GitHub Actions OIDC: trust policies and the token exchange
  {
    method: "POST",
    path: "/v1/projects/{projectID}/trust-policies",
    operationId: "createTrustPolicy",
    tag: "Trust policies",
    contract: false,
    summary: "Trust a GitHub repository's workflows to act on the project with short-lived tokens (organization keys and users, platform admins)",
    body: s.CreateTrustPolicyRequest,
    status: 201,
    response: z.object({ trust_policy: s.TrustPolicy }),
    errors: ["forbidden", "project_deleted"],
  },
  {
    method: "GET",
    path: "/v1/projects/{projectID}/trust-policies",
    operationId: "listTrustPolicies",
    tag: "Trust policies",
    contract: false,
    summary: "The project's trust policies",
    status: 200,
    response: z.object({ trust_policies: z.array(s.TrustPolicy) }),
    errors: ["forbidden"],
  },
  {
    method: "GET",
    path: "/v1/trust-policies/{trustPolicyID}",
    operationId: "getTrustPolicy",
    tag: "Trust policies",
    contract: false,
    summary: "Get a trust policy (organization keys and users, platform admins)",
    status: 200,
    response: z.object({ trust_policy: s.TrustPolicy }),
    errors: ["forbidden"],
  },
  {
    method: "DELETE",
    path: "/v1/trust-policies/{trustPolicyID}",
    operationId: "deleteTrustPolicy",
    tag: "Trust policies",
    contract: false,
    summary: "Delete a trust policy: the tokens it issued stop working at once",
    status: 204,
    response: z.null(),
    errors: ["forbidden"],
  },
  {
    method: "POST",
    path: "/v1/auth/github-oidc",
    operationId: "exchangeGitHubOidcToken",
    tag: "Trust policies",
    contract: false,
    public: true,
    summary:
      "Exchange a GitHub Actions ID token for a short-lived token of one project (capy_oidc_...), when one of its trust policies matches every claim; no API key",
    body: s.GitHubOidcExchangeRequest,
    status: 200,
    response: s.OidcAccessToken,
    errors: ["validation_failed", "unauthorized", "forbidden", "project_not_found", "payload_too_large", "unsupported_media_type"],
  },
  // Platform
  {
    method: "GET",
    path: "/healthz",
    operationId: "health",
    tag: "Platform",
    contract: false,
    public: true,
    summary: "200 when the control-plane database answers",
    status: 200,
    response: z.object({ status: z.string() }),
  },
  {
    method: "GET",
    path: "/v1/openapi.json",
    operationId: "getOpenApiDocument",
    tag: "Platform",
    contract: false,
    public: true,
    summary: "This document",
    status: 200,
    response: z.record(z.string(), z.unknown()),
  },
];

/**
 * Every error code an endpoint can answer, by status: those of every endpoint of its kind, and
 * its own `errors`. Authenticated: 400, 401, 500, 503, and 403 on operator endpoints and on those
 * a GitHub Actions token may not call whatever its policy (all but its reads); a path
 * parameter adds 404 (project_not_found for a project's path) and 414; a method with a body
 * adds 413 and 415. Public endpoints: 500 and 503, and their own.
 */
export function errorCodesOf(e: Endpoint): Map<number, ErrorCode[]> {
  const codes = new Set<ErrorCode>(["internal", "unavailable"]);
  if (!e.public) {
    for (const c of ["validation_failed", "unauthorized"] as const) codes.add(c);
    if (e.admin || e.githubActions !== "read") codes.add("forbidden");
    if (/\{\w+\}/.test(e.path)) {
      codes.add(e.path.startsWith("/v1/projects/{projectID}") ? "project_not_found" : "not_found");
      codes.add("uri_too_long");
    }
    if (e.method !== "GET") for (const c of ["payload_too_large", "unsupported_media_type"] as const) codes.add(c);
  }
  for (const c of e.errors ?? []) codes.add(c);
  const byStatus = new Map<number, ErrorCode[]>();
  for (const c of codes) {
    const status = ERROR_CODES[c].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), c]);
  }
  return new Map([...byStatus].sort(([a], [b]) => a - b));
}

/** Converts /v1/projects/{projectID} to Fastify's /v1/projects/:projectID. */
export function routePath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ":$1");
}
