// The uploads table (migration 011): its states and every statement that reads or writes
// it (one writer per table). Each upload is a row, created with its URL:
//   open → receiving → stored → imported,   and any of them → expired
// Each step is one conditional UPDATE of that row, so two PUTs racing on one URL
// cannot both win, and an import and the sweep cannot both take the same upload.
import type { Queryable } from "../platform/store/db.js";

export type UploadState = "open" | "receiving" | "stored" | "imported" | "expired";

/**
 * A new open upload of the project, unless the project is being deleted (then false).
 * `expires` and `removeAfter` are in seconds since the epoch.
 */
export async function insertUpload(db: Queryable, key: string, projectId: string, expires: number, removeAfter: number): Promise<boolean> {
  // The project's state is read by the INSERT itself: its deletion takes the uploads it has then.
  const { rowCount } = await db.query(
    `INSERT INTO uploads (object_key, project_id, organization_id, state, expires_at, remove_after)
     SELECT $1, p.id, p.organization_id, 'open', to_timestamp($3), to_timestamp($4)
     FROM projects p WHERE p.id = $2 AND p.state NOT IN ('deleting', 'deleted')`,
    [key, projectId, expires, removeAfter],
  );
  return rowCount === 1;
}

/** The upload's state; "expired" once the sweep took it (or it never existed). */
export async function loadUploadState(db: Queryable, key: string): Promise<UploadState> {
  const { rows } = await db.query<{ state: UploadState }>("SELECT state FROM uploads WHERE object_key = $1", [key]);
  return rows[0]?.state ?? "expired";
}

/**
 * Moves the upload from state `from` to `to` (recording what `set` says), in one
 * conditional UPDATE. Answers false when the upload was not in state `from` (or is gone).
 */
async function moveUpload(
  db: Queryable,
  key: string,
  from: UploadState,
  to: UploadState,
  set: { importJobId?: string; sizeBytes?: number; format?: string } = {},
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE uploads SET state = $3, import_job_id = coalesce($4, import_job_id), size_bytes = coalesce($5, size_bytes),
            format = coalesce($6, format), updated_at = now()
     WHERE object_key = $1 AND state = $2`,
    [key, from, to, set.importJobId ?? null, set.sizeBytes ?? null, set.format ?? null],
  );
  return rowCount === 1;
}

/** A PUT starts streaming the dump in: open → receiving. */
export const markUploadReceiving = (db: Queryable, key: string) => moveUpload(db, key, "open", "receiving");

/** The PUT failed and stored nothing: receiving → open, so the URL may be used again. */
export const reopenUpload = (db: Queryable, key: string) => moveUpload(db, key, "receiving", "open");

/** The dump is in the blob store: receiving → stored. */
export const markUploadStored = (db: Queryable, key: string, sizeBytes: number, format: string) =>
  moveUpload(db, key, "receiving", "stored", { sizeBytes, format });

/** An import job took the dump: stored → imported. */
export const markUploadImported = (db: Queryable, key: string, importJobId: string) => moveUpload(db, key, "stored", "imported", { importJobId });

/** The import that took the upload removed its dump; the row stays for the sweep. */
export async function markImportedDumpRemoved(db: Queryable, key: string): Promise<void> {
  await db.query("UPDATE uploads SET dump_removed_at = now(), updated_at = now() WHERE object_key = $1 AND state = 'imported'", [key]);
}

/**
 * Takes (state → expired) up to `limit` uploads matching `where` that no import still
 * needs, and answers their keys. Two callers at once take disjoint rows.
 */
async function expireUploads(db: Queryable, where: string, params: unknown[], limit: number): Promise<string[]> {
  const limitParam = `$${params.length + 1}`;
  const { rows } = await db.query<{ object_key: string }>(
    `UPDATE uploads SET state = 'expired', updated_at = now()
     WHERE object_key IN (
       SELECT u.object_key FROM uploads u
       WHERE ${where}
         -- an import that has not finished with the dump keeps it (it removes it itself)
         AND NOT (u.state = 'imported' AND u.dump_removed_at IS NULL
                  AND EXISTS (SELECT 1 FROM jobs j WHERE j.id = u.import_job_id AND j.state IN ('pending', 'running')))
       ORDER BY u.remove_after
       LIMIT ${limitParam}
       FOR UPDATE OF u SKIP LOCKED)
     RETURNING object_key`,
    [...params, limit],
  );
  return rows.map((r) => r.object_key);
}

/** Uploads past their removal time (the sweep's), up to `limit`. */
export const expireUploadsPastRemoval = (db: Queryable, limit: number) => expireUploads(db, "u.remove_after <= now()", [], limit);

/** A project's uploads, whatever their expiry, up to `limit`. */
export const expireProjectUploads = (db: Queryable, projectId: string, limit: number) => expireUploads(db, "u.project_id = $1", [projectId], limit);

/** The row of an expired upload whose dump is gone. */
export async function deleteExpiredUpload(db: Queryable, key: string): Promise<void> {
  await db.query("DELETE FROM uploads WHERE object_key = $1 AND state = 'expired'", [key]);
}
