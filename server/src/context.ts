// What every resource module is given: the platform services, built once in server.ts.
import type { Config } from "./config.js";
import type { Db } from "./platform/store/db.js";
import type { SecretBox } from "./platform/secrets.js";
import type { ClusterAdmin } from "./platform/dataplane/clusters.js";
import type { PoolerSync } from "./platform/dataplane/pooler-sync.js";
import type { Logger } from "./platform/jobs/worker.js";
import type { Faults } from "./platform/faults.js";
import type { BlobStore } from "./platform/blobs/store.js";
import type { NetGuard } from "./platform/netguard.js";
import type { ApiKeyCache } from "./http/auth.js";
import type { Lifecycle } from "./platform/lifecycle.js";
import type { InstanceEngine } from "./platform/dataplane/instances/engine.js";

export interface AppContext {
  config: Config;
  db: Db;
  box: SecretBox;
  clusters: ClusterAdmin;
  pooler: PoolerSync;
  /** The instance engine (CAPYDB_DATA_PLANE_ENGINE=instances): new projects and their previews get instances of their own. Null: shared only. */
  instances: InstanceEngine | null;
  /** Hooks between resources: a project deleted, production's data replaced, databases expected. */
  lifecycle: Lifecycle;
  log: Logger;
  /** Whether PgBouncer is installed and running in front of the clusters. */
  pgbouncerAvailable: boolean;
  faults: Faults;
  blobs: BlobStore;
  netguard: NetGuard;
  /** Recently seen valid API keys (a revoke evicts here). */
  apiKeyCache: ApiKeyCache;
  /** The API's public base URL (signed upload URLs point here); known once listening. */
  publicUrl: string;
}
