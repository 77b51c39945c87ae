// Keeps each cluster's PgBouncer in step with the databases that live on it.
// Resource modules (projects, previews) register where their databases are
// listed; a sync reads the whole truth from the control plane, so it is
// idempotent and any server process may run it.
import type { Db } from "../store/db.js";
import type { ClusterAdmin } from "./clusters.js";
import type { OsUser } from "./pg-binaries.js";
import type { PgBouncerPooler, PoolerEntry } from "./pooler.js";

export type DatabaseSource = (db: Db, clusterId: string) => Promise<Array<{ database: string; role: string }>>;

export class PoolerSync {
  private sources: DatabaseSource[] = [];
  private poolers = new Map<string, { pooler: PgBouncerPooler; owner: OsUser | null }>();

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

  /** Rewrites the cluster's PgBouncer databases and users and reloads it. No-op without a pooler. */
  async sync(clusterId: string): Promise<void> {
    const entry = this.poolers.get(clusterId);
    if (!entry) return;
    const client = await this.db.connect();
    try {
      // One writer at a time per cluster across all server processes.
      await client.query("SELECT pg_advisory_lock(hashtext('capydb:pooler:' || $1))", [clusterId]);
      const targets = (await Promise.all(this.sources.map((source) => source(this.db, clusterId)))).flat();
      const admin = await this.clusters.pool(clusterId);
      const { rows } = await admin.query<{ rolname: string; rolpassword: string }>(
        "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1::text[]) AND rolpassword LIKE 'SCRAM-SHA-256$%'",
        [targets.map((t) => t.role)],
      );
      const secrets = new Map(rows.map((r) => [r.rolname, r.rolpassword]));
      const entries: PoolerEntry[] = targets
        .filter((t) => secrets.has(t.role))
        .map((t) => ({ database: t.database, role: t.role, secret: secrets.get(t.role)! }));
      entry.pooler.writeConfig(entries, entry.owner);
      await entry.pooler.reload();
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext('capydb:pooler:' || $1))", [clusterId]).catch(() => {});
      client.release();
    }
  }

  /** Drops PgBouncer's server connections to a database (before DROP/rename). */
  async kill(clusterId: string, database: string): Promise<void> {
    await this.poolers.get(clusterId)?.pooler.kill(database);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.poolers.values()].map((p) => p.pooler.stop()));
  }
}
