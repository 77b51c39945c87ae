// Every job type of the server, in one place: its payload, the resource two jobs of
// which never run at once, and the key that keeps one pending job where several
// requests would make several. Enqueued with enqueue() (platform/jobs/define.ts) and
// read by the handlers with payloadOf(); the handlers live with their resource.
import { z } from "zod";
import { defineJob, required } from "../platform/jobs/define.js";

const none = z.object({}).strict();
const project = (type: string) => (s: { projectId?: string | null }) => `project:${required(type, s.projectId, "project")}`;
const preview = (type: string) => (s: { previewDatabaseId?: string | null }) => `preview:${required(type, s.previewDatabaseId, "preview")}`;
const backups = (type: string) => (s: { projectId?: string | null }) => `backups:${required(type, s.projectId, "project")}`;

export const jobs = {
  // projects: provisioning and deletion serialise with everything else on the project
  projectCreate: defineJob({ type: "project.create", payload: none, lockedResource: project("project.create") }),
  projectDelete: defineJob({ type: "project.delete", payload: none, lockedResource: project("project.delete") }),
  /** A project of the shared engine copied to an instance of its own (operators). */
  projectMove: defineJob({
    type: "project.move",
    payload: z.object({ from_cluster_id: z.string().min(1), to_cluster_id: z.string().min(1) }).strict(),
    lockedResource: project("project.move"),
  }),

  // extensions, in the project's database
  extensionEnable: defineJob({
    type: "extension.enable",
    payload: z.object({ name: z.string().min(1), trusted: z.boolean() }).strict(),
    lockedResource: project("extension.enable"),
  }),
  extensionDisable: defineJob({
    type: "extension.disable",
    payload: z.object({ name: z.string().min(1) }).strict(),
    lockedResource: project("extension.disable"),
  }),

  // previews: one job at a time per preview
  previewCreate: defineJob({ type: "preview.create", payload: z.object({ fresh: z.boolean() }).strict(), lockedResource: preview("preview.create") }),
  previewReset: defineJob({ type: "preview.reset", payload: z.object({ fresh: z.boolean() }).strict(), lockedResource: preview("preview.reset") }),
  previewDelete: defineJob({ type: "preview.delete", payload: none, lockedResource: preview("preview.delete") }),
  /** The DDL from production's schema to the preview's, classified by risk. */
  previewSchemaDiff: defineJob({ type: "preview.schema_diff", payload: none, lockedResource: preview("preview.schema_diff") }),
  /** The schema evidence of a cutover request that was just opened (the preview's diff, production's schema). */
  cutoverSchemaDiff: defineJob({
    type: "cutover.schema_diff",
    payload: z.object({ cutover_id: z.string().min(1) }).strict(),
    lockedResource: preview("cutover.schema_diff"),
  }),
  /** Drops an aside copy a reset left (off the reset's path). */
  databaseDrop: defineJob({
    type: "database.drop",
    payload: z.object({ database: z.string().min(1) }).strict(),
    lockedResource: (s, p) => `drop:${required("database.drop", s.clusterId, "cluster")}:${p.database}`,
  }),
  /** A spare clone of the project's snapshot, made ahead of the next create or reset: one pending per project. */
  previewSpare: defineJob({
    type: "preview.spare",
    payload: none,
    lockedResource: (s) => `spare:${required("preview.spare", s.projectId, "project")}`,
    dedupeKey: (s) => `preview.spare:${s.projectId}`,
  }),
  /** A snapshot in use refreshed before its maximum age: one pending per project. */
  snapshotRefresh: defineJob({
    type: "snapshot.refresh",
    payload: none,
    lockedResource: (s) => `snapshot:${required("snapshot.refresh", s.projectId, "project")}`,
    dedupeKey: (s) => `snapshot.refresh:${s.projectId}`,
  }),

  // backups: taking and verifying serialise per project's backups; a restore with everything on the project
  backupCreate: defineJob({ type: "backup.create", payload: z.object({ backup_id: z.string().min(1) }).strict(), lockedResource: backups("backup.create") }),
  backupVerify: defineJob({ type: "backup.verify", payload: z.object({ backup_id: z.string().min(1) }).strict(), lockedResource: backups("backup.verify") }),
  backupRestore: defineJob({ type: "backup.restore", payload: z.object({ backup_id: z.string().min(1) }).strict(), lockedResource: project("backup.restore") }),

  // imports: from a source URL (sealed) or an uploaded dump
  importRun: defineJob({
    type: "import.run",
    payload: z
      .object({ replace: z.boolean(), source_url_sealed: z.string().min(1).optional(), object_key: z.string().min(1).optional() })
      .strict()
      .refine((p) => Boolean(p.source_url_sealed) !== Boolean(p.object_key), "exactly one of source_url_sealed and object_key"),
    lockedResource: project("import.run"),
  }),

  // cutovers: with everything on the project
  cutoverExecute: defineJob({
    type: "cutover.execute",
    payload: z.object({ cutover_id: z.string().min(1) }).strict(),
    lockedResource: project("cutover.execute"),
  }),
  cutoverRollback: defineJob({
    type: "cutover.rollback",
    payload: z.object({ cutover_id: z.string().min(1) }).strict(),
    lockedResource: project("cutover.rollback"),
  }),
} as const;
