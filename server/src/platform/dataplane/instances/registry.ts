// The instances table and each instance's clusters row: the control plane's record of
// the instance engine's PostgreSQL instances (one writer for both).
import net from "node:net";
import type { Queryable } from "../../store/db.js";
import { newId, type SecretBox } from "../../secrets.js";
import type { ClusterRow } from "../clusters.js";

export interface InstanceRow {
  cluster_id: string;
  name: string;
  host_cluster_id: string;
  project_id: string;
  /** verify: a throwaway instance a backup's verification restores into. */
  purpose: "production" | "preview" | "build" | "verify";
  port: number;
  max_connections: number;
  shared_buffers_mb: number;
  state: "active" | "deleted";
  /** Holds data kept for a rollback: not started again at start-up. */
  keep_stopped: boolean;
  /** A build instance (a restore's or an import's new data): the job that made it, and the data directory it was made in. */
  built_by_job_id: string | null;
  built_dir: string | null;
  created_at: Date;
}

export class InstanceLimitError extends Error {}

/** Whether something can listen on 127.0.0.1:port right now (nothing else holds it). */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export interface InstanceRequest {
  projectId: string;
  purpose: InstanceRow["purpose"];
  /** The cluster of the host that runs it (the server's default cluster). */
  hostCluster: ClusterRow;
  portFirst: number;
  portLast: number;
  max: number;
  maxConnections: number;
  sharedBuffersMb: number;
  /** The platform superuser's URL for a port (InstanceHost.adminUrl). */
  adminUrl: (port: number) => string;
  /** For a build instance: the job that makes it. */
  builtByJobId?: string;
}

/**
 * Records a new instance: a free port of the range, its clusters row (sealed admin URL,
 * the host's public address and PgBouncer port) and its instances row. Nothing runs yet:
 * the job that provisions it makes and starts the data directory. In the caller's
 * transaction; instances are numbered and counted under one lock, so two creates never
 * take one port or both take the last place.
 */
export async function allocateInstance(tx: Queryable, box: SecretBox, req: InstanceRequest): Promise<InstanceRow> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtext('capydb:instances'))");
  const { rows: counted } = await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM instances WHERE state = 'active'");
  if (counted[0].n >= req.max) {
    throw new InstanceLimitError(
      `this host runs its maximum of ${req.max} PostgreSQL instances (CAPYDB_INSTANCE_MAX): delete a preview or a project, or raise the limit`,
    );
  }
  const { rows: free } = await tx.query<{ port: number }>(
    `SELECT p AS port FROM generate_series($1::int, $2::int) p
      WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.port = p AND i.state = 'active') ORDER BY p LIMIT 64`,
    [req.portFirst, req.portLast],
  );
  // a port no instance has may still be another program's (the range is shared with the machine)
  let port = 0;
  for (const candidate of free) {
    if (await canListen(candidate.port)) {
      port = candidate.port;
      break;
    }
  }
  if (!port) throw new InstanceLimitError(`no port of CAPYDB_INSTANCE_PORTS (${req.portFirst}-${req.portLast}) is free`);
  const id = newId("cl");
  const name = `i_${id.replace(/^cl_/, "").toLowerCase()}`;
  await tx.query(
    `INSERT INTO clusters (id, name, region, admin_url_sealed, public_host, direct_port, pooled_port, ssl_mode, is_default, engine)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, 'instance')`,
    [
      id,
      `instance-${name}`,
      req.hostCluster.region,
      box.seal(req.adminUrl(port)),
      req.hostCluster.public_host,
      port,
      req.hostCluster.pooled_port,
      req.hostCluster.ssl_mode,
    ],
  );
  const { rows } = await tx.query<InstanceRow>(
    `INSERT INTO instances (cluster_id, name, host_cluster_id, project_id, purpose, port, max_connections, shared_buffers_mb, built_by_job_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
    [id, name, req.hostCluster.id, req.projectId, req.purpose, port, req.maxConnections, req.sharedBuffersMb, req.builtByJobId ?? null],
  );
  return rows[0];
}

export async function loadInstance(db: Queryable, clusterId: string): Promise<InstanceRow | null> {
  return (await db.query<InstanceRow>("SELECT * FROM instances WHERE cluster_id = $1", [clusterId])).rows[0] ?? null;
}

/** The active build (or verify) instance a job made (null: none, or it is gone). */
export async function buildOfJob(db: Queryable, jobId: string, purpose: "build" | "verify" = "build"): Promise<InstanceRow | null> {
  const { rows } = await db.query<InstanceRow>(
    "SELECT * FROM instances WHERE built_by_job_id = $1 AND purpose = $2 AND state = 'active' ORDER BY created_at DESC LIMIT 1",
    [jobId, purpose],
  );
  return rows[0] ?? null;
}

/** Records the data directory a build instance was made in. */
export async function recordBuiltDir(db: Queryable, clusterId: string, dir: string): Promise<void> {
  await db.query("UPDATE instances SET built_dir = $2 WHERE cluster_id = $1", [clusterId, dir]);
}

/** Every instance that should exist (and run) on the host. */
export async function activeInstances(db: Queryable, hostClusterId: string): Promise<InstanceRow[]> {
  return (await db.query<InstanceRow>("SELECT * FROM instances WHERE host_cluster_id = $1 AND state = 'active' ORDER BY created_at", [hostClusterId])).rows;
}

/** The instance is gone: its port is free again. */
export async function retireInstance(db: Queryable, clusterId: string): Promise<void> {
  await db.query("UPDATE instances SET state = 'deleted', deleted_at = now() WHERE cluster_id = $1 AND state = 'active'", [clusterId]);
}

/** Marks an instance as one that stays stopped (it holds data kept for a rollback), or not. */
export async function setKeepStopped(db: Queryable, clusterId: string, keepStopped: boolean): Promise<void> {
  await db.query("UPDATE instances SET keep_stopped = $2 WHERE cluster_id = $1", [clusterId, keepStopped]);
}

/** Whether a cluster is an instance of the engine (else a shared cluster). */
export async function isInstanceCluster(db: Queryable, clusterId: string): Promise<boolean> {
  return Boolean((await db.query("SELECT 1 FROM clusters WHERE id = $1 AND engine = 'instance'", [clusterId])).rowCount);
}
