// The action's inputs after parsing and validation: everything the rest of the action reads
// about its configuration comes from this one object (built by input-helper.ts).

export const COMMANDS = ["auto", "create", "reset", "delete", "extend", "cutover", "check"] as const;
export type Command = (typeof COMMANDS)[number];

/** The least risk that makes the "CapyDB schema" check run fail; none: it never fails. */
export const FAIL_ON = ["destructive", "risky", "none"] as const;
export type FailOn = (typeof FAIL_ON)[number];

export type PreviewSource = { kind: "project" } | { kind: "backup"; backupId: string } | { kind: "empty" };

export interface ActionSettings {
  /** Base URL of the CapyDB API, without a trailing slash. */
  apiUrl: string;
  /**
   * An org- or project-scoped API key (masked as soon as it is read); null: the run signs in with
   * the job's GitHub ID token under a trust policy of the project (api-access.ts).
   */
  apiKey: string | null;
  /** The audience of the GitHub ID token asked for when there is no API key; default the api-url. */
  oidcAudience: string;
  projectId: string;
  command: Command;
  /** The preview's name with `{number}` already replaced; null when it needs a pull request number and there is none. */
  previewName: string | null;
  /** The input as written, for messages ("pr-{number}"). */
  previewNameTemplate: string;
  source: PreviewSource;
  mode: "full" | "schema_only";
  /** `masked`: true or false as asked; null leaves it to the server (masked when the project has masking rules). */
  masked: boolean | null;
  ttlSeconds: number;
  onPush: "reuse" | "reset";
  resetLabel: string;
  comment: boolean;
  wait: boolean;
  timeoutMs: number;
  cutoverOnMerge: boolean;
  /** Null: the action writes a note naming the merged pull request. */
  cutoverNote: string | null;
  /** What the cutover request opened on merge asks for: schema (production keeps its data) or data (the preview's data replaces it). */
  cutoverMode: "schema" | "data";
  githubToken: string;
  /** Diff the preview's schema against production after it is ready (auto on opened, reopened, synchronize). */
  schemaDiff: boolean;
  failOn: FailOn;
  /** Keep a GitHub deployment per preview. */
  deployment: boolean;
  /** The deployment's environment with `{number}` replaced; null when it needs a pull request number and there is none. */
  deploymentEnvironment: string | null;
}
