// Diagnostics: what Terraform shows the user. API errors keep the API's own text; an error whose
// text starts with "<attribute>: " (the server's convention for bad input) points at that
// attribute, so Terraform quotes the offending line of configuration.
import { type AttributePathMsg, type DiagnosticMsg, Severity } from "../proto/messages.js";

export function attributePath(path: readonly (string | number)[]): AttributePathMsg {
  return { steps: path.map((p) => (typeof p === "number" ? { element_key_int: p } : { attribute_name: p })) };
}

export function errorDiagnostic(summary: string, detail = "", attribute?: readonly (string | number)[]): DiagnosticMsg {
  return { severity: Severity.ERROR, summary, detail, ...(attribute ? { attribute: attributePath(attribute) } : {}) };
}

/** An error that already knows how it should be shown. */
export class DiagnosticError extends Error {
  constructor(
    readonly summary: string,
    readonly detail = "",
    readonly attribute?: readonly (string | number)[],
  ) {
    super(detail ? `${summary}: ${detail}` : summary);
  }
}

interface ErrorLike {
  name?: string;
  message?: string;
  status?: number;
  code?: string;
  method?: string;
  path?: string;
  job?: { id: string; type: string; state: string };
}

/** The attribute an API message names ("name: extension ... is not available"), if it is one of ours. */
export function attributeFromMessage(message: string, attributes: Iterable<string>): string | undefined {
  return attributePathFromMessage(message, attributes)?.[0] as string | undefined;
}

/**
 * The attribute path an API message names, when its first step is one of our attributes:
 * "name: ..." → ["name"]; "rules[1].column: column public.users.emial does not exist" →
 * ["rules", 1], the element of a nested attribute. The path stops at that element: Terraform quotes
 * an attribute or an element of its list, but a path into the element's own attributes makes it
 * fall back to the resource's first line (the message still names the field).
 */
export function attributePathFromMessage(message: string, attributes: Iterable<string>): (string | number)[] | undefined {
  const m = /^([a-z_][a-z0-9_]*)((?:\[\d+\]|\.[a-z_][a-z0-9_]*)*): /.exec(message);
  if (!m || ![...attributes].includes(m[1])) return undefined;
  const index = /^\[(\d+)\]/.exec(m[2]);
  return index ? [m[1], Number(index[1])] : [m[1]];
}

/**
 * Turns anything thrown while talking to the API into a diagnostic. The client's errors are
 * matched by name so this module does not load the client.
 */
export function errorToDiagnostic(err: unknown, attributes: Iterable<string> = []): DiagnosticMsg {
  if (err instanceof DiagnosticError) return errorDiagnostic(err.summary, err.detail, err.attribute);
  const e = (err ?? {}) as ErrorLike;
  const message = e.message ?? String(err);
  switch (e.name) {
    case "CapyApiError": {
      const attribute = attributePathFromMessage(message, attributes);
      return errorDiagnostic(`CapyDB API error (HTTP ${e.status})`, `${message}\n\n(${e.method} ${e.path}: ${e.code ?? "no code"})`, attribute);
    }
    case "CapyNetworkError":
      return errorDiagnostic("Could not reach the CapyDB API", message);
    case "JobFailedError":
      return errorDiagnostic(`CapyDB job ${e.job?.type ?? ""} ${e.job?.state ?? "failed"}`.replace(/\s+/g, " "), message);
    case "JobTimeoutError":
      return errorDiagnostic(
        "Timed out waiting for a CapyDB job",
        `${message}\n\nThe job keeps running on the server. Raise the resource's timeouts block if the operation needs longer.`,
      );
    case "AbortError":
      return errorDiagnostic("Interrupted", "Terraform asked the provider to stop before the operation finished.");
    default:
      return errorDiagnostic("Unexpected provider error", message);
  }
}
