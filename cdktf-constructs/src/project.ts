// CapyProject: a CapyDB project (a PostgreSQL database and its login role), with its extensions,
// its daily backup schedule, its masking rules and the GitHub repositories it trusts.
import type { TerraformProvider } from "cdktf";
import { Construct } from "constructs";
import { Project } from "./.gen/providers/capydb/project/index.js";
import { type BackupScheduleOptions, CapyBackupSchedule } from "./backup-schedule.js";
import { CapyExtension } from "./extension.js";
import { CapyMaskingRules, type MaskingOptions } from "./masking-rules.js";
import { CapyTrustPolicy, type TrustGitHubOptions } from "./trust-policy.js";
import { atLeast, displayName, integerInRange, isToken, nameProps, nonEmpty, oneOf, pgDuration, type Problem, validateAtSynth } from "./validation.js";

export const PLANS = ["free", "pro", "enterprise"] as const;
export type CapyPlan = (typeof PLANS)[number];
export const ENVIRONMENTS = ["production", "staging", "development"] as const;
export type CapyEnvironment = (typeof ENVIRONMENTS)[number];

/** Settings of the project's database role; every one changes in place. */
export interface CapyProjectSettings {
  /**
   * Connection limit of the project's role, 1-10000.
   *
   * @default 100 (the server's default)
   */
  readonly maxConnections?: number;

  /**
   * `statement_timeout` of the role: `"500ms"`, `"30s"`, `"5min"`, `"1h"`; `"0"` means none.
   *
   * @default "0" (no timeout)
   */
  readonly statementTimeout?: string;

  /**
   * `idle_in_transaction_session_timeout` of the role, same format as `statementTimeout`.
   *
   * @default "0" (no timeout)
   */
  readonly idleTransactionTimeout?: string;

  /**
   * Storage limit of the database in bytes, at least 1048576 (1 MiB).
   *
   * @default 10737418240 (10 GiB, the server's default)
   */
  readonly storageLimitBytes?: number;
}

export interface CapyProjectProps {
  /**
   * Display name: 1-63 letters (any script), digits, spaces, `.`, `_` and `-`, starting with a
   * letter or digit. Changes in place (the database keeps its name).
   */
  readonly name: string;

  /**
   * Organization that owns the project. Changing it creates a new project.
   *
   * @default - the organization of the provider's API key (required with a platform-admin key)
   */
  readonly organizationId?: string;

  /**
   * Region whose cluster holds the database. Changing it creates a new project.
   *
   * @default - the server's default region
   */
  readonly region?: string;

  /**
   * Plan: `"free"`, `"pro"` or `"enterprise"`. Changes in place.
   *
   * @default "free"
   */
  readonly plan?: CapyPlan;

  /**
   * Environment label: `"production"`, `"staging"` or `"development"`. Changes in place.
   *
   * @default "production"
   */
  readonly environment?: CapyEnvironment;

  /**
   * Settings of the project's database role.
   *
   * @default - the server's defaults (see each setting)
   */
  readonly settings?: CapyProjectSettings;

  /**
   * PostgreSQL extensions to enable in the database, e.g. `["pgcrypto", "citext"]`; each becomes
   * a `CapyExtension`. More can be added with `addExtension()`. A name listed twice is an error.
   *
   * @default - none
   */
  readonly extensions?: string[];

  /**
   * The daily backup schedule; the same as calling `addBackupSchedule()`.
   *
   * @default - no scheduled backups
   */
  readonly backupSchedule?: BackupScheduleOptions;

  /**
   * How the project's personal data is masked in its previews: the same as calling
   * `addMaskingRules()`. The server checks the rules against the project's tables when they are
   * applied, so those tables must exist by then.
   *
   * @default - no masking rules
   */
  readonly masking?: MaskingOptions;

  /**
   * The capydb provider configuration to use, for this project and what it declares.
   *
   * @default - the stack's default (unaliased) capydb provider
   */
  readonly provider?: TerraformProvider;
}

