// Production's writes since a preview's origin, as test_decoding prints them, turned into statements
// that replay them in the cutover candidate (issue #19, data mode). Pure: no I/O here.
//
// The format is contrib/test_decoding/test_decoding.c (PostgreSQL 15): one text row per change,
//   table <quote_identifier(schema)>.<quote_identifier(table)>: INSERT: <col>[<format_type_be>]:<value> ...
// where a value is `null`, `unchanged-toast-datum`, a bare number (int2/4/8, oid, float4/8, numeric),
// `true`/`false` (bool), B'0101' (bit, varbit), or the type's output text in single quotes with `'` doubled.
// Names and values are production's tenant's data: quoted segments are read as units, so `]`, `:`,
// spaces, quotes or newlines inside them can never shift the parse. Scanning is index-based (no
// slicing of the remaining line), since tens of thousands of lines may be replayed.
//
// The statements take every value as a bind parameter and every identifier through quoteIdent; they
// are meant to run as the tenant's own role, so a mistake here can never reach beyond the tenant.
import { quoteIdent } from "./sql.js";

export interface QualifiedName {
  schema: string;
  name: string;
}

/** A TOASTed value an UPDATE left unchanged: test_decoding does not print it, so it cannot be replayed. */
export const UNCHANGED_TOAST: unique symbol = Symbol("unchanged-toast-datum");

export interface DecodedColumn {
  name: string;
  /** format_type_be's text, as printed (quoted identifiers stay quoted): `integer`, `text[]`, `public."x]:y"`. */
  type: string;
  /** The type's output text (bool as `true`/`false`, bit strings without `B'…'`), or null, or UNCHANGED_TOAST. */
  value: string | null | typeof UNCHANGED_TOAST;
}

export type RowChange =
  | { kind: "insert"; table: QualifiedName; newTuple: DecodedColumn[] }
  /** oldKey: production's replica identity before the update, printed when it changed or under REPLICA IDENTITY FULL. */
  | { kind: "update"; table: QualifiedName; oldKey: DecodedColumn[] | null; newTuple: DecodedColumn[] }
  /** oldKey null: "(no-tuple-data)", a table without replica identity. */
  | { kind: "delete"; table: QualifiedName; oldKey: DecodedColumn[] | null };

export type DecodedChange =
  | RowChange
  | { kind: "truncate"; tables: QualifiedName[]; restartSeqs: boolean; cascade: boolean }
  | { kind: "begin"; xid: number | null }
  /** at: the commit time as the decoding session printed it (with 'include-timestamp'). */
  | { kind: "commit"; xid: number | null; at: string | null }
  | { kind: "message" };

/** A line that is not test_decoding output as we know it. The message quotes at most the line's start. */
export class DecodingError extends Error {
  override name = "DecodingError";
}

/** A change the candidate's table cannot take (a column it lacks, no key to find the row by, …). */
export class UnreplayableChange extends Error {
  override name = "UnreplayableChange";
  constructor(
    readonly table: QualifiedName,
    reason: string,
  ) {
    super(`${describeTable(table)}: ${reason}`);
  }
}

// --- parsing -----------------------------------------------------------------------------------

const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** Built-in types test_decoding prints bare. Their names are keywords, so a user type of that name is always printed quoted. */
const BARE_NUMBER_TYPES = new Set(["smallint", "integer", "bigint", "real", "double precision", "numeric"]);
const BIT_TYPES = new Set(["bit", "bit varying"]);
const BOOLEAN_TYPE = "boolean";
/** oid is no keyword: a user type named oid may be printed bare too, with a quoted value. */
const OID_TYPE = "oid";
const NUMBER = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]?Infinity)$/;

const BEGIN_LINE = /^BEGIN(?: (\d+))?$/;
const COMMIT_LINE = /^COMMIT(?: (\d+))?(?: \(at ([^()]+)\))?$/;
const TRUNCATE_FLAGS = /^ (?:\(no-flags\)|restart_seqs(?: cascade)?|cascade)$/;
const NO_TUPLE_DATA = " (no-tuple-data)";
const NEW_TUPLE = " new-tuple:";
/** How much of a bad line an error quotes: enough to see which table, not the row's data. */
const QUOTED_PREFIX = 60;

