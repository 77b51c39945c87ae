// Data cutovers carry production's writes since the preview's origin into the preview before
// it becomes production (instance engine). The origin slot (test_decoding, made when the
// snapshot was taken, the preview recovered to exactly its start) holds every change since;
// a copy of it under the cutover's name is replayed into the preview:
//
//   catch-up   while production keeps writing, batches of whole transactions, each batch one
//              transaction in the preview that also records, in a replication origin, the
//              production position it reached (a retried job skips what was committed);
//   pause      PgBouncer PAUSE (pooled clients wait, no error), direct sessions closed and
//              refused (the database's connection limit at 0; superusers excepted: ours),
//              a flushed marker, the last changes drained, sequences moved to production's
//              values, then the swap and RESUME.
//
// The replay runs as the preview's own role (tenant code it meets runs with the tenant's
// rights), in replica mode (production's triggers already ran; the preview's do not fire
// again), row security off (a policy hiding rows fails the replay instead of losing rows).
// A change that cannot be applied fails the cutover before the pause, naming its table,
// unless the operator accepted losing those tables' writes.
import pg from "pg";
import crypto from "node:crypto";
import type { CarryOver } from "@capydb/api";
import type { AppContext } from "../context.js";
import type { JobContext } from "../platform/jobs/worker.js";
import { PermanentError, errorMessage } from "../platform/jobs/errors.js";
import { scrubSecrets } from "../platform/jobs/scrub.js";
import { quoteIdent } from "../platform/dataplane/sql.js";
import { openTenantSession, withTenantSession, type TenantLogin } from "../platform/dataplane/tenant-session.js";
import { CARRY_SLOT_PREFIX, CarrySource, beginCarryApply, dropCarrySlot, endCarryApply, type DecodedRow } from "../platform/dataplane/privileged.js";
import { parseChangeLine, statementFor, type DecodedChange, type DecodedColumn, type TargetTable } from "../platform/dataplane/decoding.js";
import type { ProjectRow } from "../projects/store.js";
import type { PreviewRow } from "../previews/store.js";
import { watchPause, type PauseWatchdog } from "./pause-watchdog.js";
import { pgTool } from "../platform/dataplane/pg-binaries.js";
import { JOB_COUNT, writesSinceOrigin, type CountOptions, type WritesSinceOrigin } from "../previews/origins.js";

/** Lines read per batch (whole transactions: the stop is checked after each). */
const BATCH_LINES = 5000;
/** Catch-up ends when a read brings fewer lines than this (the pause then drains about as few)... */
const SMALL_LAG_LINES = 300;
/** ...or after this many rounds, once production's writes no longer outrun a batch. */
const MAX_CATCH_UP_ROUNDS = 50;

/** The carry slot and the preview's replication origin of a cutover share this name. */
export const carryName = (cutoverId: string) => `${CARRY_SLOT_PREFIX}${cutoverId.replace(/[^a-z0-9]/gi, "_").toLowerCase()}`;
/** A completed cutover's slot on the new production, what a rollback carries back from. */
export const carryBackName = (cutoverId: string) => `${carryName(cutoverId)}_back`;

// ---------------------------------------------------------------- the plan: which tables can be carried

interface ProductionTable {
  qualified: string;
  schema: string;
  name: string;
  key: string[];
  columns: string[];
}

interface PreviewTable {
  qualified: string;
  schema: string;
  name: string;
  columns: { name: string; generated: boolean; identity_always: boolean; required: boolean }[];
  unique_keys: string[][];
}

const PRODUCTION_TABLES = `
  SELECT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname) AS qualified,
         n.nspname::pg_catalog.text AS schema, c.relname::pg_catalog.text AS name,
         COALESCE((SELECT pg_catalog.array_agg(a.attname::pg_catalog.text ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped), '{}') AS columns,
         COALESCE((SELECT pg_catalog.array_agg(a.attname::pg_catalog.text ORDER BY k.ord)
                     FROM pg_catalog.pg_index i
                     CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY AS k(attnum, ord)
                     JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attnum OPERATOR(pg_catalog.=) k.attnum
                    WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid
                      AND ((c.relreplident OPERATOR(pg_catalog.=) 'd' AND i.indisprimary) OR (c.relreplident OPERATOR(pg_catalog.=) 'i' AND i.indisreplident))), '{}') AS key
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
   WHERE c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p}'::pg_catalog.char[])
     AND n.nspname OPERATOR(pg_catalog.<>) ALL ('{pg_catalog,information_schema}'::pg_catalog.name[])
     AND NOT pg_catalog.starts_with(n.nspname::pg_catalog.text, 'pg_toast')`;