/**
 * A CapyDB project (`capydb_project`): a PostgreSQL database with its own login role on a
 * CapyDB cluster, plus the extensions enabled in it and its daily backup schedule.
 *
 * ```ts
 * const db = new CapyProject(this, "db", {
 *   name: "shop",
 *   extensions: ["pgcrypto", "citext"],
 *   backupSchedule: { hour: 3, minute: 30, retentionDays: 14 },
 * });
 * new TerraformOutput(this, "database_url", { value: db.connectionUri, sensitive: true });
 * ```
 *
 * Props are checked when the app is synthesized; a problem fails the synth with the prop's name.
 * Destroying the project drops its database and its role and deletes its backups (its schedule,
 * destroyed first, is deactivated).
 */
export class CapyProject extends Construct {
  /** The generated L1 resource, for anything these props do not cover (timeouts, lifecycle). */
  readonly resource: Project;
  /** The project id, `prj_...` (a token). */
  readonly projectId: string;
  /** URL-safe unique name of the project (a token). */
  readonly slug: string;
  /** The PostgreSQL database (a token). */
  readonly databaseName: string;
  /** The PostgreSQL login role that owns the database (a token). */
  readonly roleName: string;
  /** Host applications connect to (a token). */
  readonly host: string;
  /** PostgreSQL port for direct connections (a token). */
  readonly port: number;
  /** PgBouncer port for pooled connections, 0 where the server runs no pooler (a token). */
  readonly pooledPort: number;
  /** The `sslmode` clients should use (a token). */
  readonly sslMode: string;
  /**
   * `postgresql://` URI with the role's password, direct port (a token). Sensitive: a
   * `TerraformOutput` of it needs `sensitive: true`, which Terraform enforces.
   */
  readonly connectionUri: string;
  /**
   * The same login through PgBouncer (transaction pooling; a token, sensitive). Empty where the
   * server runs no pooler (`pooledPort` 0).
   */
  readonly pooledConnectionUri: string;
  /** The password of the project's login role (a token, sensitive). */
  readonly password: string;

  private readonly provider?: TerraformProvider;
  private readonly extensionsByName = new Map<string, CapyExtension>();
  private readonly problems: Problem[] = [];
  private schedule?: CapyBackupSchedule;
  private maskingRulesConstruct?: CapyMaskingRules;
  private readonly trusted: CapyTrustPolicy[] = [];

  constructor(scope: Construct, id: string, props: CapyProjectProps) {
    super(scope, id);
    this.provider = props.provider;
    const settings = props.settings ?? {};
    this.resource = new Project(this, "Resource", {
      name: props.name,
      organizationId: props.organizationId,
      region: props.region,
      plan: props.plan,
      environment: props.environment,
      maxConnections: settings.maxConnections,
      statementTimeout: settings.statementTimeout,
      idleTransactionTimeout: settings.idleTransactionTimeout,
      storageLimitBytes: settings.storageLimitBytes,
      provider: props.provider,
    });
    this.projectId = this.resource.id;
    this.slug = this.resource.slug;
    this.databaseName = this.resource.databaseName;
    this.roleName = this.resource.roleName;
    this.host = this.resource.publicHost;
    this.port = this.resource.directPort;
    this.pooledPort = this.resource.pooledPort;
    this.sslMode = this.resource.sslMode;
    this.connectionUri = this.resource.connectionUri;
    this.pooledConnectionUri = this.resource.pooledConnectionUri;
    this.password = this.resource.password;

    validateAtSynth(this, () => [
      displayName("name", props.name, 63),
      nonEmpty("organizationId", props.organizationId),
      nonEmpty("region", props.region, 63),
      oneOf("plan", props.plan, PLANS),
      oneOf("environment", props.environment, ENVIRONMENTS),
      integerInRange("settings.maxConnections", settings.maxConnections, 1, 10000),
      pgDuration("settings.statementTimeout", settings.statementTimeout),
      pgDuration("settings.idleTransactionTimeout", settings.idleTransactionTimeout),
      atLeast("settings.storageLimitBytes", settings.storageLimitBytes, 1_048_576, "(1 MiB)"),
      ...this.problems,
    ]);

    if (props.extensions !== undefined && !Array.isArray(props.extensions)) {
      this.problems.push(`extensions must be a list of extension names; got ${String(props.extensions)}`);
    } else if (props.extensions && isToken(props.extensions)) {
      this.problems.push("extensions must be a list written in the program, not a token: each extension is a resource of its own");
    } else {
      for (const name of props.extensions ?? []) this.addExtension(name);
    }
    if (props.backupSchedule) this.addBackupSchedule(props.backupSchedule);
    if (props.masking) this.addMaskingRules(props.masking);
  }