export function parseChangeLine(line: string): DecodedChange {
  if (line.startsWith("table ")) return new LineReader(line).tableChange();
  if (line.startsWith("BEGIN")) {
    const m = BEGIN_LINE.exec(line);
    if (!m) throw lineError(line, "a BEGIN line that is not `BEGIN <xid>`", 0);
    return { kind: "begin", xid: m[1] === undefined ? null : Number(m[1]) };
  }
  if (line.startsWith("COMMIT")) {
    const m = COMMIT_LINE.exec(line);
    if (!m) throw lineError(line, "a COMMIT line that is not `COMMIT <xid> (at <time>)` (two-phase and streamed transactions are not supported)", 0);
    return { kind: "commit", xid: m[1] === undefined ? null : Number(m[1]), at: m[2] ?? null };
  }
  // pg_logical_emit_message: nothing to replay (its content is free text, not read)
  if (line.startsWith("message: transactional: ")) return { kind: "message" };
  throw lineError(line, "not a test_decoding change (expected `table …`, `BEGIN`, `COMMIT` or `message:`)", 0);
}

function lineError(line: string, what: string, at: number): DecodingError {
  const start = line.length > QUOTED_PREFIX ? `${JSON.stringify(line.slice(0, QUOTED_PREFIX))}…` : JSON.stringify(line);
  return new DecodingError(`test_decoding line: ${what}, at character ${at + 1} of ${line.length}, in the line starting ${start}`);
}

class LineReader {
  private pos = 0;

  constructor(private readonly line: string) {}

  tableChange(): DecodedChange {
    this.pos = "table ".length;
    const tables = [this.qualifiedName()];
    while (this.line.startsWith(", ", this.pos)) {
      this.pos += 2;
      tables.push(this.qualifiedName());
    }
    this.expect(": ");
    if (this.accept("TRUNCATE:")) {
      if (!TRUNCATE_FLAGS.test(this.line.slice(this.pos))) this.fail("TRUNCATE flags that are not `(no-flags)`, `restart_seqs` or `cascade`");
      return { kind: "truncate", tables, restartSeqs: this.line.includes(" restart_seqs", this.pos), cascade: this.line.endsWith(" cascade") };
    }
    if (tables.length > 1) this.fail("several tables for a change other than TRUNCATE");
    const table = tables[0];
    if (this.accept("INSERT:")) {
      if (this.accept(NO_TUPLE_DATA)) this.fail("an INSERT without tuple data");
      return { kind: "insert", table, newTuple: this.tuple(false) };
    }
    if (this.accept("UPDATE:")) {
      let oldKey: DecodedColumn[] | null = null;
      if (this.accept(" old-key:")) {
        oldKey = this.tuple(true);
        this.expect(NEW_TUPLE);
      }
      if (this.accept(NO_TUPLE_DATA)) this.fail("an UPDATE without tuple data");
      return { kind: "update", table, oldKey, newTuple: this.tuple(false) };
    }
    if (this.accept("DELETE:")) {
      if (this.accept(NO_TUPLE_DATA)) {
        this.expectEnd();
        return { kind: "delete", table, oldKey: null };
      }
      return { kind: "delete", table, oldKey: this.tuple(false) };
    }
    return this.fail("an action that is not INSERT, UPDATE, DELETE or TRUNCATE");
  }

  /** ` name[type]:value` pairs up to the end of the line, or (an old key) up to ` new-tuple:`. */
  private tuple(stopAtNewTuple: boolean): DecodedColumn[] {
    const columns: DecodedColumn[] = [];
    while (this.pos < this.line.length) {
      // a column name is an identifier, which never starts with "new-tuple:" unquoted
      if (stopAtNewTuple && this.line.startsWith(NEW_TUPLE, this.pos)) return columns;
      this.expect(" ");
      const name = this.identifier();
      this.expect("[");
      const type = this.typeName();
      this.expect(":");
      columns.push({ name, type, value: this.value(type) });
    }
    if (stopAtNewTuple) this.fail("an old key without ` new-tuple:`");
    return columns;
  }

  private qualifiedName(): QualifiedName {
    const schema = this.identifier();
    this.expect(".");
    return { schema, name: this.identifier() };
  }

