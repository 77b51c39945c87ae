// Configuration from the environment, parsed once into a typed object.
// Every setting is documented in the README's configuration table.
import fs from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { isWellFormedApiKey } from "./platform/secrets.js";
import { loadPlans, PlanConfigError, type PlanTable } from "./platform/quotas.js";
import {
  DEFAULT_JOB_MAX_RUNNING_PER_ORGANIZATION,
  DEFAULT_JOB_MAX_RUNTIME_SECONDS,
  MAX_JOB_MAX_RUNTIME_SECONDS,
  parseMaxRuntimeOverrides,
} from "./platform/jobs/limits.js";

export interface Config {
  host: string;
  port: number;
  /** HTTPS with this certificate (chain) and key, PEM, from CAPYDB_TLS_CERT_FILE / CAPYDB_TLS_KEY_FILE; null: plain HTTP. */
  tls: { cert: Buffer; key: Buffer } | null;
  /** What `npm run release -w packages/terraform-provider` wrote: served with a provider network mirror (null: not served). */
  providerReleaseDir: string | null;
  dataDir: string;
  databaseUrl: string | null;
  /** How long startup waits for the control-plane database to accept connections. */
  databaseWaitSeconds: number;
  /** Connections of the control-plane pool. */
  databasePoolSize: number;
  clusterAdminUrl: string | null;
  pgbouncerEnabled: boolean;
  pgBinDir: string | null;
  pgPort: number;
  pgbouncerPort: number;
  pgbouncerBin: string | null;
  publicHost: string;
  bootstrapApiKey: string | null;
  secretKey: string | null;
  defaultRegion: string;
  logLevel: string;
  bodyLimitBytes: number;
  /** How long a valid API key is trusted without a lookup (0: look up every request). */
  apiKeyCacheSeconds: number;
  /** How often /metrics reads the job counts from the control-plane database (scrapes in between reuse them). */
  metricsRefreshSeconds: number;
  workerConcurrency: number;
  jobLeaseSeconds: number;
  jobRetryBaseMs: number;
  jobMaxAttempts: number;
  /** A job running longer than this (summed over its attempts) is stopped, cleaned up and failed. */
  jobMaxRuntimeSeconds: number;
  /** Per job type, in place of jobMaxRuntimeSeconds (CAPYDB_JOB_MAX_RUNTIME=import.run=3600,...). */
  jobMaxRuntimeByType: Record<string, number>;
  /** Jobs of one organization running at once over every server process, so one tenant cannot hold every worker. */
  jobMaxRunningPerOrganization: number;
  /** On SIGINT/SIGTERM, how long running jobs may finish before they are stopped and handed back to the queue. */
  shutdownGraceSeconds: number;
  restoreJobs: number;
  /** Tables of production at least this big make lock-taking schema changes "risky" (CAPYDB_SCHEMA_DIFF_BIG_TABLE_MB). */
  schemaDiffBigTableBytes: number;
  /** A schema cutover's lock_timeout per attempt (ms), and how many attempts it makes before it fails with production unchanged. */
  schemaCutoverLockTimeoutMs: number;
  schemaCutoverAttempts: number;
  /** How long each pg_dump waits for a table's lock (--lock-wait-timeout) before the job fails. */
  toolLockWaitSeconds: number;
  extensionAllowlist: string[];
  clerk: {
    jwksUrl: string | null;
    publicKeyPem: string | null;
    issuer: string | null;
    authorizedParties: string[];
  };
  /** GitHub Actions OIDC (POST /v1/auth/github-oidc): whose ID tokens are trusted, and for how long the tokens exchanged for them live. */
  githubOidc: {
    /** The `iss` the ID tokens must carry; its discovery document names the keys when jwksUrl is not set. */
    issuer: string;
    jwksUrl: string | null;
    /** How long fetched keys are used before they are fetched again: a key the issuer stopped publishing is refused after at most this. */
    jwksCacheSeconds: number;
    /** The `aud` they must carry; null: the server's public URL. */
    audience: string | null;
    /** Life of an exchanged token (never beyond the ID token's own exp). */
    tokenTtlSeconds: number;
  };
  runWorkers: boolean;
  cutoverRollbackWindowSeconds: number;
  importAllowedCidrs: string[];
  uploadMaxBytes: number;
  uploadUrlTtlSeconds: number;
  publicUrl: string | null;
  blob: {
    url: string | null;
    s3Endpoint: string | null;
    s3Region: string | null;
    s3AccessKeyId: string | null;
    s3SecretAccessKey: string | null;
    s3ForcePathStyle: boolean | null;
  };
  previewLimit: number;
  /** Each plan's ceilings (CAPYDB_PLANS over the built-in plans): tenants set their projects' settings within them. */
  plans: PlanTable;
  /** Connection slots of each cluster that tenants' limits may not be promised, beyond the superuser-reserved ones. */
  clusterConnectionReserve: number;
  snapshotMaxAgeSeconds: number;
  previewCloneStrategy: "file_copy" | "wal_log" | "logical";
  /** Keep one clone of each project's snapshot ready, so creates and resets take it by a rename. */
  previewSpares: boolean;
  /** Refresh snapshots in use shortly before they reach their maximum age. */
  snapshotRefreshAhead: boolean;
  schedulerIntervalMs: number;
  /**
   * Where projects get their databases: "instances" (a PostgreSQL instance of the
   * platform's per project and per preview, copies by reflink) or "shared" (databases
   * in the registered cluster, copies by CREATE DATABASE / dump and restore: for a cluster the
   * platform cannot run processes on, such as a managed server registered by URL).
   */
  dataPlaneEngine: "instances" | "shared";
  instances: {
    /** Root of the instance host: data directories, snapshots, template (a reflink filesystem for thin clones). */
    dir: string;
    /** TCP ports the instances listen on (127.0.0.1), first to last. */
    portFirst: number;
    portLast: number;
    /** Most instances this host runs at once (production and previews); creating past it answers 409. */
    max: number;
    /** shared_buffers of each instance, in MB: its memory budget's largest part. */
    sharedBuffersMb: number;
    /** How much WAL a preview's origin slot may hold back on production (max_slot_wal_keep_size), in MB. */
    originSlotWalKeepMb: number;
    /** How long making a preview's origin slot may wait for production's open transactions, in seconds; past it the snapshot has no origin. */
    originSlotTimeoutSeconds: number;
    /** A data cutover's write pause waits at most this for the transactions running through the pool to end (else it lets them go and the job tries again). */
    cutoverPauseWaitMs: number;
  };
  /** Failure injection points (CAPYDB_FAULTS), for tests and drills. */
  faults: string | null;
  runScheduler: boolean;
}