const PREVIEW_TABLES = `
  SELECT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname) AS qualified,
         n.nspname::pg_catalog.text AS schema, c.relname::pg_catalog.text AS name,
         COALESCE((SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                    'name', a.attname::pg_catalog.text,
                    'generated', a.attgenerated OPERATOR(pg_catalog.<>) '',
                    'identity_always', a.attidentity OPERATOR(pg_catalog.=) 'a',
                    'required', a.attnotnull AND NOT a.atthasdef AND a.attgenerated OPERATOR(pg_catalog.=) '' AND a.attidentity OPERATOR(pg_catalog.=) '') ORDER BY a.attnum)
                     FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped), '[]') AS columns,
         COALESCE((SELECT pg_catalog.json_agg((SELECT pg_catalog.array_agg(a.attname::pg_catalog.text)
                                                 FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) AS k(attnum)
                                                 JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attnum OPERATOR(pg_catalog.=) k.attnum))
                     FROM pg_catalog.pg_index i
                    WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
                      AND i.indimmediate), '[]') AS unique_keys
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
   WHERE c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p}'::pg_catalog.char[])
     AND n.nspname OPERATOR(pg_catalog.<>) ALL ('{pg_catalog,information_schema}'::pg_catalog.name[])
     AND NOT pg_catalog.starts_with(n.nspname::pg_catalog.text, 'pg_toast')`;

/** A table's identity for lookups: schema and name as they are, whatever quoting spells them. */
const tableKey = (t: { schema: string; name: string }) => JSON.stringify([t.schema, t.name]);

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

export interface CarryPlan {
  possible: boolean;
  reason: string | null;
  notCarried: { table: string; reason: string }[];
  /** Where each table's changes go, by tableKey; absent: not carried. */
  targets: Map<string, TargetTable>;
  /** Each table's name as test_decoding and writes_since_origin spell it (quote_ident), by tableKey. */
  labels: Map<string, string>;
  writes: WritesSinceOrigin;
}

const loginOf = (ctx: AppContext, role: string, sealed: string): TenantLogin => ({ role, password: ctx.box.open(sealed) });

/** One side of a carry: a database and the tenant role that reads or writes it. */
export interface CarryEnd {
  clusterId: string;
  database: string;
  login: TenantLogin;
}

/** A database's tables as the plan reads them when it is the target (also kept for a rollback's carry back). */
export type TargetTables = PreviewTable[];

/** The target's tables, read as its own role. */
export async function readTargetTables(ctx: AppContext, end: CarryEnd): Promise<TargetTables> {
  return withTenantSession(ctx.clusters, end.clusterId, end.database, end.login, (c) => c.query<PreviewTable>(PREVIEW_TABLES).then((r) => r.rows));
}

/**
 * Which of the tables the source wrote (counted from its slot) the target can take: a table the
 * target lacks, a key the source has not (its updates and deletes match no row), a key the
 * target cannot match (no unique index on it) or a column the target requires and the source's
 * rows lack, is not carried. `what` names the target in the reasons.
 */
