// Cursor pagination of lists (?limit=&cursor= → next_cursor). A list keeps its order (newest
// first: created_at descending, then id); a cursor is the sort key and id of the last row of a
// page, base64url-encoded: opaque to clients, stable under inserts (a row made after the first
// page sorts before the cursor and does not shift the pages after it), and still valid when
// its row is deleted. Without limit and cursor a list answers as it always did.
import { PAGE_LIMIT_DEFAULT } from "@capydb/api";
import type { Queryable } from "../platform/store/db.js";
import { badRequest } from "./errors.js";

export interface Page {
  limit: number;
  /** The last row of the previous page: created_at (microseconds, UTC) and id. */
  after: { key: string; id: string } | null;
}

/** What a paginated store query selects besides the row: its sort key as exact text. */
export const cursorKeyColumn = (createdAt: string) => `to_char(${createdAt} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_key`;

const KEY = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const ID = /^[a-z]{2,5}_[a-z0-9]{1,40}$/;

export function encodeCursor(key: string, id: string): string {
  return Buffer.from(JSON.stringify([key, id])).toString("base64url");
}

function decodeCursor(cursor: string): { key: string; id: string } {
  let value: unknown;
  try {
    value = /^[A-Za-z0-9_-]+$/.test(cursor) ? JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) : null;
  } catch {
    value = null;
  }
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    typeof value[0] !== "string" ||
    typeof value[1] !== "string" ||
    !KEY.test(value[0]) ||
    !ID.test(value[1])
  ) {
    throw badRequest("cursor: is not a cursor of this list (pass the next_cursor of the previous page as it was given)");
  }
  return { key: value[0], id: value[1] };
}

/** The page a validated query asks for, or null: no limit and no cursor, the whole list as before. */
export function pageOf(query: { limit?: number; cursor?: string }): Page | null {
  if (query.limit === undefined && query.cursor === undefined) return null;
  return { limit: query.limit ?? PAGE_LIMIT_DEFAULT, after: query.cursor === undefined ? null : decodeCursor(query.cursor) };
}

/**
 * The condition for the rows after the cursor, in the order `createdAt DESC, id <idOrder>`
 * (appending its values to params), or "TRUE" on the first page.
 */
export function afterCursor(page: Page, params: unknown[], createdAt: string, id: string, idOrder: "ASC" | "DESC"): string {
  if (!page.after) return "TRUE";
  const key = `$${params.push(page.after.key)}::timestamptz`;
  const last = `$${params.push(page.after.id)}`;
  return `(${createdAt} < ${key} OR (${createdAt} = ${key} AND ${id} ${idOrder === "DESC" ? "<" : ">"} ${last}))`;
}

/** The LIMIT of a page's query: one row more than the page, to know whether another follows. */
export const pageLimit = (page: Page, params: unknown[]) => `LIMIT $${params.push(page.limit + 1)}`;

/** A page's rows (without their cursor_key) and the cursor of the next page, null on the last. */
export function pageRows<T extends { id: string }>(rows: (T & { cursor_key: string })[], page: Page): { rows: T[]; next_cursor: string | null } {
  const more = rows.length > page.limit;
  const kept = rows.slice(0, page.limit);
  const last = kept[kept.length - 1];
  const next_cursor = more && last ? encodeCursor(last.cursor_key, last.id) : null;
  return {
    rows: kept.map((row) => {
      const { cursor_key: _key, ...rest } = row;
      return rest as unknown as T;
    }),
    next_cursor,
  };
}

/** A list's answer: the items, and next_cursor only when a page was asked for. */
export function listAnswer<K extends string, T>(
  name: K,
  items: T[],
  page: Page | null,
  nextCursor: string | null,
): Record<K, T[]> & { next_cursor?: string | null } {
  const answer = { [name]: items } as Record<K, T[]> & { next_cursor?: string | null };
  if (page) answer.next_cursor = nextCursor;
  return answer;
}

/** A list's rows, and the cursor of the page after them (null: the last page, or no page asked for). */
export interface Listed<T> {
  rows: T[];
  next_cursor: string | null;
}

export interface ListQuery {
  /** "SELECT ... FROM ..." (joins included), without WHERE: the page's sort key is selected before its first " FROM ". */
  base: string;
  where: string[];
  params: unknown[];
  /** The sort columns: createdAt descending, then id in idOrder (each list keeps the order it always had). */
  createdAt: string;
  id: string;
  idOrder: "ASC" | "DESC";
  /** The cap of the list without a page, as it always was. */
  unpagedLimit?: number;
}

/** Runs a list's query: the whole list (as before) without a page, else the page after its cursor. */
export async function listRows<T extends { id: string }>(db: Queryable, q: ListQuery, page: Page | null): Promise<Listed<T>> {
  const where = [...q.where];
  const params = [...q.params];
  const order = `ORDER BY ${q.createdAt} DESC, ${q.id}${q.idOrder === "DESC" ? " DESC" : ""}`;
  if (!page) {
    const sql = `${q.base}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ${order}${q.unpagedLimit ? ` LIMIT ${q.unpagedLimit}` : ""}`;
    return { rows: (await db.query<T>(sql, params)).rows, next_cursor: null };
  }
  where.push(afterCursor(page, params, q.createdAt, q.id, q.idOrder));
  const at = q.base.indexOf(" FROM ");
  const base = `${q.base.slice(0, at)}, ${cursorKeyColumn(q.createdAt)}${q.base.slice(at)}`;
  const sql = `${base} WHERE ${where.join(" AND ")} ${order} ${pageLimit(page, params)}`;
  return pageRows((await db.query<T & { cursor_key: string }>(sql, params)).rows, page);
}