export class ConfigError extends Error {}

function engine(env: NodeJS.ProcessEnv): Config["dataPlaneEngine"] {
  const raw = str(env, "CAPYDB_DATA_PLANE_ENGINE") ?? "instances";
  if (raw !== "instances" && raw !== "shared") throw new ConfigError(`CAPYDB_DATA_PLANE_ENGINE must be "instances" or "shared", got "${raw}"`);
  return raw;
}

function instanceSettings(env: NodeJS.ProcessEnv, dataDir: string): Config["instances"] {
  const ports = str(env, "CAPYDB_INSTANCE_PORTS") ?? "55000-55999";
  const m = /^(\d+)-(\d+)$/.exec(ports);
  const [first, last] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!(first >= 1024 && last <= 65535 && first <= last))
    throw new ConfigError(`CAPYDB_INSTANCE_PORTS must be a range FIRST-LAST within 1024-65535, got "${ports}"`);
  return {
    dir: path.resolve(str(env, "CAPYDB_INSTANCES_DIR") ?? path.join(dataDir, "instances")),
    portFirst: first,
    portLast: last,
    max: int(env, "CAPYDB_INSTANCE_MAX", 100, 1, 10_000),
    sharedBuffersMb: int(env, "CAPYDB_INSTANCE_SHARED_BUFFERS_MB", 16, 1, 1_048_576),
    originSlotWalKeepMb: int(env, "CAPYDB_ORIGIN_SLOT_WAL_KEEP_MB", 1024, 16, 10_485_760),
    originSlotTimeoutSeconds: int(env, "CAPYDB_ORIGIN_SLOT_TIMEOUT_SECONDS", 30, 1, 3600),
    cutoverPauseWaitMs: int(env, "CAPYDB_CUTOVER_PAUSE_WAIT_MS", 5000, 100, 600_000),
  };
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  return n;
}

