// The preview tables (preview_databases, project_snapshots, preview_spares): row types and every
// statement that writes them (one writer per table).
import type { Queryable } from "../platform/store/db.js";

/** A cutover made this preview's database production's: the preview is over. */
export async function markPreviewPromoted(db: Queryable, previewId: string): Promise<void> {
  await db.query("UPDATE preview_databases SET state = 'promoted', updated_at = now() WHERE id = $1", [previewId]);
}
