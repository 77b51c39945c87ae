// Load for cutover tests and benches: a writer inserts numbered rows into a table
// `ledger (writer text, n int)`, one transaction each, until stopped. Only commits the server
// acknowledged count. A writer whose session was closed reconnects and goes on with the next
// number (a write whose acknowledgement was lost is not retried: the writer, not the platform,
// would count it twice). Each acknowledged write's latency is kept, with when it was sent.
import pg from "pg";

export interface Ack {
  n: number;
  /** When the write was due at the writer's pace (wall-clock ms, sub-millisecond). */
  due: number;
  sent: number;
  acked: number;
}

export interface WriterResult {
  name: string;
  acked: number[];
  /** per acknowledged write: when it was due, sent and acknowledged */
  acks: Ack[];
  errors: string[];
  /** per failed write: when it failed */
  failures: { n: number; at: number; message: string }[];
  /** per acknowledged write: when it was sent (ms since the epoch) and how long it took */
  latencies: { at: number; ms: number }[];
}

export interface Writer {
  readonly name: string;
  readonly acked: number;
  /** What the writer has acknowledged and seen fail so far (live; final after stop). */
  readonly result: WriterResult;
  stop: () => Promise<WriterResult>;
}

export interface WriterOptions {
  /** The pace: one write every intervalMs (default 5). */
  intervalMs?: number;
  /**
   * Keep the pace's schedule after a stall (writes due during it are sent at once, back to
   * back), as clients of a paused database do; by default the schedule starts over from the
   * stall's end.
   */
  catchUp?: boolean;
  /** The first row's number (default 1): a writer started again goes on with the next ones. */
  firstNumber?: number;
  applicationName?: string;
}

/** Wall-clock milliseconds with sub-millisecond precision (the server's log uses the same clock). */
export const wallClock = () => performance.timeOrigin + performance.now();

export function writer(name: string, uri: string, opts: WriterOptions = {}): Writer {
  const result: WriterResult = { name, acked: [], acks: [], errors: [], failures: [], latencies: [] };
  let running = true;
  const interval = opts.intervalMs ?? 5;
  const done = (async () => {
    let c: pg.Client | null = null;
    let due = wallClock();
    for (let n = opts.firstNumber ?? 1; running; n++) {
      if (due > wallClock()) await new Promise((r) => setTimeout(r, due - wallClock()));
      if (!running) break;
      const sent = wallClock();
      try {
        if (!c) {
          c = new pg.Client({ connectionString: uri, application_name: opts.applicationName ?? `capydb-writer-${name}` });
          c.on("error", () => {});
          await c.connect();
        }
        await c.query("insert into ledger(writer, n) values ($1, $2)", [name, n]);
        const acked = wallClock();
        result.acked.push(n);
        result.acks.push({ n, due, sent, acked });
        result.latencies.push({ at: Math.round(sent), ms: Math.round(acked - sent) });
      } catch (err) {
        result.errors.push((err as Error).message);
        result.failures.push({ n, at: wallClock(), message: (err as Error).message });
        await c?.end().catch(() => {});
        c = null;
        // a refused connection answers at once: no tight loop while behind the pace
        await new Promise((r) => setTimeout(r, 20));
      }
      due = opts.catchUp ? due + interval : Math.max(due + interval, wallClock());
    }
    await c?.end().catch(() => {});
  })();
  return {
    name,
    get acked() {
      return result.acked.length;
    },
    result,
    stop: async () => {
      running = false;
      await done;
      return result;
    },
  };
}

/** The numbers of a writer's rows in the database, in order (duplicates kept). */
export async function ledgerOf(uri: string, name: string): Promise<number[]> {
  const c = new pg.Client({ connectionString: uri });
  await c.connect();
  try {
    return (await c.query<{ n: number }>("select n from ledger where writer = $1 order by n", [name])).rows.map((r) => r.n);
  } finally {
    await c.end();
  }
}

/** What a writer's acknowledged writes look like in the database: missing ones and ones written twice. */
export async function checkLedger(uri: string, r: WriterResult): Promise<{ missing: number[]; twice: number[] }> {
  const rows = await ledgerOf(uri, r.name);
  const seen = new Set<number>();
  const twice: number[] = [];
  for (const n of rows) {
    if (seen.has(n)) twice.push(n);
    seen.add(n);
  }
  return { missing: r.acked.filter((n) => !seen.has(n)), twice };
}