function str(env: NodeJS.ProcessEnv, name: string): string | null {
  const v = env[name];
  return v === undefined || v === "" ? null : v;
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const v = str(env, name);
  if (v === null) return fallback;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(`${name} must be true or false, got "${v}"`);
}

function list(env: NodeJS.ProcessEnv, name: string, fallback: string[]): string[] {
  const v = str(env, name);
  if (v === null) return fallback;
  return v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** An http(s) URL setting without its trailing slashes, or null when unset. */
function httpUrl(env: NodeJS.ProcessEnv, name: string): string | null {
  const v = str(env, name);
  if (v === null) return null;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got "${v}"`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new ConfigError(`${name} must be an http(s) URL, got "${v}"`);
  return v.replace(/\/+$/, "");
}

function cloneStrategy(v: string): Config["previewCloneStrategy"] {
  if (v === "file_copy" || v === "wal_log" || v === "logical") return v;
  throw new ConfigError(`CAPYDB_PREVIEW_CLONE_STRATEGY must be file_copy, wal_log or logical, got "${v}"`);
}

/** Both files or neither; each readable; a certificate and the key that goes with it. */
function tlsSettings(env: NodeJS.ProcessEnv): Config["tls"] {
  const certFile = str(env, "CAPYDB_TLS_CERT_FILE");
  const keyFile = str(env, "CAPYDB_TLS_KEY_FILE");
  if (!certFile && !keyFile) return null;
  if (!certFile || !keyFile) {
    throw new ConfigError(
      `CAPYDB_TLS_CERT_FILE and CAPYDB_TLS_KEY_FILE go together: set both (HTTPS) or neither (HTTP); only ${certFile ? "CAPYDB_TLS_CERT_FILE" : "CAPYDB_TLS_KEY_FILE"} is set`,
    );
  }
  const read = (name: string, file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new ConfigError(`${name}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const cert = read("CAPYDB_TLS_CERT_FILE", certFile);
  const key = read("CAPYDB_TLS_KEY_FILE", keyFile);
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    // OpenSSL's reason only (e.g. "key values mismatch"): never the key's bytes.
    const reason = ((err as Error).message || "invalid").split("\n")[0];
    throw new ConfigError(`CAPYDB_TLS_CERT_FILE / CAPYDB_TLS_KEY_FILE: not a PEM certificate and its private key (${certFile}, ${keyFile}): ${reason}`);
  }
  return { cert, key };
}

