// What masking needs to know of a tenant database's tables, read in a session as the
// tenant's own role (search_path pg_catalog, pg_temp: every name and operator below is
// the catalog's), and the rules checked against it.
import type pg from "pg";
import type { MaskingRule } from "@capydb/api";

export interface ColumnInfo {
  name: string;
  /** The column's type as SQL spells it (format_type). */
  type: string;
  /** The base type's name (a domain's base): text, varchar, date, ... */
  baseType: string;
  /** pg_type.typcategory of the base type: S string, D date/time, ... */
  category: string;
  /** varchar(n) / char(n): n. */
  maxLength: number | null;
  notNull: boolean;
  generated: boolean;
}

export interface ForeignKey {
  name: string;
  /** The referencing table and columns. */
  table: string;
  columns: string[];
  /** The referenced table and columns. */
  references: string;
  referencedColumns: string[];
  deferrable: boolean;
  deferred: boolean;
}

export interface TableInfo {
  /** schema.table, unquoted. */
  name: string;
  /** Quoted for SQL. */
  sql: string;
  columns: Map<string, ColumnInfo>;
  /** Unique keys of NOT NULL columns without expressions or predicates; the primary key first. */
  keys: string[][];
  forceRowSecurity: boolean;
}

export interface Catalog {
  tables: Map<string, TableInfo>;
  foreignKeys: ForeignKey[];
}

/** Tables and partitioned tables of the tenant's schemas (partitions are masked through their parent). */
export async function readCatalog(client: pg.Client): Promise<Catalog> {
  const { rows } = await client.query<{
    schema: string;
    table: string;
    table_sql: string;
    force_rls: boolean;
    column: string;
    type: string;
    base_type: string;
    category: string;
    max_length: number | null;
    not_null: boolean;
    generated: boolean;
  }>(
    `SELECT n.nspname AS schema, c.relname AS table,
            pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS table_sql,
            c.relforcerowsecurity AS force_rls, a.attname AS column,
            pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, bt.typname AS base_type, bt.typcategory::text AS category,
            CASE WHEN bt.typname IN ('varchar', 'bpchar') AND (CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END) > 4
                 THEN (CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END) - 4 END AS max_length,
            a.attnotnull AS not_null, a.attgenerated <> '' AS generated
       FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
       JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_%'
      ORDER BY n.nspname, c.relname, a.attnum`,
  );
  const tables = new Map<string, TableInfo>();
  for (const r of rows) {
    const name = `${r.schema}.${r.table}`;
    let table = tables.get(name);
    if (!table) {
      table = { name, sql: r.table_sql, columns: new Map(), keys: [], forceRowSecurity: r.force_rls };
      tables.set(name, table);
    }
    table.columns.set(r.column, {
      name: r.column,
      type: r.type,
      baseType: r.base_type,
      category: r.category,
      maxLength: r.max_length,
      notNull: r.not_null,
      generated: r.generated,
    });
  }
  const keys = await client.query<{ schema: string; table: string; columns: string[] }>(
    `SELECT n.nspname AS schema, c.relname AS table,
            (SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.ord)
               FROM pg_catalog.unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) AS columns
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE i.indisunique AND i.indexprs IS NULL AND i.indpred IS NULL
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(i.indkey::int2[]) k(attnum)
                         JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE NOT a.attnotnull)
      ORDER BY i.indisprimary DESC, i.indexrelid`,
  );
  for (const k of keys.rows) tables.get(`${k.schema}.${k.table}`)?.keys.push(k.columns);
  const fks = await client.query<{
    name: string;
    table: string;
    columns: string[];
    references: string;
    referenced_columns: string[];
    deferrable: boolean;
    deferred: boolean;
  }>(
    `SELECT co.conname AS name, n.nspname || '.' || c.relname AS table, rn.nspname || '.' || rc.relname AS references,
            (SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.ord) FROM pg_catalog.unnest(co.conkey) WITH ORDINALITY k(attnum, ord)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.attnum) AS columns,
            (SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.ord) FROM pg_catalog.unnest(co.confkey) WITH ORDINALITY k(attnum, ord)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.attnum) AS referenced_columns,
            co.condeferrable AS deferrable, co.condeferred AS deferred
       FROM pg_catalog.pg_constraint co
       JOIN pg_catalog.pg_class c ON c.oid = co.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_class rc ON rc.oid = co.confrelid JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
      WHERE co.contype = 'f' AND co.conparentid = 0`,
  );
  const foreignKeys = fks.rows.map((f) => ({
    name: f.name,
    table: f.table,
    columns: f.columns,
    references: f.references,
    referencedColumns: f.referenced_columns,
    deferrable: f.deferrable,
    deferred: f.deferred,
  }));
  return { tables, foreignKeys };
}

/** "users" → "public.users"; "app.users" as is. */
export function qualifiedTable(table: string): string {
  return table.includes(".") ? table : `public.${table}`;
}