export async function planBetween(ctx: AppContext, from: CarryEnd, to: TargetTables, writes: WritesSinceOrigin, what: string): Promise<CarryPlan> {
  if (!writes.known) return { possible: false, reason: writes.reason, notCarried: [], targets: new Map(), labels: new Map(), writes };
  const prod = await withTenantSession(ctx.clusters, from.clusterId, from.database, from.login, (c) =>
    c.query<ProductionTable>(PRODUCTION_TABLES).then((r) => r.rows),
  );
  const prev = to;
  const production = new Map(prod.map((t) => [t.qualified, t]));
  const previewTables = new Map(prev.map((t) => [t.qualified, t]));
  const notCarried: { table: string; reason: string }[] = [];
  const targets = new Map<string, TargetTable>();
  for (const w of writes.tables) {
    const theirs = production.get(w.table);
    const ours = previewTables.get(w.table);
    const why = ((): string | null => {
      if (!ours) return `${what} has no such table (dropped or renamed there)`;
      const key = theirs?.key ?? [];
      if (key.length === 0 && w.updates + w.deletes > 0) {
        return `it has no primary key (or replica identity index) in production: its updates and deletes cannot be matched to the rows of ${what}`;
      }
      if (key.length > 0 && !ours.unique_keys.some((u) => sameSet(u, key))) {
        return `${what} has no unique key on (${key.join(", ")}), production's key: its rows cannot be matched`;
      }
      const required = ours.columns.filter((c) => c.required && !(theirs?.columns ?? []).includes(c.name));
      if (required.length > 0 && w.inserts > 0) {
        return `the column${required.length > 1 ? "s" : ""} ${required.map((c) => c.name).join(", ")} of ${what} ${required.length > 1 ? "are" : "is"} NOT NULL without a default: production's new rows have no value for it`;
      }
      return null;
    })();
    if (why) notCarried.push({ table: w.table, reason: why });
  }
  // every table the target has is a target (a truncate or a change of a table with no counted write still applies)
  const labels = new Map<string, string>();
  for (const t of [...prod, ...prev]) labels.set(tableKey(t), t.qualified);
  for (const t of prev) {
    if (notCarried.some((n) => n.table === t.qualified)) continue;
    targets.set(tableKey(t), {
      columns: new Map(t.columns.map((c) => [c.name, { generated: c.generated, identityAlways: c.identity_always }])),
      keyColumns: production.get(t.qualified)?.key ?? [],
    });
  }
  return { possible: true, reason: null, notCarried, targets, labels, writes };
}

export const productionEnd = (ctx: AppContext, project: ProjectRow): CarryEnd => ({
  clusterId: project.cluster_id,
  database: project.database_name,
  login: loginOf(ctx, project.role_name, project.role_password_sealed),
});

const previewEnd = (ctx: AppContext, preview: PreviewRow): CarryEnd => ({
  clusterId: preview.cluster_id,
  database: preview.database_name,
  login: loginOf(ctx, preview.role_name, preview.role_password_sealed),
});

/** Which of the tables production wrote since the preview's origin the preview can take. */
export async function planCarryOver(ctx: AppContext, project: ProjectRow, preview: PreviewRow, opts: CountOptions = JOB_COUNT): Promise<CarryPlan> {
  const writes = await writesSinceOrigin(ctx, project, preview, opts);
  if (writes.known && !(await ctx.instances?.instanceOf(preview.cluster_id))) {
    return {
      possible: false,
      reason: "the preview is not on the instance engine: production's writes cannot be carried into it",
      notCarried: [],
      targets: new Map(),
      labels: new Map(),
      writes,
    };
  }
  const to = writes.known ? await readTargetTables(ctx, previewEnd(ctx, preview)) : [];
  return planBetween(ctx, productionEnd(ctx, project), to, writes, "the preview");
}

/** The request's carry-over as the API shows it before execute (live). */
export function planToApi(plan: Pick<CarryPlan, "possible" | "reason" | "notCarried"> & { writes?: WritesSinceOrigin }, acceptWriteLoss: boolean): CarryOver {
  // a slot that could not be read now (too much to decode within a request's time) is not a carry that cannot be done
  const unread = plan.writes && !plan.writes.known && plan.writes.transient === true;
  return {
    possible: plan.possible || unread === true,
    reason: plan.reason,
    tables_not_carried: plan.notCarried,
    accept_write_loss: acceptWriteLoss,
    state: "waiting",
    through_lsn: null,
    transactions: 0,
    tables: [],
    sequences: 0,
    pause_ms: null,
  };
}

// ---------------------------------------------------------------- the replay

type TableCounts = CarryOver["tables"][number];

