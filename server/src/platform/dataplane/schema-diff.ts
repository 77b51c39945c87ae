// The DDL from one tenant database's schema to another's, by @pgkit/migra (a port of migra
// on @pgkit/schemainspect): each side is read in a session as that database's own role, so
// the catalog queries run with the tenant's rights only.
import { createClient } from "@pgkit/client";
import { run } from "@pgkit/migra";
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
    const migration = await run(a, b, { unsafe: true });
    return [...migration.statements].map((s) => s.trim()).filter(Boolean);
  } finally {
    await Promise.all([a.end().catch(() => {}), b.end().catch(() => {})]);
  }
}
