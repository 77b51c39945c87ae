// CapyTrustPolicy: which GitHub Actions workflows may act on a project without an API key.
import { type TerraformProvider, Token } from "cdktf";
import { Construct } from "constructs";
import { TrustPolicy } from "./.gen/providers/capydb/trust-policy/index.js";
import type { CapyProject } from "./project.js";
import {
  TRUST_POLICY_COMMANDS,
  type Problem,
  environmentName,
  eventName,
  githubRepository,
  githubRepositoryId,
  isToken,
  nonEmpty,
  policyListProblems,
  refPattern,
  trustPolicyCommand,
  validateAtSynth,
} from "./validation.js";

export { TRUST_POLICY_COMMANDS };
export type CapyTrustPolicyCommand = (typeof TRUST_POLICY_COMMANDS)[number];

/** Which runs of the repository are trusted, and for what (`CapyProject.trustGitHub`'s options). */
export interface TrustGitHubOptions {
  /**
   * Refs the run must be on, e.g. `["refs/heads/main", "refs/pull/*\/merge"]`; `*` stands for one
   * whole path segment (`refs/heads/*`, never `refs/heads/feat*`).
   *
   * @default - any ref
   */
  readonly refs?: string[];

  /**
   * GitHub environments the job must name (compared without regard to case).
   *
   * @default - any environment, or none
   */
  readonly environments?: string[];

  /**
   * Workflow events (`event_name`), e.g. `["pull_request", "push"]`.
   *
   * @default - any event
   */
  readonly events?: string[];

  /**
   * What the workflows' tokens may do: `"create"`, `"reset"`, `"delete"`, `"extend"` (previews),
   * `"check"` (schema diffs), `"cutover"` (open a cutover request).
   *
   * @default - all six
   */
  readonly commands?: CapyTrustPolicyCommand[];

  /**
   * Trust `pull_request_target` and `workflow_run` runs, through which a fork's code can hold the
   * repository's token.
   *
   * @default false
   */
  readonly allowForks?: boolean;

  /**
   * GitHub's numeric id of the repository. A repository deleted and recreated under the same name
   * has another id and is not trusted.
   *
   * @default - pinned by the server from the first token exchanged
   */
  readonly repositoryId?: string | number;
}

export interface CapyTrustPolicyProps extends TrustGitHubOptions {
  /** The project: a `CapyProject`, or a project id (`prj_...`) or a token of one. */
  readonly project: CapyProject | string;

  /** The GitHub repository whose workflows are trusted, `"owner/repo"`. */
  readonly repository: string;

  /**
   * The capydb provider configuration to use.
   *
   * @default - the stack's default (unaliased) capydb provider
   */
  readonly provider?: TerraformProvider;
}

/**
 * A trust policy (`capydb_trust_policy`): the GitHub Actions workflows of one repository that may
 * trade their OIDC ID token for a short-lived token of the project, limited to `commands`. For a
 * project declared with `CapyProject`, `project.trustGitHub("owner/repo", {...})` is shorter.
 *
 * ```ts
 * new CapyTrustPolicy(this, "ci", {
 *   project: db,
 *   repository: "acme/shop",
 *   refs: ["refs/pull/*\/merge", "refs/heads/main"],
 *   events: ["pull_request", "push"],
 *   commands: ["create", "reset", "delete", "extend", "check"],
 * });
 * ```
 *
 * The API cannot change a policy: every change of props creates a new one and deletes the old,
 * whose tokens stop working at once. Destroying the construct deletes the policy.
 */
export class CapyTrustPolicy extends Construct {
  /** The generated L1 resource, for anything these props do not cover. */
  readonly resource: TrustPolicy;
  /** The policy id, `tp_...` (a token). */
  readonly trustPolicyId: string;
  /** The id `terraform import` takes: the policy id, `tp_...` (a token). */
  readonly importId: string;
  /** The repository's id: the one given, or the one the server pinned (a token; empty until then). */
  readonly repositoryId: string;
  /** When the policy was created, RFC 3339 (a token). */
  readonly createdAt: string;

  constructor(scope: Construct, id: string, props: CapyTrustPolicyProps) {
    super(scope, id);
    const projectId = typeof props.project === "string" ? props.project : props.project?.projectId;
    const repositoryId = props.repositoryId;
    this.resource = new TrustPolicy(this, "Resource", {
      projectId,
      repository: props.repository,
      // The attribute is a string; a number token stays a reference for Terraform to convert.
      repositoryId: typeof repositoryId === "number" ? (isToken(repositoryId) ? Token.asString(repositoryId) : String(repositoryId)) : repositoryId,
      refs: props.refs,
      environments: props.environments,
      events: props.events,
      commands: props.commands,
      allowForks: props.allowForks ?? false,
      provider: props.provider,
    });
    this.trustPolicyId = this.resource.id;
    this.importId = this.resource.id;
    this.repositoryId = this.resource.repositoryId;
    this.createdAt = this.resource.createdAt;
    validateAtSynth(this, (): Problem[] => [
      nonEmpty("project", projectId ?? ""),
      githubRepository("repository", props.repository),
      githubRepositoryId("repositoryId", repositoryId),
      ...policyListProblems("refs", props.refs, refPattern),
      ...policyListProblems("environments", props.environments, environmentName),
      ...policyListProblems("events", props.events, eventName),
      ...policyListProblems("commands", props.commands, trustPolicyCommand),
    ]);
  }
}