  /** quote_identifier's output: "…" with "" for a quote, or bare [a-z_][a-z0-9_]*. */
  private identifier(): string {
    const line = this.line;
    if (line.charCodeAt(this.pos) === DOUBLE_QUOTE) {
      const end = this.closingQuote(this.pos, DOUBLE_QUOTE);
      const raw = line.slice(this.pos + 1, end);
      if (raw.length === 0) this.fail("an empty quoted identifier");
      this.pos = end + 1;
      return undouble(raw, '"');
    }
    const start = this.pos;
    let i = start;
    while (i < line.length) {
      const c = line.charCodeAt(i);
      const lower = c >= 0x61 && c <= 0x7a;
      const digit = c >= 0x30 && c <= 0x39;
      if (!(lower || c === 0x5f || (digit && i > start))) break;
      i++;
    }
    if (i === start) this.fail("an identifier expected");
    this.pos = i;
    return line.slice(start, i);
  }

  /** format_type_be's text up to the `]` that closes it: array suffixes `[]` and quoted names are skipped whole. */
  private typeName(): string {
    const line = this.line;
    const start = this.pos;
    let depth = 0;
    for (let i = start; i < line.length; i++) {
      const c = line.charCodeAt(i);
      if (c === DOUBLE_QUOTE) i = this.closingQuote(i, DOUBLE_QUOTE);
      else if (c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACKET) {
        if (depth === 0) {
          if (i === start) this.fail("an empty type name");
          this.pos = i + 1;
          return line.slice(start, i);
        }
        depth--;
      }
    }
    return this.fail("a type name without its closing `]`");
  }

  private value(type: string): string | null | typeof UNCHANGED_TOAST {
    const line = this.line;
    const start = this.pos;
    if (line.charCodeAt(start) === SINGLE_QUOTE) {
      if (BARE_NUMBER_TYPES.has(type) || BIT_TYPES.has(type) || type === BOOLEAN_TYPE)
        this.fail(`a quoted value for type ${type}, which test_decoding prints bare`);
      const end = this.closingQuote(start, SINGLE_QUOTE);
      this.pos = end + 1;
      const raw = line.slice(start + 1, end);
      return undouble(raw, "'");
    }
    if (line.startsWith("B'", start)) {
      if (!BIT_TYPES.has(type)) this.fail(`a bit string for type ${type}`);
      const end = line.indexOf("'", start + 2);
      if (end < 0) this.fail("an unterminated bit string");
      const bits = line.slice(start + 2, end);
      if (!/^[01]*$/.test(bits)) this.fail("a bit string with digits other than 0 and 1");
      this.pos = end + 1;
      return bits;
    }
    let end = line.indexOf(" ", start);
    if (end < 0) end = line.length;
    const token = line.slice(start, end);
    this.pos = end;
    if (token === "null") return null;
    if (token === "unchanged-toast-datum") return UNCHANGED_TOAST;
    if (type === BOOLEAN_TYPE && (token === "true" || token === "false")) return token;
    if ((BARE_NUMBER_TYPES.has(type) || type === OID_TYPE) && NUMBER.test(token)) return token;
    this.pos = start;
    return this.fail(`a value that is not null, a number, true/false or a quoted string for type ${type}`);
  }

  /** Index of the quote closing the segment opened at `open`; a doubled quote inside stands for one. */
  private closingQuote(open: number, quote: number): number {
    const ch = String.fromCharCode(quote);
    let from = open + 1;
    for (;;) {
      const at = this.line.indexOf(ch, from);
      if (at < 0) {
        this.pos = open;
        this.fail(quote === DOUBLE_QUOTE ? "an unterminated quoted identifier" : "an unterminated quoted value");
      }
      if (this.line.charCodeAt(at + 1) !== quote) return at;
      from = at + 2;
    }
  }

  private accept(text: string): boolean {
    if (!this.line.startsWith(text, this.pos)) return false;
    this.pos += text.length;
    return true;
  }

  private expect(text: string): void {
    if (!this.accept(text)) this.fail(`\`${text}\` expected`);
  }

  private expectEnd(): void {
    if (this.pos !== this.line.length) this.fail("more text after the change");
  }

  private fail(what: string): never {
    throw lineError(this.line, what, this.pos);
  }
}

/** One quote for each doubled one. (split/join: several times faster than replaceAll on quote-heavy megabytes.) */
function undouble(raw: string, quote: string): string {
  const doubled = quote + quote;
  return raw.includes(doubled) ? raw.split(doubled).join(quote) : raw;
}

// --- statements ---------------------------------------------------------------------------------

