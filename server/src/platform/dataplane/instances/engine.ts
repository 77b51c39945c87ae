// The instance engine: the control plane's side of the instance host. Resources ask it
// for an instance (a clusters row of its own, allocated in their transaction), to make
// and start it, to snapshot a project's production, to clone a preview from that
// snapshot, and to remove an instance. Everything else they do through the instance's
// cluster id, as on a shared cluster.
import type { Db, Queryable } from "../../store/db.js";
import type { SecretBox } from "../../secrets.js";
import type { ClusterAdmin, ClusterRow } from "../clusters.js";
import { hardenCluster } from "../provision.js";
import { hideOtherSessions } from "../privileged.js";
import { InstanceHost, type InstanceSettings, type SnapshotResult } from "./host.js";
import { activeInstances, allocateInstance, buildOfJob, loadInstance, recordBuiltDir, retireInstance, setKeepStopped, type InstanceRow } from "./registry.js";

export interface InstanceEngineConfig {
  portFirst: number;
  portLast: number;
  max: number;
  sharedBuffersMb: number;
}

export class InstanceEngine {
  constructor(
    readonly host: InstanceHost,
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly clusters: ClusterAdmin,
    /** The server's own cluster: its region and address are the instances', its PgBouncer routes them. */
    readonly hostCluster: ClusterRow,
    private readonly config: InstanceEngineConfig,
    private readonly log: (msg: string) => void = () => {},
  ) {}

  /** Records a new instance (port, clusters row) in the caller's transaction; 409-worthy InstanceLimitError when the host is full. */
  allocate(tx: Queryable, projectId: string, purpose: InstanceRow["purpose"], maxConnections: number, builtByJobId?: string): Promise<InstanceRow> {
    return allocateInstance(tx, this.box, {
      builtByJobId,
      projectId,
      purpose,
      hostCluster: this.hostCluster,
      portFirst: this.config.portFirst,
      portLast: this.config.portLast,
      max: this.config.max,
      maxConnections,
      sharedBuffersMb: this.config.sharedBuffersMb,
      adminUrl: (port) => this.host.adminUrl(port),
    });
  }

  /** The instance behind a cluster id, or null for a shared cluster. */
  instanceOf(clusterId: string): Promise<InstanceRow | null> {
    return loadInstance(this.db, clusterId);
  }

  /** The build (or verify) instance a job made and has not removed yet. */
  buildOf(jobId: string, purpose: "build" | "verify" = "build"): Promise<InstanceRow | null> {
    return buildOfJob(this.db, jobId, purpose);
  }

  /** Records the data directory a build instance was made in (its link's target now). */
  async recordBuiltDir(row: InstanceRow): Promise<string> {
    const dir = this.host.dataTarget(row.name);
    if (!dir) throw new Error(`instance ${row.name} has no data directory`);
    await recordBuiltDir(this.db, row.cluster_id, dir);
    return dir;
  }

  settingsOf(row: InstanceRow): InstanceSettings {
    return { port: row.port, maxConnections: row.max_connections, sharedBuffersMb: row.shared_buffers_mb, throwaway: row.purpose === "verify" };
  }

  /**
   * Makes the instance from the template when it does not exist yet, starts it, and takes
   * CONNECT on its own databases and other sessions' activity from PUBLIC. Idempotent: a
   * retried job finishes the work.
   */
  async ensureFromTemplate(row: InstanceRow): Promise<void> {
    if (!this.host.exists(row.name)) await this.host.create(row.name, this.settingsOf(row));
    await this.host.start(row.name);
    await hardenCluster(await this.clusters.pool(row.cluster_id));
    await hideOtherSessions(this.clusters, row.cluster_id, "template1");
  }

  /** Snapshots a project's production instance (replacing its snapshot of that name). */
  snapshot(production: InstanceRow, snapshotName: string, hooks: { copied?: () => void; origin?: () => Promise<string | null> } = {}): Promise<SnapshotResult> {
    return this.host.snapshot(production.name, production.port, snapshotName, hooks);
  }

  /** Makes the instance as a clone of a snapshot when it does not exist yet, and starts it. */
  async ensureFromSnapshot(row: InstanceRow, snapshotName: string): Promise<boolean> {
    const made = !this.host.exists(row.name);
    if (made) await this.host.clone(snapshotName, row.name, this.settingsOf(row));
    await this.host.start(row.name);
    return made;
  }