  /** The extensions declared on this project, in the order they were added. */
  get extensions(): CapyExtension[] {
    return [...this.extensionsByName.values()];
  }

  /** The backup schedule, when one was declared. */
  get backupSchedule(): CapyBackupSchedule | undefined {
    return this.schedule;
  }

  /** The masking rules, when they were declared. */
  get maskingRules(): CapyMaskingRules | undefined {
    return this.maskingRulesConstruct;
  }

  /** The trust policies declared with `trustGitHub()`, in the order they were added. */
  get trustPolicies(): CapyTrustPolicy[] {
    return [...this.trusted];
  }

  /**
   * Enables a PostgreSQL extension in the project's database and answers its construct
   * (id `Extension-<name>`). The same name twice fails the synth (`extensions`).
   */
  addExtension(name: string): CapyExtension {
    const index = this.extensionsByName.size;
    const existing = typeof name === "string" ? this.extensionsByName.get(name) : undefined;
    if (existing) {
      this.problems.push(`extensions: "${name}" is listed more than once`);
      return existing;
    }
    // A literal name makes a stable construct id (and Terraform address); a token cannot.
    const id = typeof name === "string" && !isToken(name) && name !== "" ? `Extension-${name}` : `Extension${index}`;
    const extension = new CapyExtension(this, this.node.tryFindChild(id) ? `${id}-${index}` : id, {
      projectId: this.projectId,
      name,
      provider: this.provider,
    });
    nameProps(extension, (prop) => (prop === "name" ? `extensions[${index}]` : prop));
    this.extensionsByName.set(typeof name === "string" ? name : String(name), extension);
    return extension;
  }

  /**
   * Declares the project's daily backup schedule and answers its construct (id `BackupSchedule`).
   * A project has one schedule: a second call fails the synth (`backupSchedule`).
   */
  addBackupSchedule(schedule: BackupScheduleOptions): CapyBackupSchedule {
    if (this.schedule) {
      this.problems.push("backupSchedule: the project already has a backup schedule (a project has one; change that one instead)");
      return this.schedule;
    }
    this.schedule = new CapyBackupSchedule(this, "BackupSchedule", { ...schedule, projectId: this.projectId, provider: this.provider });
    nameProps(this.schedule, (prop) => `backupSchedule.${prop}`);
    return this.schedule;
  }

  /**
   * Declares the project's masking rules and answers their construct (id `MaskingRules`). A
   * project has one set of rules: a second call fails the synth (`masking`).
   */
  addMaskingRules(masking: MaskingOptions): CapyMaskingRules {
    if (this.maskingRulesConstruct) {
      this.problems.push("masking: the project already has masking rules (a project has one set; put every rule in it)");
      return this.maskingRulesConstruct;
    }
    this.maskingRulesConstruct = new CapyMaskingRules(this, "MaskingRules", { ...masking, project: this.projectId, provider: this.provider });
    nameProps(this.maskingRulesConstruct, (prop) => `masking.${prop}`);
    return this.maskingRulesConstruct;
  }

  /**
   * Lets GitHub Actions workflows of `repository` (`"owner/repo"`) act on this project without an
   * API key: they trade their OIDC ID token for a short-lived token limited to `options.commands`
   * (default: all). Answers the `CapyTrustPolicy` (id `TrustGitHub-<owner>--<repo>`). A repository
   * may be trusted more than once, e.g. pull requests for previews and `main` for cutovers.
   *
   * ```ts
   * db.trustGitHub("acme/shop", { refs: ["refs/pull/*\/merge"], events: ["pull_request"], commands: ["create", "reset", "delete"] });
   * ```
   */
  trustGitHub(repository: string, options: TrustGitHubOptions = {}): CapyTrustPolicy {
    const index = this.trusted.length;
    // A literal repository makes a stable construct id (and Terraform address); a token cannot.
    const base =
      typeof repository === "string" && !isToken(repository) && repository !== "" ? `TrustGitHub-${repository.replace("/", "--")}` : `TrustGitHub${index}`;
    let id = base;
    for (let n = 2; this.node.tryFindChild(id); n++) id = `${base}-${n}`;
    const policy = new CapyTrustPolicy(this, id, { ...options, project: this.projectId, repository, provider: this.provider });
    this.trusted.push(policy);
    return policy;
  }
}
