// The typed CapyDB API client: Node's built-in fetch (its global dispatcher keeps connections
// alive), retries only where they are safe, errors that never carry the API key, and waiting for
// a job to finish. No HTTP library of its own: bundles that carry it (the GitHub Action, the
// Terraform provider) stay small.
//
// Every method answers the API's JSON envelope as documented ({ project }, { job, project },
// { projects: [...] }), except the connection-URI ones, which answer the string itself.
import { z } from "zod";
import { endpoints } from "./endpoints.js";
import { genericCode, isErrorCode, type ErrorCode } from "./error-codes.js";
import * as s from "./schemas.js";

// ---------------------------------------------------------------- types
// Names that schemas.ts already exports as schemas (Job, Project, ...) are not repeated here:
// `export *` of both modules from index.ts must not collide.
export type JobStateName = z.infer<typeof s.JobState>;
export type Cutover = z.infer<typeof s.CutoverRequest>;
export type PreflightReport = z.infer<typeof s.Preflight>;
export type UploadTarget = z.infer<typeof s.Upload>;

export type CreateProjectBody = z.input<typeof s.CreateProjectRequest>;
export type UpdateProjectBody = z.input<typeof s.UpdateProjectRequest>;
export type CreatePreviewBody = z.input<typeof s.CreatePreviewRequest>;
export type ResetPreviewBody = z.input<typeof s.ResetPreviewRequest>;
export type ExtendPreviewBody = z.input<typeof s.ExtendPreviewRequest>;
export type CreateBackupBody = z.input<typeof s.CreateBackupRequest>;
export type PutScheduledBackupBody = z.input<typeof s.PutScheduledBackupRequest>;
export type PutMaskingRulesBody = z.input<typeof s.PutMaskingRulesRequest>;
export type PreflightBody = z.input<typeof s.PreflightRequest>;
export type CreateImportBody = z.input<typeof s.CreateImportRequest>;
export type CreateCutoverBody = z.input<typeof s.CreateCutoverRequest>;
export type CreateOrganizationBody = z.input<typeof s.CreateOrganizationRequest>;
export type CreateApiKeyBody = z.input<typeof s.CreateApiKeyRequest>;
export type CreateTrustPolicyBody = z.input<typeof s.CreateTrustPolicyRequest>;
export type ExchangeGitHubOidcBody = z.input<typeof s.GitHubOidcExchangeRequest>;
// The operator's cutover actions have no schema in schemas.ts yet: these bodies stay open.
export type AcknowledgeCutoverBody = z.input<typeof s.AcknowledgeCutoverRequest>;
export type ExecuteCutoverBody = z.input<typeof s.ExecuteCutoverRequest>;
export type RollbackCutoverBody = z.input<typeof s.RollbackCutoverRequest>;
export type RejectCutoverBody = z.input<typeof s.RejectCutoverRequest>;
export interface CutoverActionResult {
  cutover_request: Cutover;
}

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface ResponseMismatch {
  method: HttpMethod;
  /** The catalogue path, e.g. /v1/projects/{projectID}. */
  endpoint: string;
  issues: { path: string; message: string }[];
}

export interface CapyClientOptions {
  /** Where the API answers, e.g. "https://capydb.example.com" (a path prefix is kept). */
  baseUrl: string;
  /**
   * An org- or project-scoped API key (capy_live_...), a session token, or a GitHub Actions
   * token (capy_oidc_...). Without one, only the public endpoints answer (health, the
   * OpenAPI document, exchangeGitHubOidcToken).
   */
  apiKey?: string;
  /** Retries after the first attempt, where a retry is safe. Default 4. */
  retries?: number;
  /** Base of the exponential backoff (full jitter). Default 250 ms. */
  retryBaseMs?: number;
  /** Cap on one backoff delay and on a Retry-After header. Default 30 000 ms. */
  maxRetryDelayMs?: number;
  /** Deadline of one attempt, connect to last byte. Default 30 000 ms. */
  timeoutMs?: number;
  userAgent?: string;
  /** Check answers against the response schemas (safeParse; never throws). Default true. */
  validateResponses?: boolean;
  /** Called when an answer does not match its schema; default: one process warning per endpoint. */
  onResponseMismatch?: (mismatch: ResponseMismatch) => void;
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  signal?: AbortSignal;
}