const STRING_STRATEGIES = new Set(["email", "name", "phone", "hash", "redact"]);
/** The longest value each string strategy writes (null: as long as the original). */
const OUTPUT_LENGTH: Record<string, number | null> = { email: 33, name: 40, phone: null, hash: 64, redact: null };
const DATE_TYPES = new Set(["date", "timestamp", "timestamptz"]);
/** Strategies whose result tells nothing of the value: proven by the form of every row, not by a sample. */
export const FORM_STRATEGIES = new Set(["null", "constant", "redact"]);

export interface PreparedRule {
  rule: MaskingRule;
  table: TableInfo;
  column: ColumnInfo;
}

/** A rule that does not fit the database: its index and what is wrong, for a person. */
export class RuleError extends Error {
  constructor(
    readonly index: number,
    readonly field: string,
    message: string,
  ) {
    super(`rules[${index}].${field}: ${message}`);
  }
}

/** The columns of a table's key that no rule masks (null: it has none). */
export function rowKeyOf(table: TableInfo, masked: Set<string>): string[] | null {
  return table.keys.find((k) => k.every((c) => !masked.has(c))) ?? null;
}

/**
 * Checks rules against a database's catalog: the table and column exist, the strategy
 * fits the column's type, its output fits the column, each column has one rule, and the
 * proof can check it (a row key, unless the strategy is proven by form). Throws RuleError.
 */
export function prepareRules(rules: MaskingRule[], catalog: Catalog): PreparedRule[] {
  const out: PreparedRule[] = [];
  const seen = new Map<string, number>();
  rules.forEach((rule, i) => {
    if (rule.strategy === "constant" && rule.value === undefined) throw new RuleError(i, "value", 'is required with strategy "constant"');
    if (rule.strategy !== "constant" && rule.value !== undefined) throw new RuleError(i, "value", 'is only allowed with strategy "constant"');
    if (rule.strategy === "date_shift" && rule.days === undefined) throw new RuleError(i, "days", 'is required with strategy "date_shift"');
    if (rule.strategy !== "date_shift" && rule.days !== undefined) throw new RuleError(i, "days", 'is only allowed with strategy "date_shift"');
    const tableName = qualifiedTable(rule.table);
    const table = catalog.tables.get(tableName);
    if (!table) throw new RuleError(i, "table", `table ${tableName} does not exist (tables and partitioned tables only)`);
    const column = table.columns.get(rule.column);
    if (!column) throw new RuleError(i, "column", `column ${tableName}.${rule.column} does not exist`);
    const key = `${tableName}.${rule.column}`;
    if (seen.has(key)) throw new RuleError(i, "column", `${key} already has a rule (rules[${seen.get(key)}])`);
    seen.set(key, i);
    if (column.generated) throw new RuleError(i, "column", `${key} is a generated column: mask the columns it is computed from`);
    if (STRING_STRATEGIES.has(rule.strategy) && column.category !== "S") {
      throw new RuleError(i, "strategy", `"${rule.strategy}" needs a text column; ${key} is ${column.type}`);
    }
    const length = OUTPUT_LENGTH[rule.strategy];
    if (length && column.maxLength !== null && column.maxLength < length) {
      throw new RuleError(
        i,
        "strategy",
        `"${rule.strategy}" writes up to ${length} characters; ${key} is ${column.type}: use "hash" on a wider column or "redact"`,
      );
    }
    if (rule.strategy === "date_shift" && !DATE_TYPES.has(column.baseType)) {
      throw new RuleError(i, "strategy", `"date_shift" needs a date or timestamp column; ${key} is ${column.type}`);
    }
    if (rule.strategy === "null" && column.notNull) throw new RuleError(i, "strategy", `${key} is NOT NULL: use "constant" or another strategy`);
    out.push({ rule: { ...rule, table: tableName }, table, column });
  });
  // the proof compares sampled rows with their originals by a key no rule changes
  const maskedBy = new Map<string, Set<string>>();
  for (const p of out) maskedBy.set(p.table.name, (maskedBy.get(p.table.name) ?? new Set()).add(p.column.name));
  out.forEach((p, i) => {
    if (FORM_STRATEGIES.has(p.rule.strategy) || p.rule.strategy === "email" || p.rule.strategy === "hash") return;
    if (!rowKeyOf(p.table, maskedBy.get(p.table.name)!)) {
      throw new RuleError(
        i,
        "table",
        `${p.table.name} needs a primary key (or a unique key of NOT NULL columns) that no rule masks: the proof compares sampled rows with production's by it`,
      );
    }
  });
  // a foreign key between masked columns must mask both ends alike (or the clone's constraint breaks)
  const strategyOf = new Map(out.map((p) => [`${p.table.name}.${p.column.name}`, JSON.stringify([p.rule.strategy, p.rule.value, p.rule.days])]));
  for (const fk of catalog.foreignKeys) {
    fk.columns.forEach((c, k) => {
      const from = `${fk.table}.${c}`;
      const to = `${fk.references}.${fk.referencedColumns[k]}`;
      if (strategyOf.get(from) !== strategyOf.get(to)) {
        const index = seen.get(strategyOf.has(from) ? from : to)!;
        throw new RuleError(index, "strategy", `foreign key ${fk.name} joins ${from} to ${to}: mask both with the same strategy, or neither`);
      }
    });
  }
  return out;
}