/** The candidate's table a change is replayed into, as the caller read it from the candidate's catalogue. */
export interface TargetTable {
  columns: Map<string, { generated: boolean; identityAlways: boolean }>;
  /** The columns a row is found by (its primary key), in index order; empty when it has none. */
  keyColumns: string[];
}

export interface BoundStatement {
  text: string;
  /** Text parameters: PostgreSQL infers each one's type from the column it meets. */
  values: (string | null)[];
}

export interface ReplayStatement extends BoundStatement {
  /** For an UPDATE: run this when it touched no row (the candidate lacks it), so production's row ends up there. */
  ifNoRows?: BoundStatement;
}

/**
 * The statements that replay one change in the candidate; none for BEGIN, COMMIT and messages
 * (the caller keeps production's transaction boundaries). Throws UnreplayableChange for a change
 * the target cannot take. `target` may be null only for those without a table row (TRUNCATE too).
 */
export function statementFor(change: DecodedChange, target: TargetTable | null): ReplayStatement[] {
  switch (change.kind) {
    case "begin":
    case "commit":
    case "message":
      return [];
    case "truncate":
      return [truncateStatement(change.tables, change.restartSeqs, change.cascade)];
  }
  if (!target) throw new Error(`statementFor: a ${change.kind} of ${describeTable(change.table)} needs the candidate's table`);
  switch (change.kind) {
    case "insert":
      return [insertStatement(change.table, change.newTuple, target)];
    case "update":
      return [updateStatement(change.table, change.oldKey, change.newTuple, target)];
    case "delete":
      return [deleteStatement(change.table, change.oldKey, target)];
  }
}

function describeTable(table: QualifiedName): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}

/** Numbers parameters in the order their placeholders are written. */
class Parameters {
  readonly values: (string | null)[] = [];

