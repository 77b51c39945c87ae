// The risk of each statement of a schema diff for production, from its DDL and production's
// real table sizes and column types:
//  - destructive: loses data — drops a table, a column, a type, a sequence, an enum value
//    (migra recreates the enum), or narrows a column's type;
//  - risky: rewrites or long-locks a big table (over the threshold) — a type change that
//    rewrites, a volatile default, SET NOT NULL, a foreign key or check without NOT VALID, a
//    unique or primary key, CREATE INDEX without CONCURRENTLY; or fails on rows (a NOT NULL
//    column without a default);
//  - safe: everything else.
// Each reason says what happens and the safer form.
import type { z } from "zod";
import type { SchemaDiffStatement } from "@capydb/api";

export type Statement = z.infer<typeof SchemaDiffStatement>;

export interface ProductionFacts {
  /** schema.table → bytes (pg_total_relation_size). */
  tableBytes: Map<string, number>;
  /** schema.table.column → type as format_type spells it. */
  columnTypes: Map<string, string>;
  /** Tables at least this big are "big". */
  bigTableBytes: number;
  /** schema.type → its enum values in order. */
  enums: Map<string, string[]>;
}

/** What the whole diff tells about one statement: the values of the enums it recreates. */
interface Context {
  newEnums: Map<string, string[]>;
}

const unquote = (s: string) => (s.startsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s);
const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const QUALIFIED = new RegExp(String.raw`(${IDENT})\.(${IDENT})`);

/** The first schema-qualified name in a statement (the object it changes). */
function objectOf(sql: string): string | null {
  const m = QUALIFIED.exec(sql.replace(/^create (unique )?index (concurrently )?(if not exists )?\S+ on (only )?/i, ""));
  return m ? `${unquote(m[1])}.${unquote(m[2])}` : null;
}

function columnOf(sql: string): string | null {
  const m = new RegExp(String.raw`(?:alter|drop|add) column (?:if (?:not )?exists )?(${IDENT})`, "i").exec(sql);
  return m ? unquote(m[1]) : null;
}

