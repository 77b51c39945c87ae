// Load for cutover tests and benches: a writer inserts numbered rows into a table
// `ledger (writer text, n int)`, one transaction each, until stopped. Only commits the server
// acknowledged count. A writer whose session was closed reconnects and goes on with the next
// number (a write whose acknowledgement was lost is not retried: the writer, not the platform,
// would count it twice). Each acknowledged write's latency is kept, with when it was sent.
import pg from "pg";

export interface WriterResult {
  name: string;
  acked: number[];
  errors: string[];
  /** per acknowledged write: when it was sent (ms since the epoch) and how long it took */
  latencies: { at: number; ms: number }[];
}

export interface Writer {
  readonly acked: number;
  stop: () => Promise<WriterResult>;
}

export function writer(name: string, uri: string, opts: { intervalMs?: number } = {}): Writer {
  const result: WriterResult = { name, acked: [], errors: [], latencies: [] };
  let running = true;
  const interval = opts.intervalMs ?? 5;
  const done = (async () => {
    let c: pg.Client | null = null;
    for (let n = 1; running; n++) {
      const began = Date.now();
      try {
        if (!c) {
          c = new pg.Client({ connectionString: uri });
          c.on("error", () => {});
          await c.connect();
        }
        await c.query("insert into ledger(writer, n) values ($1, $2)", [name, n]);
        result.acked.push(n);
        result.latencies.push({ at: began, ms: Date.now() - began });
      } catch (err) {
        result.errors.push((err as Error).message);
        await c?.end().catch(() => {});
        c = null;
        await new Promise((r) => setTimeout(r, 20));
      }
      const wait = interval - (Date.now() - began);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await c?.end().catch(() => {});
  })();
  return {
    get acked() {
      return result.acked.length;
    },
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
