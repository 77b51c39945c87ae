// Ordered SQL migrations applied at start under an advisory lock, so several
// servers starting at once apply each migration exactly once.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Db } from "./db.js";

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "migrations");
// An arbitrary constant of ours: the advisory lock key for migrations.
const MIGRATION_LOCK_KEY = 7_140_240_901;

export async function migrate(db: Db): Promise<string[]> {
  const files = fs
    .readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
    .sort();
  const client = await db.connect();
  const applied: string[] = [];
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ name: string }>("SELECT name FROM schema_migrations")).rows.map((r) => r.name));
    // Checked before applying anything: an older server must not add its own steps to a newer schema.
    refuseUnknownMigrations([...done], files);
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = fs.readFileSync(path.join(MIGRATIONS_DIR, file), "utf8");
      await client.query("BEGIN");
      try {
        await client.query(sql);
        await client.query("INSERT INTO schema_migrations (name) VALUES ($1)", [file]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw new Error(`migration ${file} failed: ${(err as Error).message}`);
      }
      applied.push(file);
    }
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => {});
    client.release();
  }
  return applied;
}

/**
 * Several servers share one control plane. During a rolling deploy a server of the previous
 * release can start after a newer one has migrated the schema; it would then run queries
 * written for tables and states that have changed. It stops here instead, naming both versions.
 */
function refuseUnknownMigrations(recorded: string[], known: string[]): void {
  const knownSet = new Set(known);
  const unknown = recorded.filter((name) => !knownSet.has(name)).sort();
  if (unknown.length === 0) return;
  const version = (file: string | undefined) => (file ?? "none").replace(/\.sql$/, "");
  const databaseAt = version([...recorded].sort().at(-1));
  const serverAt = version(known.at(-1));
  const remedy =
    "upgrade this server to the release that the other servers on this control plane run, " +
    "or give it a control-plane database of its own (CAPYDB_DATABASE_URL)";
  if (unknown.at(-1)! > (known.at(-1) ?? "")) {
    throw new Error(`the control-plane database is at migration ${databaseAt}, newer than this server knows (${serverAt}): ${remedy}`);
  }
  // Recorded steps that sort below this server's newest: the schema came from a different build.
  throw new Error(
    `the control-plane database has migration${unknown.length > 1 ? "s" : ""} ${unknown.map(version).join(", ")} that this server does not know ` +
      `(it knows up to ${serverAt}): it was migrated by a different build of CapyDB; ${remedy}`,
  );
}
