// Reads every input once, validates it and builds the ActionSettings. An invalid value fails
// the step with an InputError naming the input (kebab-case, as written in the workflow).
import * as core from "@actions/core";
import { COMMANDS, FAIL_ON, type ActionSettings, type Command, type PreviewSource } from "./settings.js";
import type { EventInfo } from "./event.js";
import { InputError } from "./errors.js";
import { formatSeconds, parseDurationSeconds } from "./durations.js";
import { idTokenRequestable, noCredentialProblem } from "./api-access.js";

const MIN_TTL_SECONDS = 60;
const MAX_TTL_SECONDS = 30 * 86_400;
const PREVIEW_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;

function input(name: string): string {
  return core.getInput(name, { trimWhitespace: true });
}

function oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
  const raw = input(name) || fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new InputError(name, `must be one of ${allowed.join(", ")}; got "${raw}"`);
  return raw as T;
}

/** YAML 1.2 core booleans, as @actions/core's getBooleanInput reads them. */
function bool(name: string, fallback: boolean): boolean {
  const raw = input(name);
  if (raw === "") return fallback;
  if (["true", "True", "TRUE"].includes(raw)) return true;
  if (["false", "False", "FALSE"].includes(raw)) return false;
  throw new InputError(name, `must be true or false; got "${raw}"`);
}

/** true, false (as `bool` reads them) or empty: null, the server's default. Anything else fails. */
function optionalBool(name: string, empty: string): boolean | null {
  const raw = input(name);
  if (raw === "") return null;
  if (["true", "True", "TRUE"].includes(raw)) return true;
  if (["false", "False", "FALSE"].includes(raw)) return false;
  throw new InputError(name, `must be true, false or empty (${empty}); got "${raw}"`);
}

function duration(name: string, fallback: string, min: number, max: number): number {
  const raw = input(name) || fallback;
  const seconds = parseDurationSeconds(raw);
  if (seconds === null) throw new InputError(name, `must be a duration such as 7d, 12h, 30m or a number of seconds; got "${raw}"`);
  if (seconds < min || seconds > max) throw new InputError(name, `must be between ${formatSeconds(min)} and ${formatSeconds(max)}; got "${raw}"`);
  return seconds;
}

function required(name: string, hint: string): string {
  const raw = input(name);
  if (raw === "") throw new InputError(name, `is required: ${hint}`);
  return raw;
}

function apiUrl(): string {
  const raw = input("api-url") || process.env.CAPYDB_API_URL || "";
  if (raw === "")
    throw new InputError(
      "api-url",
      "is required (or set CAPYDB_API_URL in the environment): the base URL of your CapyDB server, e.g. https://capydb.example.com",
    );
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InputError("api-url", `is not a URL: "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new InputError("api-url", `must be an http(s) URL; got "${raw}"`);
  return raw.replace(/\/+$/, "");
}

function source(): PreviewSource {
  const raw = input("source") || "project";
  if (raw === "project" || raw === "empty") return { kind: raw };
  const backup = /^backup:(.+)$/.exec(raw);
  if (backup && backup[1].trim()) return { kind: "backup", backupId: backup[1].trim() };
  throw new InputError("source", `must be project, empty or backup:<backup id>; got "${raw}"`);
}

function previewName(template: string, event: EventInfo): string | null {
  if (template.includes("{number}") && !event.pullRequest) return null;
  const name = template.replaceAll("{number}", String(event.pullRequest?.number ?? ""));
  if (!PREVIEW_NAME.test(name)) {
    throw new InputError("preview-name", `"${name}" is not a valid preview name: 1-40 lowercase letters, digits or dashes, starting with a letter or digit`);
  }
  return name;
}

/** GitHub's limit on an environment's name. */
const MAX_ENVIRONMENT_LENGTH = 255;

function deploymentEnvironment(event: EventInfo): string | null {
  const template = input("deployment-environment") || "capydb/pr-{number}";
  if (template.includes("{number}") && !event.pullRequest) return null;
  const name = template.replaceAll("{number}", String(event.pullRequest?.number ?? ""));
  if (name.length > MAX_ENVIRONMENT_LENGTH || /[\r\n]/.test(name)) {
    throw new InputError("deployment-environment", `must be one line of at most ${MAX_ENVIRONMENT_LENGTH} characters; got "${name.slice(0, 60)}…"`);
  }
  return name;
}

/** The key when given (masked first thing); null when the job can sign in with its GitHub ID token instead. */
function apiKey(): string | null {
  const key = input("api-key");
  if (key === "") {
    if (idTokenRequestable()) return null;
    throw new InputError("api-key", noCredentialProblem());
  }
  // Masked before anything else can print it (a runner masks secrets, not values from elsewhere).
  core.setSecret(key);
  return key;
}

/** GitHub takes any string as the audience; CapyDB's default is its public URL, which api-url usually is. */
function oidcAudience(apiUrl: string): string {
  const raw = input("oidc-audience");
  if (/[\r\n]/.test(raw)) throw new InputError("oidc-audience", "must be one line");
  return raw || apiUrl;
}

export function getSettings(event: EventInfo): ActionSettings {
  const key = apiKey();
  const githubToken = input("github-token");
  if (githubToken) core.setSecret(githubToken);

  const command: Command = oneOf("command", COMMANDS, "auto");
  const template = input("preview-name") || "pr-{number}";
  const src = source();
  const mode = oneOf("mode", ["full", "schema-only"] as const, "full") === "schema-only" ? "schema_only" : "full";
  if (mode === "schema_only" && src.kind !== "project") {
    throw new InputError(
      "mode",
      `schema-only copies the project's schema; it cannot be combined with source: ${src.kind === "backup" ? "backup:..." : src.kind}`,
    );
  }
  // Parsed here, before any call: a typo must never fall back to the default and make a preview
  // the workflow did not ask for.
  const masked = optionalBool("masked", "empty: the server's default, masked when the project has masking rules");
  const cutoverNote = input("cutover-note");
  if (cutoverNote.length > 2000) throw new InputError("cutover-note", `must be at most 2000 characters; got ${cutoverNote.length}`);
  const resetLabel = input("reset-label") || "capydb:reset";

  const url = apiUrl();
  return {
    apiUrl: url,
    apiKey: key,
    oidcAudience: oidcAudience(url),
    projectId: required("project-id", "the id (prj_...) of the project whose previews this workflow manages"),
    command,
    previewName: previewName(template, event),
    previewNameTemplate: template,
    source: src,
    mode,
    masked,
    ttlSeconds: duration("ttl", "7d", MIN_TTL_SECONDS, MAX_TTL_SECONDS),
    onPush: oneOf("on-push", ["reuse", "reset"] as const, "reuse"),
    resetLabel,
    comment: bool("comment", true),
    wait: bool("wait", true),
    timeoutMs: duration("timeout", "10m", 1, 6 * 3600) * 1000,
    cutoverOnMerge: bool("cutover-on-merge", true),
    cutoverNote: cutoverNote || null,
    cutoverMode: oneOf("cutover-mode", ["schema", "data"] as const, "schema"),
    githubToken,
    schemaDiff: bool("schema-diff", true),
    failOn: oneOf("fail-on", FAIL_ON, "destructive"),
    deployment: bool("deployment", true),
    deploymentEnvironment: deploymentEnvironment(event),
  };
}