function size(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(0)} MB`;
  return `${Math.round(bytes / 1024)} kB`;
}

/** Integer and text widths, to tell a narrowing type change from a widening one. */
const INT_WIDTH: Record<string, number> = { smallint: 2, integer: 4, bigint: 8 };

function narrows(from: string | undefined, to: string): boolean {
  if (!from) return false;
  const f = from.toLowerCase().trim();
  const t = to.toLowerCase().trim();
  if (INT_WIDTH[f] && INT_WIDTH[t]) return INT_WIDTH[t] < INT_WIDTH[f];
  const len = (s: string) => /^(?:character varying|varchar|character|char)\((\d+)\)$/.exec(s)?.[1];
  if ((f === "text" || f === "character varying") && len(t)) return true;
  if (len(f) && len(t)) return Number(len(t)) < Number(len(f));
  const num = (s: string) => /^numeric\((\d+)(?:,\s*(\d+))?\)$/.exec(s);
  const nf = num(f);
  const nt = num(t);
  if (f === "numeric" && nt) return true;
  if (nf && nt) return Number(nt[1]) < Number(nf[1]) || Number(nt[2] ?? 0) < Number(nf[2] ?? 0);
  if (f.startsWith("timestamp") && t === "date") return true;
  if (
    (f === "double precision" && t === "real") ||
    (INT_WIDTH[t] !== undefined && (f === "numeric" || f.startsWith("numeric(") || f === "double precision" || f === "real"))
  )
    return true;
  return false;
}

/** Whether a type change keeps the data as it is on disk (no rewrite): a wider varchar, varchar to text, a wider numeric. */
function binaryCompatible(from: string | undefined, to: string): boolean {
  if (!from) return false;
  const f = from.toLowerCase();
  const t = to.toLowerCase();
  const len = (s: string) => /^(?:character varying|varchar)\((\d+)\)$/.exec(s)?.[1];
  if (len(f) && (t === "text" || t === "character varying" || (len(t) && Number(len(t)) >= Number(len(f))))) return true;
  if (f === "character varying" && t === "text") return true;
  return false;
}

const VOLATILE_DEFAULT = /default\s+.*\b(random|gen_random_uuid|uuid_generate_v\d\w*|clock_timestamp|timeofday|nextval)\s*\(/i;

/** The values of a `create type ... as enum (...)` statement. */
function enumValues(sql: string): string[] | null {
  const m = /^create type .* as enum \((.*)\);?$/is.exec(sql.trim());
  if (!m) return null;
  return [...m[1].matchAll(/'((?:[^']|'')*)'/g)].map((v) => v[1].replace(/''/g, "'"));
}

/** Classifies every statement of a diff (an enum's recreation is judged by the values of its new definition). */
export function classifyAll(statements: string[], facts: ProductionFacts): Statement[] {
  const newEnums = new Map<string, string[]>();
  for (const sql of statements) {
    const values = enumValues(sql);
    const object = objectOf(sql.replace(/\s+/g, " "));
    if (values && object) newEnums.set(object, values);
  }
  return statements.map((sql) => classify(sql, facts, { newEnums }));
}

/** The values production's enum has and its recreation in the diff lacks; null when either is unknown. */
function removedEnumValues(type: string, facts: ProductionFacts, context: Context): string[] | null {
  const before = facts.enums.get(type);
  const after = context.newEnums.get(type);
  return before && after ? before.filter((v) => !after.includes(v)) : null;
}

/** The largest table of production with a column of this type. */
function enumTableBytes(facts: ProductionFacts, type: string): number {
  let bytes = 0;
  const bare = type.replace(/^public\./, "");
  for (const [key, t] of facts.columnTypes) {
    if (t === type || t === bare) bytes = Math.max(bytes, facts.tableBytes.get(key.split(".").slice(0, 2).join(".")) ?? 0);
  }
  return bytes;
}

function classify(sql: string, facts: ProductionFacts, context: Context): Statement {
  const s = sql.replace(/\s+/g, " ").trim();
  const object = objectOf(s);
  const bytes = object ? (facts.tableBytes.get(object) ?? 0) : 0;
  const big = bytes >= facts.bigTableBytes;
  const sized = object && facts.tableBytes.has(object) ? ` (${object} is ${size(bytes)} in production)` : "";
  const out = (kind: string, risk: Statement["risk"], reason: string): Statement => ({ sql, object, kind, risk, reason });
  const lockRisk = (kind: string, what: string, safer: string) =>
    big
      ? out(kind, "risky", `${what}${sized}: ${safer}`)
      : out(kind, "safe", `${what}; ${object ?? "the table"} is small in production${sized ? ` (${size(bytes)})` : ""}, so the lock is brief`);

  if (/^drop table/i.test(s))
    return out("drop_table", "destructive", `drops ${object} and every row in it${sized}; stop using it first, keep it a release, then drop it`);
  if (/^alter type .* rename to .*__old_version_to_be_dropped/i.test(s)) {
    const removed = object ? removedEnumValues(object, facts, context) : null;
    if (!removed || removed.length) {
      const without = removed?.length ? ` without ${removed.map((v) => `'${v}'`).join(", ")}` : "";
      return out(
        "recreate_enum",
        "destructive",
        `recreates enum ${object}${without}: rows holding a removed value make the migration fail, and the value is gone`,
      );
    }
    const tableBytes = enumTableBytes(facts, object!);
    const what = `recreates enum ${object} to add values (migra's form), rewriting the columns of that type`;
    return tableBytes >= facts.bigTableBytes
      ? out("recreate_enum", "risky", `${what} under an ACCESS EXCLUSIVE lock (${size(tableBytes)}): ALTER TYPE ... ADD VALUE instead`)
      : out("recreate_enum", "safe", `${what}; the tables using it are small`);
  }
  const oldVersion = /^drop type (.*)__old_version_to_be_dropped"?;?$/i.exec(s);
  if (oldVersion && object) {
    // the end of a recreation: the columns use the new version by now
    const type = object.replace(/__old_version_to_be_dropped$/, "");
    const removed = removedEnumValues(type, facts, context);
    if (removed && removed.length === 0) {
      return { ...out("recreate_enum", "safe", `drops the old version of enum ${type} once its columns use the new one (no value is removed)`), object: type };
    }
    return { ...out("recreate_enum", "destructive", `drops the old version of enum ${type}, and with it the values the new one lacks`), object: type };
  }
  if (/^drop type/i.test(s)) return out("drop_type", "destructive", `drops type ${object}; columns of that type must be gone first`);
  if (/^drop sequence/i.test(s)) return out("drop_sequence", "destructive", `drops sequence ${object} and its current value`);
  if (/^drop schema/i.test(s)) return out("drop_schema", "destructive", `drops schema ${object ?? ""} and what is in it`);
  if (/^alter table/i.test(s)) {
    const column = columnOf(s);
    const key = `${object}.${column}`;
    if (/ drop column /i.test(s)) {
      return out("drop_column", "destructive", `drops column ${key} and its data${sized}; stop reading it first (deploy), then drop it in a later release`);
    }
    const type = /alter column \S+ (?:set data )?type (.+?)(?: using .*)?;?$/i.exec(s);
    if (type) {
      const to = type[1].replace(/ collate .*/i, "").trim();
      const from = facts.columnTypes.get(key);
      if (narrows(from, to))
        return out("alter_column_type", "destructive", `narrows ${key} from ${from} to ${to}: values that do not fit fail the migration or are cut`);
      if (binaryCompatible(from, to)) return out("alter_column_type", "safe", `changes ${key} from ${from} to ${to} without rewriting the table`);
      return lockRisk(
        "alter_column_type",
        `changes ${key} from ${from ?? "its type"} to ${to}, rewriting the table under an ACCESS EXCLUSIVE lock`,
        "add a new column, backfill it in batches, then switch to it",
      );
    }
    if (/ add column /i.test(s)) {
      if (VOLATILE_DEFAULT.test(s)) {
        return lockRisk(
          "add_column",
          `adds ${key} with a volatile default, rewriting the table under an ACCESS EXCLUSIVE lock`,
          "add it without a default, set the default, then backfill in batches",
        );
      }
      if (/ not null/i.test(s) && !/ default /i.test(s)) {
        return bytes > 0 || big
          ? out(
              "add_column",
              "risky",
              `adds ${key} NOT NULL without a default: fails if ${object} has rows${sized}; add a default, or add it nullable and backfill`,
            )
          : out("add_column", "safe", `adds ${key} NOT NULL to an empty table`);
      }
      return out("add_column", "safe", `adds ${key} (no rewrite: a constant default or none)`);
    }
    if (/ set not null/i.test(s)) {
      return lockRisk(
        "set_not_null",
        `sets ${key} NOT NULL, scanning the table under an ACCESS EXCLUSIVE lock`,
        `add CHECK (${column} IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL (PostgreSQL 12+ skips the scan)`,
      );
    }
    if (/ add constraint .* foreign key/i.test(s) && !/ not valid/i.test(s)) {
      return lockRisk(
        "add_foreign_key",
        `adds a foreign key on ${object}, checking every row while writes wait`,
        "add it NOT VALID, then VALIDATE CONSTRAINT in a later statement",
      );
    }
    if (/ add constraint .* check ?\(/i.test(s) && !/ not valid/i.test(s)) {
      return lockRisk(
        "add_check",
        `adds a check on ${object}, checking every row under an ACCESS EXCLUSIVE lock`,
        "add it NOT VALID, then VALIDATE CONSTRAINT in a later statement",
      );
    }
    if (/ validate constraint /i.test(s)) {
      return out("validate_constraint", "safe", `validates a constraint of ${object}: a scan that does not block reads or writes (SHARE UPDATE EXCLUSIVE)`);
    }
    if (/ add constraint .* (unique|primary key) using index /i.test(s)) {
      return out("add_unique", "safe", `makes the index just built a constraint of ${object} (no new scan)`);
    }
    if (/ add constraint .* (foreign key|check ?\()/i.test(s) && / not valid/i.test(s)) {
      return out(
        /foreign key/i.test(s) ? "add_foreign_key" : "add_check",
        "safe",
        `adds a constraint to ${object} NOT VALID: only new rows are checked until it is validated`,
      );
    }
    if (/ add constraint .* (unique|primary key)/i.test(s)) {
      return lockRisk(
        "add_unique",
        `adds a unique key on ${object}, building its index while writes wait`,
        "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX",
      );
    }
    if (/ drop constraint /i.test(s)) return out("drop_constraint", "safe", `drops a constraint of ${object}`);
    if (/ alter column .* (set|drop) default/i.test(s)) return out("alter_default", "safe", `changes a default of ${object} (rows are not touched)`);
    if (/ drop not null/i.test(s)) return out("drop_not_null", "safe", `allows NULL in ${key}`);
    if (/ (enable|disable|force|no force) row level security/i.test(s)) return out("row_security", "safe", `changes row level security on ${object}`);
    return out("alter_table", "safe", `alters ${object}`);
  }
  if (/^create (unique )?index/i.test(s)) {
    if (/ concurrently /i.test(s)) return out("create_index", "safe", `builds an index on ${object} without blocking writes`);
    return lockRisk("create_index", `builds an index on ${object} while writes wait`, "CREATE INDEX CONCURRENTLY (outside a transaction)");
  }
  if (/^drop index/i.test(s)) return out("drop_index", "safe", `drops index ${object}; queries that used it get slower`);
  const kinds: [RegExp, string, string][] = [
    [/^create table/i, "create_table", "creates a table"],
    [/^create (or replace )?view|^create materialized view/i, "create_view", "creates or replaces a view"],
    [/^drop (materialized )?view/i, "drop_view", "drops a view (no data)"],
    [/^create (or replace )?function|^create (or replace )?procedure/i, "create_function", "creates or replaces a function"],
    [/^drop (function|procedure)/i, "drop_function", "drops a function"],
    [/^create (or replace )?trigger|^create constraint trigger/i, "create_trigger", "creates a trigger"],
    [/^drop trigger/i, "drop_trigger", "drops a trigger"],
    [/^create policy|^alter policy/i, "create_policy", "creates or changes a row level security policy"],
    [/^drop policy/i, "drop_policy", "drops a row level security policy: rows it hid may become visible"],
    [/^create sequence|^alter sequence/i, "sequence", "creates or changes a sequence"],
    [/^create type/i, "create_type", "creates a type"],
    [/^alter type .* add value/i, "add_enum_value", "adds an enum value"],
    [/^create extension/i, "create_extension", "creates an extension"],
    [/^drop extension/i, "drop_extension", "drops an extension"],
    [/^create schema/i, "create_schema", "creates a schema"],
    [/^(grant|revoke)/i, "privileges", "changes privileges"],
    [/^comment on/i, "comment", "changes a comment"],
  ];
  for (const [re, kind, what] of kinds) if (re.test(s)) return out(kind, "safe", object ? `${what}: ${object}` : what);
  return out("other", "safe", "no data is rewritten or dropped");
}

export function summarize(statements: Statement[]): { safe: number; risky: number; destructive: number } {
  return {
    safe: statements.filter((s) => s.risk === "safe").length,
    risky: statements.filter((s) => s.risk === "risky").length,
    destructive: statements.filter((s) => s.risk === "destructive").length,
  };
}
