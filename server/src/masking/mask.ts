// Applying masking rules to a copy of a tenant database, in a session as the tenant's own
// role (never a superuser): the copy is private to the platform (no one else can connect),
// so the tenant's triggers are switched off for the rewrite (an audit trigger would copy
// the originals elsewhere), foreign keys between masked columns are checked at commit
// (both ends change in one transaction), and every masked table is rewritten afterwards
// (VACUUM FULL) so no old row version keeps an original in the copy's files.
//
// Every strategy is a keyed hash (HMAC-SHA256 with the project's key) of the value: the
// same value masks to the same output in every table and every preview, so joins on masked
// columns and unique constraints hold. The key reaches PostgreSQL only as bind parameters
// of pg_catalog functions (the session's search_path is pg_catalog, pg_temp): no tenant
// function or operator ever sees it, and it is in no catalog.
import crypto from "node:crypto";
import type pg from "pg";
import { quoteIdent, quoteLiteral } from "../platform/dataplane/sql.js";
import type { Catalog, PreparedRule } from "./catalog.js";

/** HMAC's inner and outer keys (the project key padded to SHA-256's 64-byte block, xor 0x36 / 0x5c). */
export function hmacPads(key: Buffer): { inner: Buffer; outer: Buffer } {
  const block = Buffer.alloc(64);
  (key.length > 64 ? crypto.createHash("sha256").update(key).digest() : key).copy(block);
  return { inner: Buffer.from(block.map((b) => b ^ 0x36)), outer: Buffer.from(block.map((b) => b ^ 0x5c)) };
}

const FIRST_NAMES = [
  "Alex", "Blake", "Casey", "Dana", "Eden", "Finley", "Gray", "Harper", "Indigo", "Jules", "Kai", "Lane", "Morgan", "Noel", "Oakley", "Parker",
  "Quinn", "Reese", "Sage", "Tatum", "Umber", "Val", "Wren", "Xen", "Yael", "Zuri", "Arden", "Briar", "Cove", "Drew", "Ellis", "Fern",
]; // prettier-ignore
const LAST_NAMES = [
  "Ashdown", "Birch", "Calder", "Dunmore", "Elsworth", "Fairley", "Glenn", "Hollis", "Ivers", "Jarrow", "Kestrel", "Larch", "Merrow", "Northam", "Orrin", "Pell",
  "Quarry", "Rowan", "Stroud", "Thorne", "Upton", "Vance", "Wilder", "Yarrow", "Ziegler", "Ambler", "Brook", "Crane", "Dale", "Easton", "Frost", "Gale",
]; // prettier-ignore

const textArray = (values: string[]) => `ARRAY[${values.map(quoteLiteral).join(", ")}]::text[]`;

/**
 * The session's helpers, in its own temporary schema (which only this session can write):
 * SQL functions the planner inlines, of pg_catalog functions only. All STABLE: convert_to and
 * format are, and an IMMUTABLE SQL function is not inlined around a STABLE one. Their names and
 * operators resolve on the session's search_path, pg_catalog first then this session's
 * pg_temp, where no tenant object can be. $2/$3 are the HMAC pads.
 */
