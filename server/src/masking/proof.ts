// The proof that masking worked, before a masked copy is used: no original value of a
// masked column survived. Values never leave the databases: both sides hash them with a
// random key made for this check (sha256(key || value)), and only hashes are compared.
//  - null / constant / redact: every row of the copy has the strategy's form;
//  - the keyed strategies: a sample of production's rows (random, up to SAMPLE_ROWS per
//    table) is compared row by row, by a key no rule changes, with the same rows of the
//    copy; email and hash (whose outputs cannot be anyone's original) on a table without
//    such a key: no sampled original appears anywhere in the copy's column.
import crypto from "node:crypto";
import type pg from "pg";
import { quoteIdent, quoteLiteral } from "../platform/dataplane/sql.js";
import { FORM_STRATEGIES, rowKeyOf, type PreparedRule } from "./catalog.js";

export const SAMPLE_ROWS = 1000;
/** Key types whose values round-trip through text and have pg_catalog's = (an index lookup in the copy). */
const KEY_TYPES = new Set(["int2", "int4", "int8", "text", "varchar", "uuid", "numeric", "date", "timestamp", "timestamptz"]);

export class MaskingProofError extends Error {}

const hashOf = (col: string) =>
  `pg_catalog.encode(pg_catalog.sha256($1::bytea OPERATOR(pg_catalog.||) pg_catalog.convert_to(${col}::pg_catalog.text, 'UTF8')), 'hex')`;
/** Originals the strategy keeps as they are by design are not sampled (a phone number without digits). */
const sampled = (p: PreparedRule) => {
  const col = quoteIdent(p.column.name);
  return p.rule.strategy === "phone" ? `CASE WHEN ${col}::pg_catalog.text OPERATOR(pg_catalog.~) '[0-9]' THEN ${hashOf(col)} END` : hashOf(col);
};

function formOf(p: PreparedRule): string {
  const col = quoteIdent(p.column.name);
  switch (p.rule.strategy) {
    case "null":
      return `${col} IS NULL`;
    case "constant":
      return `${col} IS NULL OR ${col} OPERATOR(pg_catalog.=) ${quoteLiteral(p.rule.value!)}::${p.column.type}`;
    default: // redact
      return `${col} IS NULL OR ${col}::pg_catalog.text OPERATOR(pg_catalog.~) '^x*$'`;
  }
}

/** Checks the masked copy against production; throws MaskingProofError naming the column. Answers how many values were compared. */
export async function proveMasked(production: pg.Client, copy: pg.Client, rules: PreparedRule[]): Promise<number> {
  const salt = crypto.randomBytes(32);
  let compared = 0;
  const byTable = new Map<string, PreparedRule[]>();
  for (const p of rules) byTable.set(p.table.name, [...(byTable.get(p.table.name) ?? []), p]);
  for (const [name, rs] of byTable) {
    const table = rs[0].table.sql;
    const form = rs.filter((p) => FORM_STRATEGIES.has(p.rule.strategy));
    if (form.length) {
      const counts = form.map((p, i) => `pg_catalog.count(*) FILTER (WHERE NOT (${formOf(p)})) AS c${i}`).join(", ");
      const { rows } = await copy.query<Record<string, string>>(`SELECT ${counts} FROM ${table}`);
      form.forEach((p, i) => {
        const left = Number(rows[0][`c${i}`]);
        if (left > 0) throw new MaskingProofError(`${left} row(s) of ${name}.${p.column.name} were not masked (${p.rule.strategy})`);
      });
      compared += form.length;
    }
    const keyed = rs.filter((p) => !FORM_STRATEGIES.has(p.rule.strategy));
    if (!keyed.length) continue;
    const rowKey = rowKeyOf(rs[0].table, new Set(rs.map((p) => p.column.name)));
    const hashes = keyed.map((p, i) => `${sampled(p)} AS h${i}`).join(", ");
    const notNull = keyed.map((p) => `${quoteIdent(p.column.name)} IS NOT NULL`).join(" OR ");
    if (rowKey) {
      // one built-in key column: looked up through its index in the copy; else compared as text
      const single = rowKey.length === 1 ? rs[0].table.columns.get(rowKey[0])! : null;
      const indexed = single && KEY_TYPES.has(single.baseType) ? single : null;
      const keySql = indexed ? `${quoteIdent(indexed.name)}::pg_catalog.text` : `ROW(${rowKey.map(quoteIdent).join(", ")})::pg_catalog.text`;
      const match = indexed
        ? `${quoteIdent(indexed.name)} OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.${indexed.baseType}[])`
        : `${keySql} OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.text[])`;
      // the sample is chosen first, and only its rows are hashed
      const { rows: originals } = await production.query<Record<string, string | null>>(
        `SELECT ${keySql} AS k, ${hashes} FROM (SELECT * FROM ${table} WHERE ${notNull} ORDER BY pg_catalog.random() LIMIT ${SAMPLE_ROWS}) sample`,
        [salt],
      );
      if (!originals.length) continue;
      const { rows: masked } = await copy.query<Record<string, string | null>>(`SELECT ${keySql} AS k, ${hashes} FROM ${table} WHERE ${match}`, [
        salt,
        originals.map((r) => r.k),
      ]);
      const byKey = new Map(masked.map((r) => [r.k, r]));
      keyed.forEach((p, i) => {
        const survived = originals.filter((o) => o[`h${i}`] !== null && byKey.get(o.k!)?.[`h${i}`] === o[`h${i}`]).length;
        if (survived) {
          throw new MaskingProofError(
            `${survived} of ${originals.length} sampled original value(s) of ${name}.${p.column.name} survived masking (${p.rule.strategy})`,
          );
        }
      });
      compared += originals.length * keyed.length;
    } else {
      // email / hash only (prepareRules refuses the others without a row key)
      for (const p of keyed) {
        const col = quoteIdent(p.column.name);
        const { rows: originals } = await production.query<{ h: string }>(
          `SELECT ${hashOf(col)} AS h FROM ${table} WHERE ${col} IS NOT NULL ORDER BY pg_catalog.random() LIMIT ${SAMPLE_ROWS}`,
          [salt],
        );
        if (!originals.length) continue;
        const { rows } = await copy.query<{ n: string }>(
          `SELECT pg_catalog.count(*) AS n FROM ${table} WHERE ${hashOf(col)} OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.text[])`,
          [salt, originals.map((o) => o.h)],
        );
        if (Number(rows[0].n) > 0)
          throw new MaskingProofError(`${rows[0].n} original value(s) of ${name}.${p.column.name} survived masking (${p.rule.strategy})`);
        compared += originals.length;
      }
    }
  }
  return compared;
}
