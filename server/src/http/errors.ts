// HTTP errors and request validation: every failure answers { "error": "..." },
// and a validation error names the offending field.
import type { z } from "zod";

export class HttpError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
  }
}

export const badRequest = (msg: string) => new HttpError(400, msg);
export const unauthorized = (msg: string) => new HttpError(401, msg);
export const forbidden = (msg: string) => new HttpError(403, msg);
export const notFound = (msg: string) => new HttpError(404, msg);
export const conflict = (msg: string) => new HttpError(409, msg);
export const notImplemented = (msg: string) => new HttpError(501, msg);
export const unavailable = (msg: string) => new HttpError(503, msg);

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

/** Path ids: bounded length and a safe alphabet, else a plain 404 (never echoing hostile input at length). */
export function pathId(value: string | undefined, prefix: string, what: string): string {
  if (!value || value.length > 64 || !new RegExp(`^${prefix}_[a-z0-9]{1,40}$`).test(value)) throw notFound(`${what} not found`);
  return value;
}