export const HELPERS = [
  `CREATE FUNCTION pg_temp.capy_h(text, bytea, bytea) RETURNS bytea LANGUAGE sql STABLE STRICT PARALLEL SAFE AS
     $$ SELECT sha256($3 || sha256($2 || convert_to($1, 'UTF8'))) $$`,
  `CREATE FUNCTION pg_temp.capy_email(text, bytea, bytea) RETURNS text LANGUAGE sql STABLE STRICT PARALLEL SAFE AS
     $$ SELECT 'u' || substr(encode(pg_temp.capy_h($1, $2, $3), 'hex'), 1, 20) || '@example.com' $$`,
  `CREATE FUNCTION pg_temp.capy_hash(text, bytea, bytea) RETURNS text LANGUAGE sql STABLE STRICT PARALLEL SAFE AS
     $$ SELECT encode(pg_temp.capy_h($1, $2, $3), 'hex') $$`,
  // A first name, and a last name when the original has a space; never the original itself.
  // Every body below is one expression (no FROM, no subquery) and those with a CASE are not
  // STRICT (a CASE is not strict, and a STRICT function must inline to a strict expression),
  // so the planner inlines them into the UPDATE: a function call per row costs tens of
  // microseconds, an inlined expression about one. NULL still gives NULL.
  `CREATE FUNCTION pg_temp.capy_name_pick(text, int4) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS
     $$ SELECT (${textArray(FIRST_NAMES)})[1 + ($2 % 32)]
               || CASE WHEN strpos($1, ' ') > 0 THEN ' ' || (${textArray(LAST_NAMES)})[1 + (($2 / 32) % 32)] ELSE '' END $$`,
  // 16 bits of the hash: the first name, and the last name
  `CREATE FUNCTION pg_temp.capy_n16(bytea) RETURNS int4 LANGUAGE sql STABLE STRICT PARALLEL SAFE AS
     $$ SELECT get_byte($1, 0) * 256 + get_byte($1, 1) $$`,
  `CREATE FUNCTION pg_temp.capy_name(text, bytea, bytea) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS
     $$ SELECT CASE WHEN pg_temp.capy_name_pick($1, pg_temp.capy_n16(pg_temp.capy_h($1, $2, $3))) = $1
                    THEN pg_temp.capy_name_pick($1, pg_temp.capy_n16(pg_temp.capy_h($1, $2, $3)) + 1)
                    ELSE pg_temp.capy_name_pick($1, pg_temp.capy_n16(pg_temp.capy_h($1, $2, $3))) END $$`,
  // Every digit replaced, everything else kept: the digits become format()'s %s (through a
  // \x01 placeholder: translate and replace are much cheaper than a regular expression),
  // filled from the hash's 64 digits (repeated for longer values); the first one is moved by
  // 1 to 9, so the result is never the original.
  `CREATE FUNCTION pg_temp.capy_phone_fill(text, text) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS
     $$ SELECT format(replace(translate(replace($1, '%', '%%'), '0123456789', repeat(chr(1), 10)), chr(1), '%s'), VARIADIC string_to_array(
          chr(48 + ((ascii(substring($1, '[0-9]')) - 47 + ((ascii($2) - 48) % 9)) % 10))
          || substr(repeat($2, 1 + length($1) / 64), 2, length($1)), NULL)) $$`,
  `CREATE FUNCTION pg_temp.capy_phone(text, bytea, bytea) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS
     $$ SELECT CASE WHEN $1 ~ '[0-9]' THEN pg_temp.capy_phone_fill($1, translate(encode(pg_temp.capy_h($1, $2, $3), 'hex'), 'abcdef', '024680')) ELSE $1 END $$`,
  // 1 to $4 days, either way, stable per value
  `CREATE FUNCTION pg_temp.capy_days(text, bytea, bytea, int4) RETURNS int4 LANGUAGE sql STABLE PARALLEL SAFE AS
     $$ SELECT (1 + ((get_byte(pg_temp.capy_h($1, $2, $3), 0) * 65536 + get_byte(pg_temp.capy_h($1, $2, $3), 1) * 256
                     + get_byte(pg_temp.capy_h($1, $2, $3), 2)) % $4))
               * CASE WHEN get_byte(pg_temp.capy_h($1, $2, $3), 3) % 2 = 0 THEN 1 ELSE -1 END $$`,
];

/** The masked value of a column as SQL ($1/$2 the HMAC pads; constants are quoted literals). */
export function maskExpression(p: PreparedRule): string {
  const col = quoteIdent(p.column.name);
  const text = `${col}::pg_catalog.text`;
  switch (p.rule.strategy) {
    case "email":
    case "name":
    case "phone":
    case "hash":
      return `pg_temp.capy_${p.rule.strategy}(${text}, $1, $2)`;
    case "redact":
      return `pg_catalog.repeat('x', pg_catalog.length(${text}))`;
    case "null":
      return "NULL";
    case "constant":
      return `${quoteLiteral(p.rule.value!)}::${p.column.type}`;
    case "date_shift":
      return `${col} OPERATOR(pg_catalog.+) pg_catalog.make_interval(days => pg_temp.capy_days(${text}, $1, $2, ${p.rule.days}))`;
  }
}

/** Tables in an order where those that reference others come first (an ON UPDATE CASCADE then meets masked values). */
function referencingFirst(tables: string[], catalog: Catalog): string[] {
  const out: string[] = [];
  const visiting = new Set<string>();
  const visit = (t: string) => {
    if (out.includes(t) || visiting.has(t)) return;
    visiting.add(t);
    for (const fk of catalog.foreignKeys) if (fk.references === t && fk.table !== t && tables.includes(fk.table)) visit(fk.table);
    out.push(t);
  };
  for (const t of tables) visit(t);
  return out;
}

export interface MaskReport {
  tables: number;
  columns: number;
  rows: number;
}

