// The reconciler: removes what half-done work left behind on the data plane (a build
// database of a job whose worker died, the database and role of a preview or project
// that failed or was deleted while a worker crashed) and in the blob store (a partial
// blob of a killed server), and says what it removed.
// It touches only names derived from our own projects, and only what was seen
// orphaned on two passes with no job of that project created or started in
// between (so a build that a new job has just begun is never taken for debris).
// What should exist and which roles are done with, each resource says through the
// lifecycle hooks (server.ts); the reconciler knows only projects and jobs.
import type { AppContext } from "../context.js";
import { dropTenantRole } from "./dataplane/privileged.js";
import { names } from "./dataplane/names.js";
import { dropDatabase } from "./dataplane/provision.js";
import { activeInstances } from "./dataplane/instances/registry.js";

export interface Removal {
  cluster_id: string;
  kind: "database" | "role" | "blob" | "instance";
  name: string;
  reason: string;
}

/** One reconciler per server process (the scheduler's leader runs it). */
export class Reconciler {
  /** First sighting (control-plane clock) of each candidate, across passes. */
  private readonly sightings = new Map<string, Date>();

  constructor(private readonly ctx: AppContext) {}

  private async confirmedOrphan(key: string, projectId: string, now: Date): Promise<boolean> {
    const first = this.sightings.get(key);
    if (!first) {
      this.sightings.set(key, now);
      return false;
    }
    this.sightings.delete(key);
    const { rows } = await this.ctx.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM jobs WHERE project_id = $1 AND (state IN ('pending', 'running') OR greatest(created_at, coalesce(started_at, created_at)) >= $2)",
      [projectId, first],
    );
    return rows[0].n === 0;
  }

  /** One pass: removes confirmed debris and says what it removed. */
  async pass(): Promise<Removal[]> {
    const ctx = this.ctx;
    const removed: Removal[] = [];
    const now = (await ctx.db.query<{ now: Date }>("SELECT now()")).rows[0].now;
    const seen = new Set<string>();
    // Instances that are gone, or stopped on purpose (data kept for a rollback), are not visited.
    const clusters = await ctx.db.query<{ id: string }>(
      `SELECT c.id FROM clusters c LEFT JOIN instances i ON i.cluster_id = c.id
        WHERE i.cluster_id IS NULL OR (i.state = 'active' AND NOT i.keep_stopped)`,
    );
    for (const { id: clusterId } of clusters.rows) {
      try {
        await this.passCluster(clusterId, now, seen, removed);
      } catch (err) {
        // one cluster down (an instance stopping, say) does not keep the others from being tidied
        ctx.log.warn({ cluster_id: clusterId, err: (err as Error).message }, "reconciler could not visit a cluster");
      }
    }
    if (ctx.instances) await this.passInstances(now, seen, removed);
    // Partial blobs of puts whose process died (the blob store knows its writers).
    for (const name of (await ctx.blobs.sweepAbandoned?.().catch(() => [] as string[])) ?? []) {
      removed.push({ cluster_id: "-", kind: "blob", name, reason: "a partial blob whose writer process is gone" });
    }
    // Candidates that are no longer there (their job finished them) are forgotten.
    for (const key of [...this.sightings.keys()]) if (!seen.has(key)) this.sightings.delete(key);
    for (const r of removed) ctx.log.warn({ reconciler: r }, `reconciler removed ${r.kind} ${r.name}: ${r.reason}`);
    return removed;
  }

  /**
   * Instance directories on the host that no active instance of the control plane is
   * (a destroy interrupted after its row was retired, an instance of a control plane
   * that forgot it): stopped and removed once seen on two passes.
   */
  private async passInstances(now: Date, seen: Set<string>, removed: Removal[]): Promise<void> {
    const engine = this.ctx.instances!;
    const active = new Set((await activeInstances(this.ctx.db, engine.hostCluster.id)).map((r) => r.name));
    for (const name of engine.host.list().instances) {
      if (active.has(name)) continue;
      const key = `instance/${name}`;
      seen.add(key);
      const first = this.sightings.get(key);
      if (!first) {
        this.sightings.set(key, now);
        continue;
      }
      this.sightings.delete(key);
      await engine.host.destroy(name);
      removed.push({ cluster_id: engine.hostCluster.id, kind: "instance", name, reason: "an instance directory no active instance owns" });
    }
  }

  private async passCluster(clusterId: string, now: Date, seen: Set<string>, removed: Removal[]): Promise<void> {
    const ctx = this.ctx;
    // Projects with work in flight are left alone.
    const busy = new Set(
      (
        await ctx.db.query<{ project_id: string }>("SELECT DISTINCT project_id FROM jobs WHERE state IN ('pending', 'running') AND project_id IS NOT NULL")
      ).rows.map((r) => r.project_id),
    );
    const projects = (
      await ctx.db.query<{ id: string; database_name: string; state: string }>("SELECT id, database_name, state FROM projects WHERE cluster_id = $1", [
        clusterId,
      ])
    ).rows.filter((p) => !busy.has(p.id));
    if (projects.length === 0) return;
    const expected = await ctx.lifecycle.databasesExpectedOn(clusterId);
    const admin = await ctx.clusters.pool(clusterId);
    const databases = (await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE NOT datistemplate")).rows.map((r) => r.datname);
    for (const project of projects) {
      for (const db of databases) {
        if (expected.has(db) || !names.belongsTo(db, project.database_name)) continue;
        const key = `${clusterId}/db/${db}`;
        seen.add(key);
        if (!(await this.confirmedOrphan(key, project.id, now))) continue;
        await ctx.pooler.kill(clusterId, db).catch(() => {});
        await dropDatabase(admin, db);
        removed.push({ cluster_id: clusterId, kind: "database", name: db, reason: `left over from work on project ${project.id} (${project.state})` });
      }
    }
    // Roles the resources are done with (deleted, failed, promoted) that still exist.
    const retired = (await ctx.lifecycle.rolesRetiredOn(clusterId)).filter((r) => !busy.has(r.projectId));
    if (retired.length) {
      const existing = new Set(
        (await admin.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])", [retired.map((r) => r.role)])).rows.map(
          (r) => r.rolname,
        ),
      );
      for (const r of retired) {
        if (!existing.has(r.role)) continue;
        const key = `${clusterId}/role/${r.role}`;
        seen.add(key);
        if (!(await this.confirmedOrphan(key, r.projectId, now))) continue;
        try {
          await dropTenantRole(ctx.clusters, clusterId, r.role);
          removed.push({ cluster_id: clusterId, kind: "role", name: r.role, reason: "role of a deleted or failed database" });
        } catch {
          // still owns something somewhere: a later pass, once its database is gone
        }
      }
    }
  }
}