export interface ConnectionUriOptions {
  pooled?: boolean;
}

export interface WaitForJobOptions {
  /** Default 10 minutes. */
  timeoutMs?: number;
  /** First poll interval, growing ×1.5 up to maxPollMs (and back to pollMs when the job moves). Default 250 ms. */
  pollMs?: number;
  /** Default 2 000 ms. */
  maxPollMs?: number;
  /** Called on the first read and whenever the job's state or attempts change. */
  onProgress?: (job: s.Job, elapsedMs: number) => void;
  signal?: AbortSignal;
}

// ---------------------------------------------------------------- errors
/**
 * A non-2xx answer. `message` is the API's `error` text, for people; `code` is what a program
 * decides on (never the text). No request header is kept.
 */
export class CapyApiError extends Error {
  override readonly name = "CapyApiError";
  /**
   * The answer's `code`; when it carried none this client knows (a proxy's page, an older
   * server, a code newer than this client), the generic code of its status.
   */
  readonly code: ErrorCode;
  constructor(
    readonly status: number,
    message: string,
    readonly method: HttpMethod,
    readonly path: string,
    /** The parsed error body (or its text when it was not JSON). */
    readonly body: unknown,
  ) {
    super(message);
    const code = (body as { code?: unknown } | null)?.code;
    this.code = isErrorCode(code) ? code : genericCode(status);
  }
}

/** The request never got an answer (refused, reset, timed out), after the retries that were safe. */
export class CapyNetworkError extends Error {
  override readonly name = "CapyNetworkError";
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly method: HttpMethod,
    readonly path: string,
    readonly attempts: number,
    cause: unknown,
  ) {
    super(message, { cause });
  }
}

export class JobFailedError extends Error {
  override readonly name = "JobFailedError";
  /** The last lines (at most 20) of the job's last_stderr. */
  readonly stderrTail: string;
  constructor(readonly job: s.Job) {
    const tail = (job.last_stderr ?? "").trimEnd().split(/\r?\n/).slice(-20).join("\n");
    const head = `Job ${job.id} (${job.type}) ${job.state}${job.error ? `: ${job.error}` : ""}`;
    super(tail ? `${head}\n--- last stderr ---\n${tail}` : head);
    this.stderrTail = tail;
  }
}

export class JobTimeoutError extends Error {
  override readonly name = "JobTimeoutError";
  constructor(
    readonly jobId: string,
    readonly lastState: JobStateName | null,
    readonly timeoutMs: number,
    readonly lastJob: s.Job | undefined,
    cause?: unknown,
  ) {
    super(`Timed out after ${timeoutMs} ms waiting for job ${jobId} (last state: ${lastState ?? "never read"})`, { cause });
  }
}

// ---------------------------------------------------------------- retry classification
// fetch rejects with TypeError("fetch failed") whose cause carries the socket's code (Node's
// fetch is undici inside, hence the UND_ERR_ names).
/** Errors where the request certainly never reached the server: safe to retry even a POST. */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTDOWN",
  "EADDRNOTAVAIL",
  "EAI_AGAIN",
]);
/** Errors after the request may have reached the server: retried for idempotent methods only. */
const MAYBE_SENT_CODES = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNABORTED", "UND_ERR_SOCKET", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

function errorCodes(err: unknown, depth = 0): string[] {
  if (!err || typeof err !== "object" || depth > 4) return [];
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  const codes = typeof e.code === "string" ? [e.code] : [];
  codes.push(...errorCodes(e.cause, depth + 1));
  if (Array.isArray(e.errors)) for (const inner of e.errors) codes.push(...errorCodes(inner, depth + 1));
  return codes;
}

class AttemptTimeout extends Error {
  readonly code = "ETIMEDOUT";
}

class ClientClosed extends Error {
  readonly code = "CLIENT_CLOSED";
}

