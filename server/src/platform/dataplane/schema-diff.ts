// The DDL from one tenant database's schema to another's, by @pgkit/migra (a port of migra
// on @pgkit/schemainspect): each side is read in a session as that database's own role, so
// the catalog queries run with the tenant's rights only.
import { createClient } from "@pgkit/client";
import { Migration, PostgreSQL } from "@pgkit/migra";
import type { PgEndpoint } from "./pgtools.js";

function clientOf(e: PgEndpoint) {
  // our statements wait a bounded time; names resolve in pg_catalog (so definitions come out schema-qualified)
  const options = "-c search_path=pg_catalog,pg_temp -c lock_timeout=30s -c statement_timeout=300s";
  const url =
    `postgresql://${encodeURIComponent(e.user)}:${encodeURIComponent(e.password)}@${e.host}:${e.port}/${encodeURIComponent(e.database)}` +
    `?application_name=capydb-schema-diff&options=${encodeURIComponent(options)}`;
  return createClient(url, { pgpOptions: { connect: { max: 2 }, initialize: { noWarnings: true } } });
}

/** The statements that would make `from`'s schema into `to`'s (migra's order; unsafe ones included). */
export async function diffSchemas(from: PgEndpoint, to: PgEndpoint): Promise<string[]> {
  const a = clientOf(from);
  const b = clientOf(to);
  try {
    // both sides inspected at once (migra alone reads one after the other): a catalog read costs
    // about as much as the diff itself on a schema of a few hundred tables
    const [inspectedA, inspectedB] = await Promise.all([PostgreSQL.create(a), PostgreSQL.create(b)]);
    const migration = await Migration.create(inspectedA, inspectedB, {});
    migration.set_safety(false); // destructive statements are listed (and classified), not refused
    migration.add_all_changes();
    return [...migration.statements].map((s) => s.trim()).filter(Boolean);
  } finally {
    await Promise.all([a.end().catch(() => {}), b.end().catch(() => {})]);
  }
}