/** Masks the database the client is connected to (as the tenant's role). Throws with the rule and PostgreSQL's reason when a rule cannot be applied. */
export async function maskDatabase(client: pg.Client, rules: PreparedRule[], catalog: Catalog, key: Buffer): Promise<MaskReport> {
  const { inner, outer } = hmacPads(key);
  await client.query("SET synchronous_commit = off");
  for (const sql of HELPERS) await client.query(sql);
  const byTable = new Map<string, PreparedRule[]>();
  for (const p of rules) byTable.set(p.table.name, [...(byTable.get(p.table.name) ?? []), p]);
  const tables = referencingFirst([...byTable.keys()], catalog);
  const maskedColumns = new Set(rules.map((p) => `${p.table.name}.${p.column.name}`));
  const fks = catalog.foreignKeys.filter(
    (fk) =>
      !fk.deferrable &&
      (fk.columns.some((c) => maskedColumns.has(`${fk.table}.${c}`)) || fk.referencedColumns.some((c) => maskedColumns.has(`${fk.references}.${c}`))),
  );
  const fkSql = (fk: (typeof fks)[number], clause: string) =>
    `ALTER TABLE ${catalog.tables.get(fk.table)!.sql} ALTER CONSTRAINT ${quoteIdent(fk.name)} ${clause}`;
  // the tenant's enabled triggers on the masked tables, and how each was enabled
  const { rows: triggers } = await client.query<{ table_sql: string; name: string; enabled: string }>(
    `SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS table_sql, t.tgname AS name, t.tgenabled::text AS enabled
       FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgparentid = 0
        AND (n.nspname || '.' || c.relname) = ANY ($1::text[])`,
    [tables],
  );
  const forced = tables.map((t) => byTable.get(t)![0].table).filter((t) => t.forceRowSecurity);

  const step = async (what: string, sql: string, params: unknown[] = []) => {
    try {
      return await client.query(sql, params);
    } catch (err) {
      throw new Error(`${what}: ${(err as Error).message}`);
    }
  };
  await step("preparing the copy", "BEGIN");
  for (const t of triggers) await step(`switching off trigger ${t.name}`, `ALTER TABLE ${t.table_sql} DISABLE TRIGGER ${quoteIdent(t.name)}`);
  for (const t of forced) await step(`lifting FORCE ROW LEVEL SECURITY on ${t.name}`, `ALTER TABLE ${t.sql} NO FORCE ROW LEVEL SECURITY`);
  for (const fk of fks) await step(`deferring foreign key ${fk.name}`, fkSql(fk, "DEFERRABLE INITIALLY DEFERRED"));
  await step("preparing the copy", "COMMIT");

  let rows = 0;
  await client.query("BEGIN");
  await client.query("SET CONSTRAINTS ALL DEFERRED");
  for (const name of tables) {
    const rs = byTable.get(name)!;
    const sets = rs.map((p) => `${quoteIdent(p.column.name)} = ${maskExpression(p)}`).join(", ");
    const any = rs.map((p) => `${quoteIdent(p.column.name)} IS NOT NULL`).join(" OR ");
    const res = await step(
      `masking ${name} (${rs.map((p) => `${p.column.name}: ${p.rule.strategy}`).join(", ")})`,
      `UPDATE ${rs[0].table.sql} SET ${sets} WHERE ${any}`,
      [inner, outer],
    );
    rows += res.rowCount ?? 0;
  }
  await step("checking the masked data's constraints", "COMMIT");

  await client.query("BEGIN");
  for (const fk of fks) await step(`restoring foreign key ${fk.name}`, fkSql(fk, "NOT DEFERRABLE"));
  for (const t of forced) await step(`restoring FORCE ROW LEVEL SECURITY on ${t.name}`, `ALTER TABLE ${t.sql} FORCE ROW LEVEL SECURITY`);
  for (const t of triggers) {
    const how = t.enabled === "A" ? "ENABLE ALWAYS TRIGGER" : t.enabled === "R" ? "ENABLE REPLICA TRIGGER" : "ENABLE TRIGGER";
    await step(`switching trigger ${t.name} back on`, `ALTER TABLE ${t.table_sql} ${how} ${quoteIdent(t.name)}`);
  }
  await client.query("COMMIT");
  // no old row version (nor index entry) keeps an original in the copy's files
  for (const name of tables) await step(`rewriting ${name}`, `VACUUM (FULL, ANALYZE) ${byTable.get(name)![0].table.sql}`);
  await refreshMaterializedViews(client);
  return { tables: tables.length, columns: rules.length, rows };
}

/** Materialized views are computed again from the masked tables (those that depend on others after them: a few rounds). */
async function refreshMaterializedViews(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ sql: string }>(
    `SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS sql
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'm' ORDER BY c.oid`,
  );
  let pending = rows.map((r) => r.sql);
  for (let round = 0; pending.length && round < 5; round++) {
    const failed: string[] = [];
    let last: Error | null = null;
    for (const mv of pending) {
      try {
        await client.query(`REFRESH MATERIALIZED VIEW ${mv}`);
      } catch (err) {
        failed.push(mv);
        last = err as Error;
      }
    }
    if (failed.length === pending.length) throw new Error(`refreshing materialized view ${failed[0]}: ${last!.message}`);
    pending = failed;
  }
}