/** What went wrong, for people: fetch's own "fetch failed" says nothing, its cause does. */
function reasonOf(err: unknown, depth = 0): string {
  if (!(err instanceof Error)) return String(err);
  const inner = err.cause instanceof Error ? err.cause : (err as { errors?: unknown }).errors instanceof Array ? (err as AggregateError).errors[0] : undefined;
  if (depth < 4 && inner instanceof Error && (err.message === "" || err.message === "fetch failed")) return reasonOf(inner, depth + 1);
  return err.message || err.name;
}

const IDEMPOTENT = new Set<HttpMethod>(["GET", "PUT", "DELETE"]);

function retryAfterMs(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Replaces every occurrence of the secret in the strings of a value. */
function redact<T>(value: T, secret: string | null): T {
  if (secret === null) return value;
  if (typeof value === "string") return (value.includes(secret) ? value.split(secret).join("[REDACTED]") : value) as T;
  if (Array.isArray(value)) return value.map((v) => redact(v, secret)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [redact(k, secret), redact(v, secret)])) as T;
  }
  return value;
}

// ---------------------------------------------------------------- response schemas
const responseSchemas = new Map<string, z.ZodType>(endpoints.map((e) => [`${e.method} ${e.path}`, e.response] as const));
const warnedEndpoints = new Set<string>();

function defaultMismatchHandler(m: ResponseMismatch): void {
  const key = `${m.method} ${m.endpoint}`;
  if (warnedEndpoints.has(key)) return;
  warnedEndpoints.add(key);
  const detail = m.issues
    .slice(0, 3)
    .map((i) => `${i.path || "(root)"}: ${i.message}`)
    .join("; ");
  process.emitWarning(`CapyDB API answer to ${key} does not match the client's schema (${detail})`, { code: "CAPYDB_RESPONSE_MISMATCH" });
}

function renderPath(template: string, params: string[]): string {
  let i = 0;
  return template.replace(/\{\w+\}/g, (name) => {
    const value = params[i++];
    if (typeof value !== "string" || value === "") throw new TypeError(`${name.slice(1, -1)} must be a non-empty string`);
    // URL parsing (fetch's included) collapses "." and ".." segments, encoded as %2E or not: the
    // request would reach another endpoint. No id is either.
    if (value === "." || value === "..") throw new TypeError(`${name.slice(1, -1)} must not be "${value}"`);
    return encodeURIComponent(value);
  });
}

// ---------------------------------------------------------------- client
export class CapyClient {
  readonly baseUrl: string;
  readonly #apiKey: string | null;
  readonly #origin: string;
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed = false;
  readonly #basePath: string;
  readonly #retries: number;
  readonly #retryBaseMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #timeoutMs: number;
  readonly #userAgent: string;
  readonly #validate: boolean;
  readonly #onMismatch: (m: ResponseMismatch) => void;

