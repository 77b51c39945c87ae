// The closed set of error codes. Every error answer is { "error": "<text for a person>",
// "code": "<one of these>" }: clients (the typed client, the GitHub Action, the Terraform
// provider, the operator CLI) decide on `code`, never on the text, which may be reworded.
//
// Each code belongs to one HTTP status. Each status the API answers has a generic code; specific
// codes name the cases of a status a client may act on differently (reuse a preview after losing
// the race for its name, keep a preview that cannot be extended, treat a deleted project as gone).

export interface ErrorCodeInfo {
  status: number;
  description: string;
}

export const ERROR_CODES = {
  // ------------------------------------------------ generic: one per status
  validation_failed: { status: 400, description: 'The request is invalid; the error starts with the offending field ("name: ...")' },
  unauthorized: { status: 401, description: "Missing, invalid, expired or revoked credentials" },
  forbidden: {
    status: 403,
    description: "Authenticated but not allowed (platform-admin endpoints, a project-scoped key, a plan change, a GitHub Actions token outside its commands)",
  },
  not_found: { status: 404, description: "Unknown id, or a resource of another tenant" },
  conflict: { status: 409, description: "Conflicts with the resource's current state" },
  payload_too_large: { status: 413, description: "The request body is over the limit" },
  uri_too_long: { status: 414, description: "A path parameter is too long" },
  unsupported_media_type: { status: 415, description: "The body is not sent as application/json" },
  internal: { status: 500, description: "An unexpected server error (logged on the server)" },
  not_implemented: { status: 501, description: "Not implemented in this version of CapyDB" },
  unavailable: { status: 503, description: "The control-plane database, a data-plane cluster or the identity provider cannot be reached; retry shortly" },

  // ------------------------------------------------ refused by the HTTP layer, before any endpoint is chosen
  bad_request: { status: 400, description: "The request is not well-formed HTTP (or a client error of a status this API does not otherwise answer)" },
  request_timeout: { status: 408, description: "The request did not arrive in time" },
  headers_too_large: { status: 431, description: "The request line and headers are larger than the server accepts" },

  // ------------------------------------------------ specific
  endpoint_not_found: { status: 404, description: "No such endpoint (method and path), as opposed to a resource that does not exist" },
  project_not_found: { status: 404, description: "The project (named in the path, or a backup's) does not exist or is another tenant's" },
  project_not_ready: { status: 409, description: "The project is provisioning or failed: the operation needs it ready" },
  project_deleted: { status: 409, description: "The project is being deleted or was deleted" },
  project_limit_reached: { status: 409, description: "The organization has as many projects as its plan allows" },
  plan_ceiling_exceeded: { status: 400, description: "A setting is above what the project's plan allows" },
  connection_capacity_exceeded: { status: 409, description: "The cluster has no connection slots left for the connection limit asked for" },
  instance_capacity_exceeded: {
    status: 409,
    description: "The host runs as many PostgreSQL instances as its operator allows (CAPYDB_INSTANCE_MAX) or has no port left",
  },
  pooling_unavailable: { status: 409, description: "No PgBouncer in front of this cluster: ask for a direct connection" },
  preview_name_taken: { status: 409, description: "A live preview of that name already exists in the project" },
  preview_limit_reached: { status: 409, description: "The project has as many live previews as its plan allows" },
  preview_lifetime_exceeded: { status: 400, description: "ttl_seconds goes past the longest a preview may live on the plan" },
  preview_not_ready: { status: 409, description: "The preview is not ready (failed, or still being made)" },
  masking_coverage_incomplete: {
    status: 409,
    description: "The project's masking rules require coverage and columns that look personal have no rule (listed in the error)",
  },
  preview_deleted: { status: 409, description: "The preview is being deleted, was deleted, or was promoted to production" },
  backup_limit_reached: { status: 409, description: "The project keeps as many backups taken on request as its plan allows" },
  backup_not_completed: { status: 409, description: "The backup is still being taken, or failed" },
  backup_verification_failed: { status: 409, description: "The backup failed verification and cannot be restored" },
  backup_pinned: { status: 409, description: "The backup is pinned (a cutover's pre-cutover backup) and is kept" },
  backup_in_use: { status: 409, description: "A preview resets from the backup, or a job is using it" },
  database_not_empty: { status: 409, description: 'The project\'s database is not empty: send "replace": true to import over it' },
  upload_url_expired: { status: 403, description: "The upload URL expired or can no longer be used: ask for a new one" },
  cutover_already_open: { status: 409, description: "The project already has a cutover request that is open, acknowledged or in progress" },
  cutover_state_conflict: { status: 409, description: "The cutover request is not in a state that allows this action" },
  rollback_window_passed: { status: 409, description: "The rollback window has passed: the previous production database is gone" },
  schema_review_not_ready: {
    status: 409,
    description: "A schema cutover needs the schema review taken when the request was opened, and it is pending or failed",
  },
  production_schema_moved: { status: 409, description: "Production's schema changed since the cutover request's diff was reviewed: open a new request" },
  write_loss_not_accepted: {
    status: 409,
    description:
      "Some tables' production writes since the preview's origin cannot be carried into it: execute again with accept_write_loss: true to go on without them",
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes that belong to HTTP status S (for typing a throw site: conflict(msg, code: CodeOf<409>)). */
export type CodeOf<S extends number> = { [K in ErrorCode]: (typeof ERROR_CODES)[K]["status"] extends S ? K : never }[ErrorCode];

export const errorCodes = Object.keys(ERROR_CODES) as ErrorCode[];

/**
 * Answered by the HTTP layer before any endpoint is chosen (a request Node's parser refuses):
 * possible on every request, so the OpenAPI document does not repeat them per operation.
 */
export const connectionLevelCodes: readonly ErrorCode[] = ["bad_request", "request_timeout", "headers_too_large"];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_CODES, value);
}

/** The code an answer of `status` carries when nothing more specific applies. */
export function genericCode(status: number): ErrorCode {
  switch (status) {
    case 400:
      return "validation_failed";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 408:
      return "request_timeout";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 414:
      return "uri_too_long";
    case 415:
      return "unsupported_media_type";
    case 431:
      return "headers_too_large";
    case 501:
      return "not_implemented";
    // a proxy's 502/504 says the same to a client as our 503: the API is not reachable now
    case 502:
    case 503:
    case 504:
      return "unavailable";
    default:
      return status >= 500 ? "internal" : "bad_request";
  }
}
