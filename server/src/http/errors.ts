// HTTP errors and request validation: every failure answers { "error": "...", "code": "..." }
// (the codes: packages/api/src/error-codes.ts), and a validation error names the offending field.
import type { z } from "zod";
import { genericCode, type CodeOf, type ErrorCode } from "@capydb/api";

export class HttpError extends Error {
  /** The code the answer carries: the one given, else the generic code of the status. */
  readonly code: ErrorCode;
  constructor(
    readonly statusCode: number,
    message: string,
    code?: ErrorCode,
  ) {
    super(message);
    this.code = code ?? genericCode(statusCode);
  }
}

/** The body of every error answer. */
export function errorBody(statusCode: number, message: string, code?: ErrorCode): { error: string; code: ErrorCode } {
  return { error: message, code: code ?? genericCode(statusCode) };
}

// Each helper takes only the codes of its own status (a 409 cannot carry a 404's code).
export const badRequest = (msg: string, code?: CodeOf<400>) => new HttpError(400, msg, code);
export const unauthorized = (msg: string) => new HttpError(401, msg);
export const forbidden = (msg: string, code?: CodeOf<403>) => new HttpError(403, msg, code);
export const notFound = (msg: string, code?: CodeOf<404>) => new HttpError(404, msg, code);
export const conflict = (msg: string, code?: CodeOf<409>) => new HttpError(409, msg, code);
export const notImplemented = (msg: string) => new HttpError(501, msg);
export const unavailable = (msg: string) => new HttpError(503, msg);

// "Is being deleted or was deleted" is a different answer to a client than "not ready yet":
// a Terraform read treats the first as gone, the second as an error.
const PROJECT_GONE = new Set(["deleting", "deleted"]);
const PREVIEW_GONE = new Set(["deleting", "deleted", "promoted"]);

/** 409 about the project's state: project_deleted (deleting, deleted) or project_not_ready. */
export const projectStateConflict = (state: string, msg: string) => conflict(msg, PROJECT_GONE.has(state) ? "project_deleted" : "project_not_ready");

/** 409 about a preview's state: preview_deleted (deleting, deleted, promoted) or preview_not_ready. */
export const previewStateConflict = (state: string, msg: string) => conflict(msg, PREVIEW_GONE.has(state) ? "preview_deleted" : "preview_not_ready");

function describeIssue(issue: z.core.$ZodIssue, where: string): string[] {
  const field = issue.path.length ? issue.path.map(String).join(".") : where;
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) => `${[...issue.path.map(String), k].join(".")}: unknown field`);
  }
  if (issue.code === "invalid_type" && issue.input === undefined) return [`${field}: is required`];
  if (issue.code === "invalid_type" && issue.path.length === 0) return [`${where}: must be a JSON object`];
  return [`${field}: ${issue.message}`];
}

/** Validates `value` against a zod schema; 400 naming each offending field otherwise. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where = "body"): z.infer<S> {
  const result = schema.safeParse(value ?? (where === "body" ? {} : value));
  if (result.success) return result.data;
  const messages = result.error.issues.flatMap((i) => describeIssue(i, where));
  throw badRequest(messages.slice(0, 5).join("; "));
}

// A malformed project id is as unknown as a well-formed one that matches nothing: the same code.
const NOT_FOUND_CODES: Record<string, CodeOf<404>> = { prj: "project_not_found" };

/** Path ids: bounded length and a safe alphabet, else a plain 404 (never echoing hostile input at length). */
export function pathId(value: string | undefined, prefix: string, what: string): string {
  if (!value || value.length > 64 || !new RegExp(`^${prefix}_[a-z0-9]{1,40}$`).test(value)) throw notFound(`${what} not found`, NOT_FOUND_CODES[prefix]);
  return value;
}