  constructor(options: CapyClientOptions) {
    const url = new URL(options.baseUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError("baseUrl must be an http(s) URL");
    if (options.apiKey !== undefined && (typeof options.apiKey !== "string" || options.apiKey === "")) throw new TypeError("apiKey must be a non-empty string");
    // Never echo the key, even in this message.
    if (options.apiKey !== undefined && /[\r\n]/.test(options.apiKey)) throw new TypeError("apiKey contains a line break");
    this.baseUrl = url.origin + url.pathname.replace(/\/+$/, "");
    this.#basePath = url.pathname.replace(/\/+$/, "");
    this.#apiKey = options.apiKey ?? null;
    this.#retries = Math.max(0, options.retries ?? 4);
    this.#retryBaseMs = Math.max(0, options.retryBaseMs ?? 250);
    this.#maxRetryDelayMs = Math.max(0, options.maxRetryDelayMs ?? 30_000);
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#userAgent = options.userAgent ?? `capydb-client (node ${process.versions.node})`;
    this.#validate = options.validateResponses ?? true;
    this.#onMismatch = options.onResponseMismatch ?? defaultMismatchHandler;
    this.#origin = url.origin;
  }

  /**
   * Refuses new requests and resolves once the in-flight ones finish. The kept-alive
   * connections belong to Node's global dispatcher, which lets the process exit when idle.
   */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * Sends one request to an already-encoded path and answers the parsed JSON, with the client's
   * auth, retries and errors (no response validation: the path is not in the catalogue's form).
   */
  request<T = unknown>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    return this.#send(method, null, path, options) as Promise<T>;
  }

  async #call<T>(method: HttpMethod, template: string, params: string[], options: RequestOptions = {}): Promise<T> {
    return (await this.#send(method, template, renderPath(template, params), options)) as T;
  }

  async #send(method: HttpMethod, template: string | null, path: string, options: RequestOptions): Promise<unknown> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) query.set(k, v);
    const search = query.toString();
    const shownPath = search ? `${path}?${search}` : path;
    const fullPath = this.#basePath + shownPath;
    const idempotent = IDEMPOTENT.has(method);
    const headers: Record<string, string> = { accept: "application/json", "user-agent": this.#userAgent };
    if (this.#apiKey !== null && template !== "/healthz" && template !== "/v1/auth/github-oidc") headers.authorization = `Bearer ${this.#apiKey}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] = "application/json";
    }

    for (let attempt = 0; ; attempt++) {
      const mayRetry = attempt < this.#retries;
      let answer: { status: number; retryAfter: string | null; text: string };
      try {
        if (this.#closed) throw new ClientClosed("the client is closed");
        const pending = this.#attempt(method, fullPath, headers, body, options.signal);
        this.#inFlight.add(pending);
        try {
          answer = await pending;
        } finally {
          this.#inFlight.delete(pending);
        }
      } catch (err) {
        if (options.signal?.aborted) throw options.signal.reason;
        const codes = errorCodes(err);
        const notSent = codes.some((c) => NOT_SENT_CODES.has(c));
        const maybeSent = codes.some((c) => MAYBE_SENT_CODES.has(c));
        if (mayRetry && (notSent || (maybeSent && idempotent))) {
          await sleep(this.#backoff(attempt), options.signal);
          continue;
        }
        const code = codes[0];
        const reason = err instanceof AttemptTimeout ? `timed out after ${this.#timeoutMs} ms` : reasonOf(err);
        const message = redact(`${method} ${shownPath} failed: ${reason}${code ? ` (${code})` : ""} after ${attempt + 1} attempt(s)`, this.#apiKey);
        throw new CapyNetworkError(message, code, method, shownPath, attempt + 1, err);
      }

      const { status, text } = answer;
      if (status >= 200 && status < 300) {
        if (text === "") return undefined;
        let data: unknown;
        try {
          data = JSON.parse(text);
        } catch {
          throw new CapyApiError(
            status,
            `The API answered ${status} with a body that is not JSON`,
            method,
            shownPath,
            redact(text.slice(0, 2000), this.#apiKey),
          );
        }
        if (template) this.#check(method, template, data);
        return data;
      }

      const throttled = status === 429 || status === 503;
      if (mayRetry && (throttled || (idempotent && (status === 502 || status === 504)))) {
        const hinted = throttled ? retryAfterMs(answer.retryAfter) : undefined;
        await sleep(hinted !== undefined ? Math.min(hinted, this.#maxRetryDelayMs) : this.#backoff(attempt), options.signal);
        continue;
      }
      throw this.#apiError(status, text, method, shownPath);
    }
  }

  async #attempt(method: HttpMethod, path: string, headers: Record<string, string>, body: string | undefined, signal?: AbortSignal) {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.#timeoutMs);
    const onAbort = () => controller.abort(signal!.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    try {
      // The deadline covers connect to last byte: the body is read under the same signal.
      const res = await fetch(this.#origin + path, { method, headers, body, signal: controller.signal, redirect: "manual" });
      const text = await res.text();
      return { status: res.status, retryAfter: res.headers.get("retry-after"), text };
    } catch (err) {
      throw timedOut ? new AttemptTimeout("timed out", { cause: err }) : err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  #backoff(attempt: number): number {
    return Math.random() * Math.min(this.#maxRetryDelayMs, this.#retryBaseMs * 2 ** attempt);
  }

  #apiError(status: number, text: string, method: HttpMethod, path: string): CapyApiError {
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // a proxy's HTML page or an empty body: keep the text
    }
    body = redact(typeof body === "string" ? body.slice(0, 2000) : body, this.#apiKey);
    const apiText = (body as { error?: unknown } | null)?.error;
    const message = typeof apiText === "string" ? apiText : `HTTP ${status}${typeof body === "string" && body ? `: ${body.slice(0, 200)}` : ""}`;
    return new CapyApiError(status, message, method, path, body);
  }

  #check(method: HttpMethod, template: string, data: unknown): void {
    if (!this.#validate) return;
    const schema = responseSchemas.get(`${method} ${template}`);
    if (!schema) return;
    const result = schema.safeParse(data);
    if (result.success) return;
    const issues = result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
    this.#onMismatch({ method, endpoint: template, issues });
  }

  // ---------------------------------------------------------------- projects
  /** With limit or cursor: one page, and next_cursor (null on the last page). */
  listProjects(params: { organizationId?: string; limit?: number; cursor?: string } = {}): Promise<{ projects: s.Project[]; next_cursor?: string | null }> {
    const query = { organization_id: params.organizationId, limit: params.limit === undefined ? undefined : String(params.limit), cursor: params.cursor };
    return this.#call("GET", "/v1/projects", [], { query });
  }
  createProject(body: CreateProjectBody): Promise<{ job: s.Job; project: s.Project }> {
    return this.#call("POST", "/v1/projects", [], { body });
  }
  getProject(projectId: string): Promise<{ project: s.Project }> {
    return this.#call("GET", "/v1/projects/{projectID}", [projectId]);
  }
  updateProject(projectId: string, body: UpdateProjectBody): Promise<{ project: s.Project }> {
    return this.#call("PATCH", "/v1/projects/{projectID}", [projectId], { body });
  }
  deleteProject(projectId: string): Promise<{ job: s.Job }> {
    return this.#call("DELETE", "/v1/projects/{projectID}", [projectId]);
  }
  /** Operator: copies a project of the shared engine to a PostgreSQL instance of its own (the project is down meanwhile). */
  moveProjectToInstance(projectId: string): Promise<{ job: s.Job }> {
    return this.#call("POST", "/v1/projects/{projectID}/move-to-instance", [projectId]);
  }
  async getConnectionUri(projectId: string, options: ConnectionUriOptions = {}): Promise<string> {
    const query = { pooled: options.pooled === undefined ? undefined : String(options.pooled) };
    return (await this.#call<{ uri: string }>("GET", "/v1/projects/{projectID}/connection-uri", [projectId], { query })).uri;
  }
  listProjectJobs(projectId: string, page: { limit?: number; cursor?: string } = {}): Promise<{ jobs: s.Job[]; next_cursor?: string | null }> {
    return this.#call("GET", "/v1/projects/{projectID}/jobs", [projectId], {
      query: { limit: page.limit === undefined ? undefined : String(page.limit), cursor: page.cursor },
    });
  }

  // ---------------------------------------------------------------- extensions
  listExtensions(projectId: string): Promise<{ extensions: s.Extension[] }> {
    return this.#call("GET", "/v1/projects/{projectID}/extensions", [projectId]);
  }
  enableExtension(projectId: string, name: string): Promise<{ job: s.Job }> {
    return this.#call("POST", "/v1/projects/{projectID}/extensions", [projectId], { body: { name } });
  }
  disableExtension(projectId: string, name: string): Promise<{ job: s.Job }> {
    return this.#call("DELETE", "/v1/projects/{projectID}/extensions/{name}", [projectId, name]);
  }

  // ---------------------------------------------------------------- preview databases
  listPreviews(
    projectId: string,
    options: { includeDeleted?: boolean; limit?: number; cursor?: string } = {},
  ): Promise<{ preview_databases: s.PreviewDatabase[]; next_cursor?: string | null }> {
    const query = {
      include_deleted: options.includeDeleted ? "true" : undefined,
      limit: options.limit === undefined ? undefined : String(options.limit),
      cursor: options.cursor,
    };
    return this.#call("GET", "/v1/projects/{projectID}/preview-databases", [projectId], { query });
  }
  createPreview(projectId: string, body: CreatePreviewBody = {}): Promise<{ job: s.Job; preview: s.PreviewDatabase }> {
    return this.#call("POST", "/v1/projects/{projectID}/preview-databases", [projectId], { body });
  }
  getPreview(previewId: string): Promise<{ preview: s.PreviewDatabase }> {
    return this.#call("GET", "/v1/preview-databases/{previewID}", [previewId]);
  }
  async getPreviewConnectionUri(previewId: string, options: ConnectionUriOptions = {}): Promise<string> {
    const query = { pooled: options.pooled === undefined ? undefined : String(options.pooled) };
    return (await this.#call<{ uri: string }>("GET", "/v1/preview-databases/{previewID}/connection-uri", [previewId], { query })).uri;
  }
  deletePreview(previewId: string): Promise<{ job: s.Job }> {
    return this.#call("DELETE", "/v1/preview-databases/{previewID}", [previewId]);
  }
  resetPreview(previewId: string, body: ResetPreviewBody = {}): Promise<{ job: s.Job }> {
    return this.#call("POST", "/v1/preview-databases/{previewID}/reset", [previewId], { body });
  }
  extendPreview(previewId: string, body: ExtendPreviewBody = {}): Promise<{ preview: s.PreviewDatabase }> {
    return this.#call("POST", "/v1/preview-databases/{previewID}/extend", [previewId], { body });
  }

  // ---------------------------------------------------------------- backups
  /** Computes the preview's schema diff against production (a job); GET it once the job succeeded. */
  createSchemaDiff(previewId: string): Promise<{ job: s.Job }> {
    return this.#call("POST", "/v1/preview-databases/{previewID}/schema-diff", [previewId]);
  }
  getSchemaDiff(previewId: string): Promise<{ schema_diff: s.SchemaDiff }> {
    return this.#call("GET", "/v1/preview-databases/{previewID}/schema-diff", [previewId]);
  }

  // ---------------------------------------------------------------- masking rules
  getMaskingRules(projectId: string): Promise<{ masking_rules: s.MaskingRules }> {
    return this.#call("GET", "/v1/projects/{projectID}/masking-rules", [projectId]);
  }
  putMaskingRules(projectId: string, body: PutMaskingRulesBody): Promise<{ masking_rules: s.MaskingRules }> {
    return this.#call("PUT", "/v1/projects/{projectID}/masking-rules", [projectId], { body });
  }

  listScheduledBackups(projectId: string): Promise<{ scheduled_backups: s.ScheduledBackup[] }> {
    return this.#call("GET", "/v1/projects/{projectID}/scheduled-backups", [projectId]);
  }
  putDefaultScheduledBackup(projectId: string, body: PutScheduledBackupBody): Promise<{ scheduled_backup: s.ScheduledBackup }> {
    return this.#call("PUT", "/v1/projects/{projectID}/scheduled-backups/default", [projectId], { body });
  }
  listBackups(projectId: string, page: { limit?: number; cursor?: string } = {}): Promise<{ backups: s.Backup[]; next_cursor?: string | null }> {
    return this.#call("GET", "/v1/projects/{projectID}/backups", [projectId], {
      query: { limit: page.limit === undefined ? undefined : String(page.limit), cursor: page.cursor },
    });
  }
  createBackup(projectId: string, body: CreateBackupBody = {}): Promise<{ job: s.Job }> {
    return this.#call("POST", "/v1/projects/{projectID}/backups", [projectId], { body });
  }
  getBackup(backupId: string): Promise<{ backup: s.Backup }> {
    return this.#call("GET", "/v1/backups/{backupID}", [backupId]);
  }
  restoreBackup(backupId: string): Promise<{ job: s.Job }> {
    return this.#call("POST", "/v1/backups/{backupID}/restore", [backupId]);
  }

  /** Restores the backup into a scratch database again and compares row counts. */
  verifyBackup(backupId: string): Promise<{ job: s.Job }> {
    return this.#call("POST", "/v1/backups/{backupID}/verify", [backupId]);
  }

  // ---------------------------------------------------------------- imports
  createImport(projectId: string, body: CreateImportBody): Promise<{ job: s.Job }> {
    return this.#call("POST", "/v1/projects/{projectID}/imports", [projectId], { body });
  }
  createUpload(projectId: string): Promise<{ upload: UploadTarget }> {
    return this.#call("POST", "/v1/projects/{projectID}/imports/uploads", [projectId]);
  }
  preflightImport(projectId: string, body: PreflightBody): Promise<{ preflight: PreflightReport }> {
    return this.#call("POST", "/v1/projects/{projectID}/imports/preflight", [projectId], { body });
  }

  // ---------------------------------------------------------------- cutovers
  listCutoverRequests(
    projectId: string,
    page: { limit?: number; cursor?: string } = {},
  ): Promise<{ cutover_requests: Cutover[]; next_cursor?: string | null }> {
    return this.#call("GET", "/v1/projects/{projectID}/cutover-requests", [projectId], {
      query: { limit: page.limit === undefined ? undefined : String(page.limit), cursor: page.cursor },
    });
  }
  createCutoverRequest(projectId: string, body: CreateCutoverBody): Promise<{ cutover_request: Cutover }> {
    return this.#call("POST", "/v1/projects/{projectID}/cutover-requests", [projectId], { body });
  }
  /** Every request the caller may see (all of them for operators), optionally by status. */
  listAllCutoverRequests(
    options: { status?: Cutover["status"]; limit?: number; cursor?: string } = {},
  ): Promise<{ cutover_requests: Cutover[]; next_cursor?: string | null }> {
    const query = { status: options.status, limit: options.limit === undefined ? undefined : String(options.limit), cursor: options.cursor };
    return this.#call("GET", "/v1/cutover-requests", [], { query });
  }
  getCutoverRequest(cutoverId: string): Promise<{ cutover_request: Cutover }> {
    return this.#call("GET", "/v1/cutover-requests/{cutoverID}", [cutoverId]);
  }
  cancelCutoverRequest(cutoverId: string): Promise<CutoverActionResult> {
    return this.#call("POST", "/v1/cutover-requests/{cutoverID}/cancel", [cutoverId]);
  }
  acknowledgeCutoverRequest(cutoverId: string, body: AcknowledgeCutoverBody = {}): Promise<CutoverActionResult> {
    return this.#call("POST", "/v1/cutover-requests/{cutoverID}/acknowledge", [cutoverId], { body });
  }
  rejectCutoverRequest(cutoverId: string, body: RejectCutoverBody): Promise<CutoverActionResult> {
    return this.#call("POST", "/v1/cutover-requests/{cutoverID}/reject", [cutoverId], { body });
  }
  executeCutoverRequest(cutoverId: string, body?: ExecuteCutoverBody): Promise<CutoverActionResult> {
    return this.#call("POST", "/v1/cutover-requests/{cutoverID}/execute", [cutoverId], { body });
  }
  rollbackCutoverRequest(cutoverId: string, body?: RollbackCutoverBody): Promise<CutoverActionResult> {
    return this.#call("POST", "/v1/cutover-requests/{cutoverID}/rollback", [cutoverId], { body });
  }

  // ---------------------------------------------------------------- jobs
  getJob(jobId: string): Promise<{ job: s.Job }> {
    return this.#call("GET", "/v1/jobs/{jobID}", [jobId]);
  }

  /**
   * Polls a job until it succeeds (answers the job), fails or is canceled (JobFailedError), or
   * timeoutMs passes (JobTimeoutError). Answers that say the API is briefly unavailable (network
   * errors, 429/502/503/504 after the request's own retries) do not end the wait.
   */
  async waitForJob(jobId: string, options: WaitForJobOptions = {}): Promise<s.Job> {
    const timeoutMs = options.timeoutMs ?? 10 * 60_000;
    const firstPollMs = Math.max(1, options.pollMs ?? 250);
    const maxPollMs = Math.max(firstPollMs, options.maxPollMs ?? 2_000);
    const outer = options.signal;
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);

    const controller = new AbortController();
    let deadlinePassed = false;
    const deadline = setTimeout(() => {
      deadlinePassed = true;
      controller.abort(new Error("waitForJob deadline"));
    }, timeoutMs);
    const onAbort = () => controller.abort(outer!.reason);
    if (outer?.aborted) onAbort();
    else outer?.addEventListener("abort", onAbort, { once: true });

    let last: s.Job | undefined;
    let lastError: unknown;
    let pollMs = firstPollMs;
    try {
      for (;;) {
        try {
          const { job } = await this.#call<{ job: s.Job }>("GET", "/v1/jobs/{jobID}", [jobId], { signal: controller.signal });
          const moved = !last || job.state !== last.state || job.attempts !== last.attempts;
          last = job;
          if (moved) {
            pollMs = firstPollMs;
            options.onProgress?.(job, elapsed());
          }
          lastError = undefined;
          if (job.state === "succeeded") return job;
          if (job.state === "failed" || job.state === "canceled") throw new JobFailedError(job);
        } catch (err) {
          if (err instanceof JobFailedError || controller.signal.aborted || !isTransient(err)) throw err;
          lastError = err;
        }
        await sleep(pollMs, controller.signal);
        pollMs = Math.min(maxPollMs, pollMs * 1.5);
      }
    } catch (err) {
      if (err instanceof JobFailedError) throw err;
      if (outer?.aborted) throw outer.reason;
      if (deadlinePassed) throw new JobTimeoutError(jobId, last?.state ?? null, timeoutMs, last, lastError);
      throw err;
    } finally {
      clearTimeout(deadline);
      outer?.removeEventListener("abort", onAbort);
    }
  }

  // ---------------------------------------------------------------- organizations and API keys
  createOrganization(body: CreateOrganizationBody): Promise<{ organization: s.Organization }> {
    return this.#call("POST", "/v1/organizations", [], { body });
  }
  listOrganizations(): Promise<{ organizations: s.Organization[] }> {
    return this.#call("GET", "/v1/organizations", []);
  }
  createApiKey(organizationId: string, body: CreateApiKeyBody): Promise<{ api_key: s.ApiKey; secret: string }> {
    return this.#call("POST", "/v1/organizations/{orgID}/api-keys", [organizationId], { body });
  }
  listApiKeys(organizationId: string): Promise<{ api_keys: s.ApiKey[] }> {
    return this.#call("GET", "/v1/organizations/{orgID}/api-keys", [organizationId]);
  }
  revokeApiKey(keyId: string): Promise<{ api_key: s.ApiKey }> {
    return this.#call("DELETE", "/v1/api-keys/{keyID}", [keyId]);
  }

  // ---------------------------------------------------------------- GitHub Actions OIDC
  createTrustPolicy(projectId: string, body: CreateTrustPolicyBody): Promise<{ trust_policy: s.TrustPolicy }> {
    return this.#call("POST", "/v1/projects/{projectID}/trust-policies", [projectId], { body });
  }
  listTrustPolicies(projectId: string): Promise<{ trust_policies: s.TrustPolicy[] }> {
    return this.#call("GET", "/v1/projects/{projectID}/trust-policies", [projectId]);
  }
  getTrustPolicy(trustPolicyId: string): Promise<{ trust_policy: s.TrustPolicy }> {
    return this.#call("GET", "/v1/trust-policies/{trustPolicyID}", [trustPolicyId]);
  }
  /** The tokens the policy issued stop working at once. */
  async deleteTrustPolicy(trustPolicyId: string): Promise<void> {
    await this.#call("DELETE", "/v1/trust-policies/{trustPolicyID}", [trustPolicyId]);
  }
  /**
   * Exchanges a GitHub Actions ID token (core.getIDToken(audience)) for a token of one project,
   * limited to its trust policy's commands; sent without the client's own key. Use the answer's
   * access_token as the apiKey of a new client.
   */
  exchangeGitHubOidcToken(body: ExchangeGitHubOidcBody): Promise<s.OidcAccessToken> {
    return this.#call("POST", "/v1/auth/github-oidc", [], { body });
  }

  // ---------------------------------------------------------------- platform
  /** GET /healthz (sent without the API key). */
  health(): Promise<{ status: string }> {
    return this.#call("GET", "/healthz", []);
  }
  getOpenApiDocument(): Promise<Record<string, unknown>> {
    return this.#call("GET", "/v1/openapi.json", []);
  }
}

function isTransient(err: unknown): boolean {
  if (err instanceof CapyNetworkError) return true;
  return err instanceof CapyApiError && [429, 502, 503, 504].includes(err.status);
}

export function createClient(options: CapyClientOptions): CapyClient {
  return new CapyClient(options);
}
