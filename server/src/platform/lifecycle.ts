// Hooks between resources, registered at start-up (server.ts), so that no resource
// imports another's job file to keep it in step:
// - projectDeleted: each resource removes what it holds of a project being deleted
//   (cutover leftovers, previews and their roles, backups, uploads), in registration
//   order, before the project's own database and role go;
// - productionReplaced: after a restore, an import, a cutover or its rollback put other
//   data under production's name (the snapshot is forgotten so no preview is cloned from
//   the replaced data), then the pooler is synced;
// - expectedDatabases / retiredRoles: what each resource says should exist on a cluster
//   and which of its roles it is done with, so the reconciler can tell debris from live
//   databases without knowing resource tables.
import type { PoolerSync } from "./dataplane/pooler-sync.js";

/** What the hooks are told of a project. */
export interface ProjectRef {
  id: string;
  organization_id: string;
  cluster_id: string;
  database_name: string;
  role_name: string;
}

type ProjectHook = (project: ProjectRef) => Promise<void>;
type ExpectedDatabases = (clusterId: string) => Promise<string[]>;
/** A login role whose database is gone for good (deleted, failed, promoted), and the project it belonged to. */
export interface RetiredRole {
  role: string;
  projectId: string;
}
type RetiredRoles = (clusterId: string) => Promise<RetiredRole[]>;

export class Lifecycle {
  private deleted: Array<{ name: string; run: ProjectHook }> = [];
  private replaced: Array<{ name: string; run: ProjectHook }> = [];
  private expected: ExpectedDatabases[] = [];
  private retired: RetiredRoles[] = [];

  constructor(private readonly pooler: PoolerSync) {}

  onProjectDeleted(name: string, run: ProjectHook): void {
    this.deleted.push({ name, run });
  }

  onProductionReplaced(name: string, run: ProjectHook): void {
    this.replaced.push({ name, run });
  }

  expectedDatabases(list: ExpectedDatabases): void {
    this.expected.push(list);
  }

  retiredRoles(list: RetiredRoles): void {
    this.retired.push(list);
  }

  /** Runs every projectDeleted hook in registration order (a failure stops the delete, which is retried). */
  async projectDeleted(project: ProjectRef): Promise<void> {
    for (const hook of this.deleted) await hook.run(project);
  }

  /** Runs every productionReplaced hook, then brings the pooler in step with the cluster. */
  async productionReplaced(project: ProjectRef): Promise<void> {
    for (const hook of this.replaced) await hook.run(project);
    await this.pooler.sync(project.cluster_id);
  }

  /** Every login role some resource says it is done with on the cluster. */
  async rolesRetiredOn(clusterId: string): Promise<RetiredRole[]> {
    const all: RetiredRole[] = [];
    for (const list of this.retired) all.push(...(await list(clusterId)));
    return all;
  }

  /** Every database some resource says should exist on the cluster. */
  async databasesExpectedOn(clusterId: string): Promise<Set<string>> {
    const all = new Set<string>();
    for (const list of this.expected) for (const name of await list(clusterId)) all.add(name);
    return all;
  }
}
