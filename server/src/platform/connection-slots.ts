// Admission control for connection slots. Every live tenant role on a cluster (each
// project's, each preview's) has a connection limit; their sum may not pass what the
// cluster has for tenants — max_connections less the slots only superusers may take
// (superuser_reserved_connections, reserved_connections) and the platform's own reserve —
// so a tenant at its limit never takes a slot another tenant was promised.
//
// The promises are the control plane's own records (one control plane per cluster; the
// test harness runs many on one cluster, each with its own records).
import type pg from "pg";
import type { Queryable } from "./store/db.js";

export interface ClusterSlots {
  maxConnections: number;
  superuserReserved: number;
  /** reserved_connections (PostgreSQL 16+): slots for pg_use_reserved_connections, never a tenant. */
  reserved: number;
  platformReserve: number;
  /** What tenant roles' connection limits may add up to. */
  forTenants: number;
}

type Settings = Omit<ClusterSlots, "platformReserve" | "forTenants">;

// max_connections and the reserves change only with a restart of the cluster.
const FRESH_MS = 60_000;
const known = new Map<string, { settings: Settings; at: number }>();

async function readSettings(admin: pg.Pool): Promise<Settings> {
  const { rows } = await admin.query<{ max: number; su: number; reserved: number | null }>(
    `SELECT pg_catalog.current_setting('max_connections')::int AS max,
            pg_catalog.current_setting('superuser_reserved_connections')::int AS su,
            pg_catalog.current_setting('reserved_connections', true)::int AS reserved`,
  );
  return { maxConnections: rows[0].max, superuserReserved: rows[0].su, reserved: rows[0].reserved ?? 0 };
}

/**
 * The cluster's slots, read with its admin pool (remembered a minute). When the cluster
 * cannot be reached, the last reading stands; with none, the error goes to the caller.
 */
export async function clusterSlots(admin: pg.Pool, clusterId: string, platformReserve: number): Promise<ClusterSlots> {
  const hit = known.get(clusterId);
  let settings = hit && Date.now() - hit.at < FRESH_MS ? hit.settings : null;
  if (!settings) {
    try {
      settings = await readSettings(admin);
      known.set(clusterId, { settings, at: Date.now() });
    } catch (err) {
      if (!hit) throw err;
      settings = hit.settings;
    }
  }
  const forTenants = Math.max(0, settings.maxConnections - settings.superuserReserved - settings.reserved - platformReserve);
  return { ...settings, platformReserve, forTenants };
}

/** Serialises admissions on one cluster until the caller's transaction ends (control plane). */
export async function lockClusterSlots(tx: Queryable, clusterId: string): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtext('capydb:cluster-slots:' || $1))", [clusterId]);
}

/**
 * Connection limits promised to the live roles of a cluster: projects from provisioning
 * until their role is dropped, previews likewise (a preview made before its own limit
 * was recorded got its project's).
 */
export async function promisedConnections(tx: Queryable, clusterId: string, exceptProjectId: string | null = null): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    `SELECT
       coalesce((SELECT sum(max_connections) FROM projects
                 WHERE cluster_id = $1 AND state IN ('provisioning', 'ready', 'deleting') AND id IS DISTINCT FROM $2), 0)
     + coalesce((SELECT sum(coalesce(v.max_connections, p.max_connections)) FROM preview_databases v JOIN projects p ON p.id = v.project_id
                 WHERE v.cluster_id = $1 AND v.state IN ('creating', 'ready', 'resetting', 'deleting')), 0) AS n`,
    [clusterId, exceptProjectId],
  );
  return Number(rows[0].n);
}

/**
 * Why `asked` more connections do not fit on the cluster, or null when they do. Call it
 * with the cluster's slots locked (lockClusterSlots) in the transaction that records them.
 */
export async function noRoomFor(
  tx: Queryable,
  slots: ClusterSlots,
  clusterId: string,
  asked: number,
  exceptProjectId: string | null = null,
): Promise<string | null> {
  const promised = await promisedConnections(tx, clusterId, exceptProjectId);
  if (promised + asked <= slots.forTenants) return null;
  const left = Math.max(0, slots.forTenants - promised);
  return (
    `the cluster has ${slots.forTenants} connection slots for tenants (max_connections ${slots.maxConnections} less ` +
    `${slots.superuserReserved + slots.reserved} reserved for superusers and ${slots.platformReserve} kept for the platform), ` +
    `${promised} are promised to projects and previews and ${left} left: ${asked} do not fit`
  );
}