  add(value: string | null): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Every column of production's tuple must exist in the candidate, or its value would be lost. */
function targetColumns(
  table: QualifiedName,
  tuple: DecodedColumn[],
  target: TargetTable,
): { column: DecodedColumn; generated: boolean; identityAlways: boolean }[] {
  return tuple.map((column) => {
    const found = target.columns.get(column.name);
    if (!found) throw new UnreplayableChange(table, `column ${quoteIdent(column.name)} is not in the candidate's table`);
    return { column, ...found };
  });
}

function insertStatement(table: QualifiedName, newTuple: DecodedColumn[], target: TargetTable): ReplayStatement {
  // generated columns are computed again by the candidate, which refuses values for them
  const columns = targetColumns(table, newTuple, target).filter((c) => !c.generated);
  if (columns.length === 0) return { text: `INSERT INTO ${describeTable(table)} DEFAULT VALUES`, values: [] };
  const params = new Parameters();
  const names: string[] = [];
  const placeholders: string[] = [];
  for (const { column } of columns) {
    if (column.value === UNCHANGED_TOAST) throw new UnreplayableChange(table, `column ${quoteIdent(column.name)} was not printed (an unchanged TOAST value)`);
    names.push(quoteIdent(column.name));
    placeholders.push(params.add(column.value));
  }
  // OVERRIDING SYSTEM VALUE keeps production's identity values (GENERATED ALWAYS would refuse them)
  let text = `INSERT INTO ${describeTable(table)} (${names.join(", ")}) OVERRIDING SYSTEM VALUE VALUES (${placeholders.join(", ")})`;
  if (target.keyColumns.length > 0) {
    const keys = new Set(target.keyColumns);
    // production's write wins over a preview row with the same key; GENERATED ALWAYS identities can only be SET to DEFAULT
    const updated = columns.filter((c) => !keys.has(c.column.name) && !c.identityAlways).map((c) => quoteIdent(c.column.name));
    const conflict = ` ON CONFLICT (${target.keyColumns.map(quoteIdent).join(", ")})`;
    text += updated.length === 0 ? `${conflict} DO NOTHING` : `${conflict} DO UPDATE SET ${updated.map((c) => `${c} = EXCLUDED.${c}`).join(", ")}`;
  }
  return { text, values: params.values };
}

/**
 * `k1 = $n AND k2 = $m` from the key columns' values in `tuple`, with pg_catalog's operator whatever the search_path.
 * A bare `$n` next to `=` would be typed by the operator, not the column: `record` for a composite key, which
 * PostgreSQL cannot read. COALESCE with a typed null of the column (`(NULL::s.t).k`) gives it the column's type
 * without writing a type name, and folds away before planning, so the key's index is still used.
 */
function keyCondition(table: QualifiedName, tuple: DecodedColumn[], target: TargetTable, params: Parameters, whose: string): string {
  if (target.keyColumns.length === 0) throw new UnreplayableChange(table, "the candidate's table has no primary key to find the row by");
  const byName = new Map(tuple.map((c) => [c.name, c]));
  const rowType = `(NULL::${describeTable(table)})`;
  return target.keyColumns
    .map((key) => {
      const column = byName.get(key);
      if (!column)
        throw new UnreplayableChange(
          table,
          `${whose} does not hold key column ${quoteIdent(key)} (production's replica identity differs from the candidate's key)`,
        );
      if (column.value === null) throw new UnreplayableChange(table, `key column ${quoteIdent(key)} is null in ${whose}`);
      if (column.value === UNCHANGED_TOAST)
        throw new UnreplayableChange(table, `key column ${quoteIdent(key)} was not printed in ${whose} (an unchanged TOAST value)`);
      return `${quoteIdent(key)} OPERATOR(pg_catalog.=) COALESCE(${params.add(column.value)}, ${rowType}.${quoteIdent(key)})`;
    })
    .join(" AND ");
}

function updateStatement(table: QualifiedName, oldKey: DecodedColumn[] | null, newTuple: DecodedColumn[], target: TargetTable): ReplayStatement {
  const columns = targetColumns(table, newTuple, target);
  const keys = new Set(target.keyColumns);
  if (oldKey) {
    // a GENERATED ALWAYS identity can only be SET to DEFAULT: a key of that kind that moved cannot follow
    const before = new Map(oldKey.map((c) => [c.name, c.value]));
    const moved = columns.find((c) => c.identityAlways && keys.has(c.column.name) && before.has(c.column.name) && before.get(c.column.name) !== c.column.value);
    if (moved) throw new UnreplayableChange(table, `key column ${quoteIdent(moved.column.name)} changed, and the candidate's is GENERATED ALWAYS`);
  }
  const params = new Parameters();
  // with an old key the key itself may have changed, so it is set too; without one it did not
  const assignments = columns
    .filter((c) => !c.generated && !c.identityAlways && c.column.value !== UNCHANGED_TOAST && (oldKey !== null || !keys.has(c.column.name)))
    .map((c) => `${quoteIdent(c.column.name)} = ${params.add(c.column.value as string | null)}`);
  if (assignments.length === 0) {
    // nothing to change, but the row count must still say whether the row is there
    const settable = [...target.keyColumns, ...target.columns.keys()].find((name) => {
      const column = target.columns.get(name);
      return column && !column.generated && !column.identityAlways;
    });
    if (!settable) throw new UnreplayableChange(table, "the candidate's table has no column an UPDATE may set");
    assignments.push(`${quoteIdent(settable)} = ${quoteIdent(settable)}`);
  }
  const where = keyCondition(table, oldKey ?? newTuple, target, params, oldKey ? "the old key" : "the new tuple");
  const statement: ReplayStatement = { text: `UPDATE ${describeTable(table)} SET ${assignments.join(", ")} WHERE ${where}`, values: params.values };
  // a row the candidate lacks can be inserted only when production printed all of it
  const complete = columns.every((c) => c.generated || c.column.value !== UNCHANGED_TOAST);
  if (complete) statement.ifNoRows = insertStatement(table, newTuple, target);
  return statement;
}

function deleteStatement(table: QualifiedName, oldKey: DecodedColumn[] | null, target: TargetTable): ReplayStatement {
  if (!oldKey) throw new UnreplayableChange(table, "production printed no key for a DELETE (its table has no replica identity)");
  // only the key is read: the other columns of a REPLICA IDENTITY FULL old key carry no data to keep
  const params = new Parameters();
  const where = keyCondition(table, oldKey, target, params, "the old key");
  return { text: `DELETE FROM ${describeTable(table)} WHERE ${where}`, values: params.values };
}

function truncateStatement(tables: QualifiedName[], restartSeqs: boolean, cascade: boolean): ReplayStatement {
  let text = `TRUNCATE ${tables.map(describeTable).join(", ")}`;
  if (restartSeqs) text += " RESTART IDENTITY";
  if (cascade) text += " CASCADE";
  return { text, values: [] };
}