const tableName = (t: { schema: string; name: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/** Applies decoded transactions to the preview in one session, as the preview's role. */
class Replay {
  readonly counts = new Map<string, TableCounts>();
  transactions = 0;
  through: string | null;

  constructor(
    private readonly session: pg.Client,
    private readonly plan: CarryPlan,
    private readonly acceptWriteLoss: boolean,
    progress: string | null,
  ) {
    this.through = progress;
  }

  private count(table: string, kind: "inserts" | "updates" | "deletes" | "skipped", n = 1): void {
    let c = this.counts.get(table);
    if (!c) this.counts.set(table, (c = { table, inserts: 0, updates: 0, deletes: 0, skipped: 0 }));
    c[kind] += n;
  }

  /** Whether production's position `lsn` is already in the preview. */
  private done(lsn: string): boolean {
    return this.through !== null && lsnValue(lsn) <= lsnValue(this.through);
  }

  /**
   * Applies the rows' whole transactions not yet in the preview, in one transaction of the
   * preview that also records how far it got. Answers the last commit the rows hold, applied
   * now or before (null: none), how far the slot may move.
   */
  async apply(rows: DecodedRow[]): Promise<string | null> {
    const all = groupTransactions(rows);
    const xacts = all.filter((x) => !this.done(x.commitLsn));
    if (xacts.length === 0) return all.at(-1)?.commitLsn ?? null;
    const last = xacts[xacts.length - 1];
    try {
      await this.applyAll(xacts, false);
    } catch (err) {
      if (!(err instanceof ChangeFailed) || !this.acceptWriteLoss) throw err;
      // accepted: apply again change by change, each failing change skipped and counted
      await this.applyAll(xacts, true);
    }
    this.through = last.commitLsn;
    this.transactions += xacts.length;
    return last.commitLsn;
  }

  private async applyAll(xacts: Transaction[], isolate: boolean): Promise<void> {
    const undo = new Map<string, TableCounts>([...this.counts].map(([k, v]) => [k, { ...v }]));
    const last = xacts[xacts.length - 1];
    await this.session.query("BEGIN");
    try {
      for (const x of xacts) for (const change of x.changes) await this.applyChange(change, isolate);
      await this.session.query("SELECT pg_catalog.pg_replication_origin_xact_setup($1::pg_catalog.pg_lsn, $2::pg_catalog.timestamptz)", [
        last.commitLsn,
        last.commitAt ?? new Date().toISOString(),
      ]);
      await this.session.query("COMMIT");
    } catch (err) {
      await this.session.query("ROLLBACK").catch(() => {});
      this.counts.clear();
      for (const [k, v] of undo) this.counts.set(k, v);
      throw err;
    }
  }

  private async applyChange(change: DecodedChange, isolate: boolean): Promise<void> {
    const tables = change.kind === "truncate" ? change.tables : "table" in change ? [change.table] : [];
    if (tables.length === 0) return; // BEGIN, COMMIT, messages
    const label = tables.map((t) => this.plan.labels.get(tableKey(t)) ?? tableName(t)).join(", ");
    const targets = tables.map((t) => this.plan.targets.get(tableKey(t)));
    if (targets.some((t) => !t)) {
      // a table listed as not carried (execute was accepted knowing it), or one made after the plan
      if (!this.acceptWriteLoss) throw new ChangeFailed(label, "the preview cannot take its changes");
      this.count(label, "skipped");
      return;
    }
    const target = targets[0]!;
    let statements: ReturnType<typeof statementFor>;
    try {
      statements = statementFor(onlyPreviewColumns(change, target), target);
    } catch (err) {
      if (!this.acceptWriteLoss) throw new ChangeFailed(label, errorMessage(err));
      this.count(label, "skipped");
      return;
    }
    if (isolate) await this.session.query("SAVEPOINT carry");
    try {
      for (const st of statements) {
        const res = await this.session.query({ name: statementName(st.text), text: st.text, values: st.values });
        if (res.rowCount === 0 && st.ifNoRows)
          await this.session.query({ name: statementName(st.ifNoRows.text), text: st.ifNoRows.text, values: st.ifNoRows.values });
      }
      if (isolate) await this.session.query("RELEASE SAVEPOINT carry");
    } catch (err) {
      if (!isolate) throw new ChangeFailed(label, errorMessage(err));
      await this.session.query("ROLLBACK TO SAVEPOINT carry");
      this.count(label, "skipped");
      return;
    }
    if (change.kind === "insert") this.count(label, "inserts");
    else if (change.kind === "update") this.count(label, "updates");
    else if (change.kind === "delete") this.count(label, "deletes");
  }

  /** Moves each of production's sequences in the preview to production's value, unless the preview's is already past it. */
  async setSequences(values: { schema: string; name: string; last_value: string | null }[]): Promise<number> {
    let set = 0;
    for (const v of values) {
      if (v.last_value === null) continue;
      const { rows } = await this.session.query<{ moved: boolean }>(
        `SELECT pg_catalog.setval(k.oid, CASE WHEN s.seqincrement OPERATOR(pg_catalog.>) 0
                  THEN GREATEST($3::pg_catalog.int8, COALESCE(pg_catalog.pg_sequence_last_value(k.oid), $3::pg_catalog.int8))
                  ELSE LEAST($3::pg_catalog.int8, COALESCE(pg_catalog.pg_sequence_last_value(k.oid), $3::pg_catalog.int8)) END) IS NOT NULL AS moved
           FROM pg_catalog.pg_class k JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace
           JOIN pg_catalog.pg_sequence s ON s.seqrelid OPERATOR(pg_catalog.=) k.oid
          WHERE n.nspname OPERATOR(pg_catalog.=) $1::pg_catalog.name AND k.relname OPERATOR(pg_catalog.=) $2::pg_catalog.name`,
        [v.schema, v.name, v.last_value],
      );
      if (rows[0]?.moved) set += 1;
    }
    return set;
  }
}

class ChangeFailed extends PermanentError {
  constructor(table: string, why: string) {
    super(
      `production's writes to ${table} cannot be carried into the preview (${why}): nothing was swapped; execute again with accept_write_loss: true to go on without them`,
    );
  }
}

const statementName = (text: string) => `carry_${crypto.createHash("sha1").update(text).digest("hex").slice(0, 20)}`;

/** Drops the values of columns the preview no longer has (its migration dropped them: that is what it asked for). */
function onlyPreviewColumns(change: DecodedChange, target: TargetTable): DecodedChange {
  const keep = (cols: DecodedColumn[]) => cols.filter((c) => target.columns.has(c.name));
  if (change.kind === "insert") return { ...change, newTuple: keep(change.newTuple) };
  if (change.kind === "update") return { ...change, newTuple: keep(change.newTuple), oldKey: change.oldKey && keep(change.oldKey) };
  if (change.kind === "delete") return { ...change, oldKey: change.oldKey && keep(change.oldKey) };
  return change;
}

interface Transaction {
  commitLsn: string;
  commitAt: string | null;
  changes: DecodedChange[];
}

/** test_decoding's lines, grouped into whole transactions (BEGIN … COMMIT); a trailing incomplete one is left for the next read. */
function groupTransactions(rows: DecodedRow[]): Transaction[] {
  const out: Transaction[] = [];
  let current: DecodedChange[] | null = null;
  for (const row of rows) {
    const change = parseChangeLine(row.data);
    if (change.kind === "begin") current = [];
    else if (change.kind === "commit") {
      if (current) out.push({ commitLsn: row.lsn, commitAt: change.at, changes: current });
      current = null;
    } else if (current) current.push(change);
    // a non-transactional message outside any transaction: nothing to apply
  }
  return out;
}

/** An LSN ("16/B374D848") as a number to compare. */
export function lsnValue(lsn: string): bigint {
  const [hi, lo] = lsn.split("/");
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

// ---------------------------------------------------------------- the cutover's steps

/** One direction of a carry: from production's slot into a target database, then the swap under the pause. */
export interface CarryLeg {
  ctx: AppContext;
  job: JobContext;
  /** The carry slot on production and the replication origin in the target share it. */
  name: string;
  /** The origin slot to copy under `name` (a forward carry), or null: the slot is there (a carry back). */
  copyFrom: string | null;
  /** Production: its writes are held for the drain and the swap. */
  production: ProjectRow;
  /** Where the writes go, and the role the replay runs as there. */
  target: CarryEnd;
  plan: CarryPlan;
  acceptWriteLoss: boolean;
  /** What an earlier attempt recorded (its counts go on). */
  before: CarryOver | null;
  record: (carry: CarryOver) => Promise<void>;
  /**
   * Work done after the catch-up, before the pause (a forward carry makes the slot a rollback
   * carries back from, and readies the swap); given the replay session's backend pid.
   */
  beforePause?: (replayPid: number) => Promise<void>;
}

/**
 * Carries production's writes into the target, then, with production's writes held, the last
 * of them and the sequences; runs `swap` while they are held and lets them go after. Answers
 * what `swap` answers. On failure before the swap production's writes are let go at once.
 */
export async function carryAndSwap<T>(leg: CarryLeg, swap: () => Promise<T>): Promise<{ result: T; carry: CarryOver }> {
  const { ctx, job, name, production: project, target, plan } = leg;
  const carry: CarryOver = { ...planToApi(plan, leg.acceptWriteLoss), state: "catching_up" };
  const source = await CarrySource.open(ctx.clusters, project.cluster_id, project.database_name, name);
  let session: pg.Client | null = null;
  try {
    if (leg.copyFrom) await source.copyFrom(leg.copyFrom);
    const progress = await beginCarryApply(ctx.clusters, target.clusterId, target.database, target.login.role, name);
    session = await openTenantSession(ctx.clusters, target.clusterId, target.database, target.login, {
      applicationName: "capydb-carry-over",
      statementTimeoutSeconds: 3600,
    });
    const replay = new Replay(session, plan, leg.acceptWriteLoss, progress);
    const snapshot = (): CarryOver => ({
      ...carry,
      through_lsn: replay.through,
      transactions: (leg.before?.transactions ?? 0) + replay.transactions,
      tables: mergeCounts(leg.before?.tables ?? [], [...replay.counts.values()]),
    });
    try {
      await session.query("SET session_replication_role = replica");
      await session.query("SET row_security = off");
      await session.query("SELECT pg_catalog.pg_replication_origin_session_setup($1)", [name]);
      // advance: the slot moves past what the preview committed (in the catch-up; the drain's
      // reads are not worth the decode an advance costs: the slot leaves with production's data,
      // and a retry skips what the preview's origin says it already applied)
      const step = async (upto: string | null, advance = true): Promise<number> => {
        const rows = await source.read(upto, BATCH_LINES);
        if (rows === null) {
          throw new PermanentError(
            "the slot production's writes are read from was lost (production wrote more WAL than CAPYDB_ORIGIN_SLOT_WAL_KEEP_MB while it waited): they cannot be carried; nothing was swapped",
          );
        }
        const reached = await replay.apply(rows);
        if (reached && advance) await source.advance(reached);
        return rows.length;
      };
      // catch up while production keeps writing, until what is left is small: the pause drains it
      for (let round = 0; ; round++) {
        if (job.signal.aborted) throw new Error("the job was stopped");
        const n = await step(null);
        await leg.record(snapshot());
        if (n < SMALL_LAG_LINES || (round >= MAX_CATCH_UP_ROUNDS && n < BATCH_LINES)) break;
      }
      if (leg.beforePause) {
        const { rows } = await session.query<{ pid: number }>("SELECT pg_catalog.pg_backend_pid() AS pid");
        await leg.beforePause(rows[0].pid);
      }
      // what the instances' shutdown checkpoints would write during the swap is written now
      await Promise.all([checkpoint(ctx, project.cluster_id), checkpoint(ctx, target.clusterId)]);
      // one more read past production's checkpoint, which logged its running transactions: the
      // advance moves the slot's restart point up to there, so the drain's reads decode from a
      // few ms before the pause, not from the last such record (up to 15 s of writes back)
      await step(null);
      ctx.faults.check("carry_over.before_pause");
      // the pause: pooled clients wait, direct sessions are closed and refused
      const watchdog = await watchThePause(ctx, project);
      const began = Date.now();
      const phases: Record<string, number> = {};
      const mark = (phase: string) => (phases[phase] = Date.now() - began);
      let swapped = false;
      try {
        // PgBouncer first: its clients' transactions end before the direct sessions are ended
        // (those include PgBouncer's server connections, idle once it has paused)
        await ctx.pooler.pause(project.cluster_id, project.database_name, ctx.config.instances.cutoverPauseWaitMs);
        mark("pooler_paused");
        await holdDirectWrites(ctx, project);
        mark("direct_held");
        carry.state = "paused";
        const final = await source.flushedLsn();
        mark("flushed");
        while ((await step(final, false)) >= BATCH_LINES) {
          // drained batch by batch up to the marker (a read short of a batch reached it)
        }
        mark("drained");
        carry.sequences = await replay.setSequences(await source.sequences());
        mark("sequences");
        ctx.faults.check("carry_over.drained");
        // the carry's slot is not dropped here: it leaves production with the data that holds it
        // (kept for the rollback window; a rollback that brings it back drops it, as does an undo)
        // not waited for: the swap waits for the session's backend to be gone before renaming
        // the database it is in, or stops its instance
        void session.end().catch(() => {});
        mark("replay_ended");
        const result = await swap();
        swapped = true;
        carry.pause_ms = Date.now() - began;
        carry.state = "done";
        job.log.info({ carry: name, ...phases, swapped: carry.pause_ms }, "the write pause, ms from its start");
        return { result, carry: snapshot() };
      } finally {
        if (!swapped) await releaseDirectWrites(ctx, project).catch(() => {});
        await ctx.pooler.resume(project.cluster_id, project.database_name).catch((err: unknown) => {
          job.log.error({ err: scrubSecrets(errorMessage(err)) }, "PgBouncer could not be resumed after the cutover's pause");
        });
        watchdog.ended();
      }
    } catch (err) {
      await leg.record({ ...snapshot(), state: "failed" }).catch(() => {});
      throw err;
    }
  } finally {
    await session?.end().catch(() => {});
    await source.close();
  }
}

/** The process that lifts the pause if this server dies inside it. */
async function watchThePause(ctx: AppContext, project: ProjectRow): Promise<PauseWatchdog> {
  const admin = new URL(await ctx.clusters.adminUrl(project.cluster_id));
  const pooler = await ctx.pooler.adminEndpoint(project.cluster_id);
  return watchPause({
    psql: pgTool(ctx.config.pgBinDir, "psql"),
    pooler: pooler && { ...pooler, database: project.database_name },
    production: {
      host: admin.hostname.replace(/^\[|\]$/g, ""),
      port: Number(admin.port || 5432),
      user: decodeURIComponent(admin.username),
      password: decodeURIComponent(admin.password),
      maintenanceDb: decodeURIComponent(admin.pathname.slice(1)) || "postgres",
      database: project.database_name,
    },
  });
}

async function checkpoint(ctx: AppContext, clusterId: string): Promise<void> {
  await (await ctx.clusters.pool(clusterId)).query("CHECKPOINT");
}

/** After the swap (or when a carry is given up): the grants and the origin the replay used go, from wherever its target's data now is. */
export async function finishCarry(ctx: AppContext, name: string, at: { clusterId: string; database: string; role: string }): Promise<void> {
  await endCarryApply(ctx.clusters, at.clusterId, at.database, at.role, name);
}

/** A failed carry's slot goes (production's WAL is no longer held for it). */
export async function dropCarry(ctx: AppContext, name: string, project: ProjectRow): Promise<void> {
  await dropCarrySlot(ctx.clusters, project.cluster_id, project.database_name, name);
}

function mergeCounts(before: TableCounts[], now: TableCounts[]): TableCounts[] {
  const out = new Map(before.map((t) => [t.table, { ...t }]));
  for (const t of now) {
    const o = out.get(t.table);
    if (!o) out.set(t.table, { ...t });
    else for (const k of ["inserts", "updates", "deletes", "skipped"] as const) o[k] += t[k];
  }
  return [...out.values()].sort((a, b) => a.table.localeCompare(b.table));
}

/**
 * Direct sessions of production's database are closed and no new one is let in (its
 * connection limit at 0; superusers, the platform's own sessions, are not held by it).
 */
async function holdDirectWrites(ctx: AppContext, project: ProjectRow): Promise<void> {
  const admin = await ctx.clusters.pool(project.cluster_id);
  await admin.query(`ALTER DATABASE ${quoteIdent(project.database_name)} WITH CONNECTION LIMIT 0`);
  // a session started after that commit meets the limit when it logs in: only older ones may write
  const since = (await admin.query<{ at: Date }>("SELECT pg_catalog.clock_timestamp() AS at")).rows[0].at;
  const older = `FROM pg_catalog.pg_stat_activity a JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.usesysid
      WHERE a.datname OPERATOR(pg_catalog.=) $1::pg_catalog.name AND NOT r.rolsuper AND a.backend_start OPERATOR(pg_catalog.<=) $2::pg_catalog.timestamptz`;
  // all are told at once, then waited for: a commit under way ends (acknowledged or not) before the drain's marker
  await admin.query(`SELECT pg_catalog.pg_terminate_backend(a.pid) ${older}`, [project.database_name, since]);
  for (const deadline = Date.now() + 10_000; ;) {
    const { rows } = await admin.query<{ n: string }>(`SELECT pg_catalog.count(*) AS n ${older}`, [project.database_name, since]);
    if (Number(rows[0].n) === 0) return;
    if (Date.now() > deadline) throw new Error("direct sessions of production did not end within 10 s of being terminated: writes were not paused");
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Production's database takes direct sessions again (also run on a rollback: the previous data was held when it was left). */
export async function releaseDirectWrites(ctx: AppContext, project: ProjectRow): Promise<void> {
  const admin = await ctx.clusters.pool(project.cluster_id);
  await admin.query(`ALTER DATABASE ${quoteIdent(project.database_name)} WITH CONNECTION LIMIT -1`);
}