function runtimeOverrides(env: NodeJS.ProcessEnv): Record<string, number> {
  try {
    return parseMaxRuntimeOverrides(str(env, "CAPYDB_JOB_MAX_RUNTIME") ?? "");
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

function plans(env: NodeJS.ProcessEnv, previewLimit: number): PlanTable {
  try {
    return loadPlans(str(env, "CAPYDB_PLANS"), previewLimit);
  } catch (err) {
    if (err instanceof PlanConfigError) throw new ConfigError(err.message);
    throw err;
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const bootstrap = str(env, "CAPYDB_BOOTSTRAP_API_KEY");
  if (bootstrap && !isWellFormedApiKey(bootstrap)) {
    throw new ConfigError("CAPYDB_BOOTSTRAP_API_KEY must look like capy_live_ followed by at least 32 characters of [A-Za-z0-9_-]");
  }
  const dataDir = path.resolve(str(env, "CAPYDB_DATA_DIR") ?? "./.capydb");
  const providerReleaseDir = str(env, "CAPYDB_PROVIDER_RELEASE_DIR");
  // A running job can hold a control-plane connection while it waits for a lock (a
  // snapshot refresh, say) and need another to go on; API requests need their own.
  const poolSize = int(env, "CAPYDB_DATABASE_POOL_SIZE", 32, 2, 1000);
  const concurrency = int(env, "CAPYDB_WORKER_CONCURRENCY", 4, 0, 256);
  if (poolSize < 2 * concurrency + 4) {
    throw new ConfigError(
      `CAPYDB_DATABASE_POOL_SIZE must be at least 2 × CAPYDB_WORKER_CONCURRENCY + 4 (${2 * concurrency + 4} for ${concurrency} jobs at once; it is ${poolSize}): ` +
        "a job may hold one control-plane connection while it waits for a lock and need a second to go on, and API requests need their own",
    );
  }
  return {
    host: str(env, "CAPYDB_HOST") ?? "127.0.0.1",
    port: int(env, "CAPYDB_PORT", 8080, 0, 65535),
    tls: tlsSettings(env),
    providerReleaseDir: providerReleaseDir === null ? null : path.resolve(providerReleaseDir),
    dataDir,
    databaseUrl: str(env, "CAPYDB_DATABASE_URL"),
    databaseWaitSeconds: int(env, "CAPYDB_DATABASE_WAIT_SECONDS", 60, 0, 3600),
    databasePoolSize: poolSize,
    clusterAdminUrl: str(env, "CAPYDB_CLUSTER_ADMIN_URL"),
    pgbouncerEnabled: bool(env, "CAPYDB_PGBOUNCER", true),
    pgBinDir: str(env, "CAPYDB_PG_BIN_DIR"),
    pgPort: int(env, "CAPYDB_PG_PORT", 54329, 1, 65535),
    pgbouncerPort: int(env, "CAPYDB_PGBOUNCER_PORT", 54330, 0, 65535),
    pgbouncerBin: str(env, "CAPYDB_PGBOUNCER_BIN"),
    publicHost: str(env, "CAPYDB_PUBLIC_HOST") ?? "127.0.0.1",
    bootstrapApiKey: bootstrap,
    secretKey: str(env, "CAPYDB_SECRET_KEY"),
    defaultRegion: str(env, "CAPYDB_DEFAULT_REGION") ?? "local",
    logLevel: str(env, "CAPYDB_LOG_LEVEL") ?? "info",
    bodyLimitBytes: int(env, "CAPYDB_BODY_LIMIT_BYTES", 1024 * 1024, 1024),
    apiKeyCacheSeconds: int(env, "CAPYDB_API_KEY_CACHE_SECONDS", 5, 0, 300),
    metricsRefreshSeconds: int(env, "CAPYDB_METRICS_REFRESH_SECONDS", 5, 1, 3600),
    workerConcurrency: concurrency,
    jobLeaseSeconds: int(env, "CAPYDB_JOB_LEASE_SECONDS", 30, 1, 3600),
    jobRetryBaseMs: int(env, "CAPYDB_JOB_RETRY_BASE_MS", 1000, 0, 3_600_000),
    jobMaxAttempts: int(env, "CAPYDB_JOB_MAX_ATTEMPTS", 5, 1, 100),
    jobMaxRuntimeSeconds: int(env, "CAPYDB_JOB_MAX_RUNTIME_SECONDS", DEFAULT_JOB_MAX_RUNTIME_SECONDS, 1, MAX_JOB_MAX_RUNTIME_SECONDS),
    jobMaxRuntimeByType: runtimeOverrides(env),
    jobMaxRunningPerOrganization: int(env, "CAPYDB_JOB_MAX_RUNNING_PER_ORG", DEFAULT_JOB_MAX_RUNNING_PER_ORGANIZATION, 1, 10_000),
    shutdownGraceSeconds: int(env, "CAPYDB_SHUTDOWN_GRACE_SECONDS", 8, 0, 3600),
    restoreJobs: int(env, "CAPYDB_RESTORE_JOBS", 2, 1, 64),
    schemaDiffBigTableBytes: int(env, "CAPYDB_SCHEMA_DIFF_BIG_TABLE_MB", 100, 0, 10_000_000) * 2 ** 20,
    schemaCutoverLockTimeoutMs: int(env, "CAPYDB_SCHEMA_CUTOVER_LOCK_TIMEOUT_MS", 2000, 10, 600_000),
    schemaCutoverAttempts: int(env, "CAPYDB_SCHEMA_CUTOVER_ATTEMPTS", 5, 1, 100),
    toolLockWaitSeconds: int(env, "CAPYDB_TOOL_LOCK_WAIT_SECONDS", 60, 1, 86_400),
    extensionAllowlist: list(env, "CAPYDB_EXTENSION_ALLOWLIST", ["pg_stat_statements", "postgis", "vector", "pg_partman"]),
    clerk: {
      jwksUrl: str(env, "CAPYDB_CLERK_JWKS_URL"),
      publicKeyPem: str(env, "CAPYDB_CLERK_PUBLIC_KEY")?.replace(/\\n/g, "\n") ?? null,
      issuer: str(env, "CAPYDB_CLERK_ISSUER"),
      authorizedParties: list(env, "CAPYDB_CLERK_AUTHORIZED_PARTIES", []),
    },
    githubOidc: {
      issuer: httpUrl(env, "CAPYDB_GITHUB_OIDC_ISSUER") ?? "https://token.actions.githubusercontent.com",
      jwksUrl: httpUrl(env, "CAPYDB_GITHUB_OIDC_JWKS_URL"),
      jwksCacheSeconds: int(env, "CAPYDB_GITHUB_OIDC_JWKS_CACHE_SECONDS", 600, 0, 86_400),
      audience: str(env, "CAPYDB_GITHUB_OIDC_AUDIENCE"),
      tokenTtlSeconds: int(env, "CAPYDB_OIDC_TOKEN_TTL_SECONDS", 3600, 60, 86_400),
    },
    runWorkers: bool(env, "CAPYDB_RUN_WORKERS", true),
    cutoverRollbackWindowSeconds: int(env, "CAPYDB_CUTOVER_ROLLBACK_WINDOW_SECONDS", 24 * 3600, 0),
    importAllowedCidrs: list(env, "CAPYDB_IMPORT_ALLOWED_CIDRS", []),
    uploadMaxBytes: int(env, "CAPYDB_UPLOAD_MAX_BYTES", 10 * 1024 ** 3, 1024),
    uploadUrlTtlSeconds: int(env, "CAPYDB_UPLOAD_URL_TTL_SECONDS", 3600, 1, 7 * 24 * 3600),
    publicUrl: str(env, "CAPYDB_PUBLIC_URL")?.replace(/\/+$/, "") ?? null,
    blob: {
      url: str(env, "CAPYDB_BLOB_URL"),
      s3Endpoint: str(env, "CAPYDB_S3_ENDPOINT"),
      s3Region: str(env, "CAPYDB_S3_REGION"),
      s3AccessKeyId: str(env, "CAPYDB_S3_ACCESS_KEY_ID"),
      s3SecretAccessKey: str(env, "CAPYDB_S3_SECRET_ACCESS_KEY"),
      s3ForcePathStyle: str(env, "CAPYDB_S3_FORCE_PATH_STYLE") === null ? null : bool(env, "CAPYDB_S3_FORCE_PATH_STYLE", true),
    },
    previewLimit: int(env, "CAPYDB_PREVIEW_LIMIT", 20, 1, 10000),
    plans: plans(env, int(env, "CAPYDB_PREVIEW_LIMIT", 20, 1, 10000)),
    clusterConnectionReserve: int(env, "CAPYDB_CLUSTER_CONNECTION_RESERVE", 40, 0, 100_000),
    snapshotMaxAgeSeconds: int(env, "CAPYDB_SNAPSHOT_MAX_AGE_SECONDS", 3600, 0),
    previewCloneStrategy: cloneStrategy(str(env, "CAPYDB_PREVIEW_CLONE_STRATEGY") ?? "file_copy"),
    previewSpares: bool(env, "CAPYDB_PREVIEW_SPARES", true),
    snapshotRefreshAhead: bool(env, "CAPYDB_SNAPSHOT_REFRESH_AHEAD", true),
    schedulerIntervalMs: int(env, "CAPYDB_SCHEDULER_INTERVAL_MS", 10_000, 50),
    dataPlaneEngine: engine(env),
    instances: instanceSettings(env, dataDir),
    faults: str(env, "CAPYDB_FAULTS"),
    runScheduler: bool(env, "CAPYDB_RUN_SCHEDULER", true),
  };
}