  /** Replaces the instance's data with a fresh clone of a snapshot: stopped, relinked, started. */
  async replaceFromSnapshot(row: InstanceRow, snapshotName: string): Promise<void> {
    await this.clusters.dropPool(row.cluster_id);
    try {
      await this.host.replaceFromSnapshot(row.name, snapshotName, this.settingsOf(row));
    } finally {
      await this.host.start(row.name);
    }
  }

  /**
   * Stops both instances, swaps their data directories (journalled: a crash in between is
   * finished when the host next opens) and starts `first` again; `second` stays stopped.
   * `firstImmediate`: `first`'s data is only kept for a rollback (or goes) and every commit in
   * it is known flushed (a data cutover's pause flushed production's WAL and holds its
   * writes): it is stopped at once, not waited for through a clean shutdown (its sessions'
   * exits and a checkpoint, most of the stop). That data recovers from its WAL when it is next
   * started, as after a crash: its unlogged tables come back empty.
   */
  async swapStopped(
    first: InstanceRow,
    second: InstanceRow,
    opts: { firstImmediate?: boolean } = {},
  ): Promise<{ poolsDroppedMs: number; firstStoppedMs: number; secondStoppedMs: number; stoppedMs: number; startedMs: number }> {
    const began = Date.now();
    // the platform's idle sessions there end with the servers: their pools are dropped while the
    // servers stop, not before (ending each session cleanly first cost tens of ms of the pause)
    const dropped = Promise.all([first, second].map((row) => this.clusters.dropPool(row.cluster_id))).then(() => Date.now() - began);
    // both at once: a data cutover holds production's writes meanwhile (each is signalled now)
    const stops = [first, second].map((row) =>
      this.host.stop(row.name, row === first && opts.firstImmediate ? "immediate" : "fast").then(() => Date.now() - began),
    );
    // first's start is forked while they stop, and runs on the swapped data
    const start = this.host.prepareStart(first.name);
    let firstStoppedMs: number, secondStoppedMs: number, poolsDroppedMs: number;
    try {
      [firstStoppedMs, secondStoppedMs, poolsDroppedMs] = await Promise.all([...stops, dropped]);
      this.host.swapData(first.name, second.name);
    } catch (err) {
      start.cancel();
      throw err;
    }
    const stoppedMs = Date.now() - began;
    await start.go();
    return { poolsDroppedMs, firstStoppedMs, secondStoppedMs, stoppedMs, startedMs: Date.now() - began };
  }

  /** Whether the instance stays stopped at start-up (it holds data kept for a rollback). */
  keepStopped(row: InstanceRow, keep: boolean): Promise<void> {
    return setKeepStopped(this.db, row.cluster_id, keep);
  }

  /** Stops and removes the instance, and frees its port. */
  async destroy(row: InstanceRow): Promise<void> {
    await this.clusters.dropPool(row.cluster_id);
    await this.host.destroy(row.name);
    await retireInstance(this.db, row.cluster_id);
  }

  async dropSnapshot(snapshotName: string): Promise<void> {
    await this.host.dropSnapshot(snapshotName);
  }

  /** Stops every running instance of the host (fast shutdown), as the embedded mode stops its cluster. */
  async stopAll(): Promise<number> {
    // from the host's directories, not the control plane (which may already be closed)
    const running = this.host.list().instances.filter((name) => this.host.running(name));
    await Promise.all(running.map((name) => this.host.stop(name, "fast")));
    return running.length;
  }

  /**
   * At start-up: every instance the control plane knows is started again (after a host
   * reboot they are all down); one whose data directory is missing is reported, not made
   * up from the template.
   */
  async startAll(): Promise<{ started: number; missing: string[] }> {
    let started = 0;
    const missing: string[] = [];
    for (const row of await activeInstances(this.db, this.hostCluster.id)) {
      if (!this.host.exists(row.name)) {
        // an instance whose provisioning job has not made it yet is made by that job
        missing.push(row.name);
        continue;
      }
      if (row.keep_stopped) continue;
      if (!this.host.running(row.name)) {
        // its settings as this version writes them (an instance made by an older one gets wal_level = logical)
        this.host.configure(row.name, this.settingsOf(row));
        await this.host.start(row.name);
        started++;
      }
    }
    if (started) this.log(`started ${started} PostgreSQL instance(s) that were down`);
    return { started, missing };
  }
}
