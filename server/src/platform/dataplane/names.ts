// Every name the platform derives for a database or a role on a data-plane cluster, in
// one place. A project's databases all start with its own database name followed by
// "_" (the reconciler recognises them by that prefix); other tenants can read these
// names (pg_database, pg_roles), so they are built from ids only, never from a name
// a tenant wrote.

/** The first 8 characters of an id after its prefix (`prj_`, `bkp_`, `job_` ...). */
const short = (id: string, length = 8) => id.slice(id.indexOf("_") + 1).slice(0, length);

export const names = {
  /** A new project's database (`capy_<id>`). */
  projectDatabase: (projectId: string) => `capy_${short(projectId)}`,
  /** The login role that owns a database's objects. */
  ownerRole: (database: string) => `${database}_owner`,
  /** A preview's database, under its project's prefix. */
  previewDatabase: (projectDatabase: string, previewId: string) => `${projectDatabase}_pv_${short(previewId)}`,

  /** A project's snapshot database of one generation (previews are cloned from it). */
  snapshot: (projectDatabase: string, generation: number) => `${projectDatabase}_snap${generation}`,
  /** On the instance engine: the project's snapshot, a stopped data directory on the instance host. */
  instanceSnapshot: (projectDatabase: string) => `${projectDatabase}_isnap`,
  /** A clone of that snapshot kept ready for the next preview. */
  spare: (projectDatabase: string, generation: number) => `${projectDatabase}_spare${generation}`,

  /** Where a preview is built before it is renamed into place. */
  previewBuild: (previewDatabase: string) => `${previewDatabase}_b`,
  /** Where a reset puts the data it replaces, until a follow-up job drops it. */
  previewAside: (previewDatabase: string, jobId: string) => `${previewDatabase}_old_${short(jobId, 6)}`,
  /** Whether `database` is such an aside copy (of any preview). */
  isPreviewAside: (database: string) => /_old_[a-z0-9]{6}$/.test(database),
  /** The prefix every aside copy of one preview starts with. */
  previewAsidePrefix: (previewDatabase: string) => `${previewDatabase}_old_`,

  /** The scratch database a backup's verification restores into. */
  verification: (projectDatabase: string, backupId: string) => `${projectDatabase}_vf_${short(backupId)}`,
  /** A restore's build, and where production's data goes while it is swapped in. */
  restoreBuild: (projectDatabase: string) => `${projectDatabase}_rs`,
  /** Production's previous data during a restore or an import (dropped after the swap). */
  replaced: (projectDatabase: string) => `${projectDatabase}_pre`,
  /** An import's build. */
  importBuild: (projectDatabase: string) => `${projectDatabase}_im`,
  /** Production's previous data after a cutover, kept for the rollback window. */
  cutoverPrevious: (projectDatabase: string, cutoverId: string) => `${projectDatabase}_prev_${short(cutoverId)}`,
  /** The promoted preview's data after a rollback put the previous production back. */
  cutoverRolledBack: (projectDatabase: string, cutoverId: string) => `${projectDatabase}_rb_${short(cutoverId)}`,

  /** Whether `database` is one of the project's own (its database or one derived from it). */
  belongsTo: (database: string, projectDatabase: string) => database === projectDatabase || database.startsWith(projectDatabase + "_"),
} as const;
