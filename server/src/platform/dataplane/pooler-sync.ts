// Keeps each cluster's PgBouncer in step with the databases that live on it.
// Resource modules (projects, previews) register where their databases are
// listed; a sync reads the whole truth from the control plane, so it is
// idempotent and any server process may run it. The instances of a host have no
// PgBouncer of their own: the one of their host's cluster routes their databases.
import type { Db } from "../store/db.js";
import type { ClusterAdmin } from "./clusters.js";
import type { OsUser } from "./pg-binaries.js";
import type { PgBouncerPooler, PoolerEntry } from "./pooler.js";
import { activeInstances, loadInstance } from "./instances/registry.js";

export type DatabaseSource = (db: Db, clusterId: string) => Promise<Array<{ database: string; role: string }>>;

export class PoolerSync {
  private sources: DatabaseSource[] = [];
  private poolers = new Map<string, { pooler: PgBouncerPooler; owner: OsUser | null }>();
  /** The SCRAM secrets last read from each instance, by role. */
  private instanceSecrets = new Map<string, Map<string, string>>();

  constructor(
    private readonly db: Db,
    private readonly clusters: ClusterAdmin,
  ) {}

  addSource(source: DatabaseSource): void {
    this.sources.push(source);
  }

  attach(clusterId: string, pooler: PgBouncerPooler, owner: OsUser | null): void {
    this.poolers.set(clusterId, { pooler, owner });
  }

  has(clusterId: string): boolean {
    return this.poolers.has(clusterId);
  }

  /** The pooler that routes a cluster's databases (an instance's is its host's), with the cluster it is attached to. */
  private async poolerOf(clusterId: string): Promise<{ clusterId: string; pooler: PgBouncerPooler; owner: OsUser | null } | null> {
    const own = this.poolers.get(clusterId);
    if (own) return { clusterId, ...own };
    const instance = await loadInstance(this.db, clusterId);
    const host = instance && this.poolers.get(instance.host_cluster_id);
    return host ? { clusterId: instance.host_cluster_id, ...host } : null;
  }

  /**
   * Rewrites the PgBouncer that routes the cluster's databases (its own, or its host's for
   * an instance) and reloads it: the databases of the pooler's cluster and of every active
   * instance of that host. No-op without a pooler.
   */
  async sync(clusterId: string): Promise<void> {
    const entry = await this.poolerOf(clusterId);
    if (!entry) return;
    const client = await this.db.connect();
    try {
      // One writer at a time per pooler across all server processes.
      await client.query("SELECT pg_advisory_lock(hashtext('capydb:pooler:' || $1))", [entry.clusterId]);
      const entries = await this.withSecrets(entry.clusterId, await this.targetsOf(entry.clusterId));
      const live = await activeInstances(this.db, entry.clusterId);
      const instances = await Promise.all(
        live.map(async (instance) => {
          const targets = await this.targetsOf(instance.cluster_id);
          if (!targets.length) return [];
          const { host, port } = await this.clusters.tenantAddress(instance.cluster_id);
          // The roles' secrets of the instance the sync is for are read again; the others' come
          // from what this process read last (every change of a role's password on an
          // instance is followed by a sync of that instance), so a sync costs one instance's
          // query, not one per instance of the host.
          const cached = this.instanceSecrets.get(instance.cluster_id);
          if (instance.cluster_id !== clusterId && cached && targets.every((t) => cached.has(t.role))) {
            return targets.filter((t) => cached.has(t.role)).map((t) => ({ ...t, secret: cached.get(t.role)!, host, port }));
          }
          // a stopped instance: its databases are left out until a sync once it runs again
          const reached = await this.withSecrets(instance.cluster_id, targets).catch(() => []);
          this.instanceSecrets.set(instance.cluster_id, new Map(reached.map((e) => [e.role, e.secret])));
          return reached.map((e) => ({ ...e, host, port }));
        }),
      );
      entries.push(...instances.flat());
      const active = new Set(live.map((i) => i.cluster_id));
      for (const id of this.instanceSecrets.keys()) if (!active.has(id)) this.instanceSecrets.delete(id);
      entry.pooler.writeConfig(entries, entry.owner);
      await entry.pooler.reload();
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext('capydb:pooler:' || $1))", [entry.clusterId]).catch(() => {});
      client.release();
    }
  }

  /** The sources' databases on one cluster. */
  private async targetsOf(clusterId: string): Promise<Array<{ database: string; role: string }>> {
    return (await Promise.all(this.sources.map((source) => source(this.db, clusterId)))).flat();
  }

  /** The targets whose roles have a SCRAM secret on the cluster (read with its admin pool), with it. */
  private async withSecrets(clusterId: string, targets: Array<{ database: string; role: string }>): Promise<PoolerEntry[]> {
    const admin = await this.clusters.pool(clusterId);
    const { rows } = await admin.query<{ rolname: string; rolpassword: string }>(
      "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1::text[]) AND rolpassword LIKE 'SCRAM-SHA-256$%'",
      [targets.map((t) => t.role)],
    );
    const secrets = new Map(rows.map((r) => [r.rolname, r.rolpassword]));
    return targets.filter((t) => secrets.has(t.role)).map((t) => ({ database: t.database, role: t.role, secret: secrets.get(t.role)! }));
  }

  /** Drops PgBouncer's server connections to a database (before DROP/rename). */
  async kill(clusterId: string, database: string): Promise<void> {
    await (await this.poolerOf(clusterId))?.pooler.kill(database);
  }

  /** Holds the database's pooled clients (no error, only a wait) until resume; bounded by timeoutMs. */
  async pause(clusterId: string, database: string, timeoutMs: number): Promise<void> {
    await (await this.poolerOf(clusterId))?.pooler.pause(database, timeoutMs);
  }

  /** The admin console of the pooler that routes the cluster's databases (null: none). */
  async adminEndpoint(clusterId: string): Promise<{ host: string; port: number; user: string; password: string } | null> {
    return (await this.poolerOf(clusterId))?.pooler.adminEndpoint() ?? null;
  }

  async resume(clusterId: string, database: string): Promise<void> {
    await (await this.poolerOf(clusterId))?.pooler.resume(database);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.poolers.values()].map((p) => p.pooler.stop()));
  }
}
