// The DDL from one tenant database's schema to another's, by @pgkit/migra (a port of migra
// on @pgkit/schemainspect): each side is read in a session as that database's own role, so
// the catalog queries run with the tenant's rights only. The work runs on a worker thread:
// migra's comparison is synchronous JavaScript (half a second for a few hundred tables), which
// on the server's own thread would stall every request and every job's lease heartbeat.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { createClient } from "@pgkit/client";
import { Migration, PostgreSQL } from "@pgkit/migra";
import type { PgEndpoint } from "./pgtools.js";

function clientOf(e: PgEndpoint) {
  // our statements wait a bounded time; names resolve in pg_catalog (so definitions come out schema-qualified)
  const options = "-c search_path=pg_catalog,pg_temp -c lock_timeout=30s -c statement_timeout=300s";
  const url =
    `postgresql://${encodeURIComponent(e.user)}:${encodeURIComponent(e.password)}@${e.host}:${e.port}/${encodeURIComponent(e.database)}` +
    `?application_name=capydb-schema-diff&options=${encodeURIComponent(options)}`;
  return createClient(url, { pgpOptions: { connect: { max: 2 }, initialize: { noWarnings: true } } });
}

/** The statements that would make `from`'s schema into `to`'s (migra's order; unsafe ones included), on this thread. */
export async function diffSchemasHere(from: PgEndpoint, to: PgEndpoint): Promise<string[]> {
  const a = clientOf(from);
  const b = clientOf(to);
  try {
    // both sides inspected at once (migra alone reads one after the other): a catalog read costs
    // about as much as the diff itself on a schema of a few hundred tables
    const [inspectedA, inspectedB] = await Promise.all([PostgreSQL.create(a), PostgreSQL.create(b)]);
    const migration = await Migration.create(inspectedA, inspectedB, {});
    migration.set_safety(false); // destructive statements are listed (and classified), not refused
    migration.add_all_changes();
    return [...migration.statements].map((s) => s.trim()).filter(Boolean);
  } finally {
    await Promise.all([a.end().catch(() => {}), b.end().catch(() => {})]);
  }
}

/** A request to a worker thread, and its answer. */
export interface DiffRequest {
  from: PgEndpoint;
  to: PgEndpoint;
}
export type DiffAnswer = { statements: string[] } | { error: string };

/** Worker threads with no diff to do: started once (loading migra costs about as much as a diff), kept for the next. */
const idle: Worker[] = [];
const MAX_IDLE = 2;

function startWorker(): Worker {
  const here = fileURLToPath(import.meta.url);
  const entry = new URL(`./schema-diff-worker${path.extname(here)}`, import.meta.url);
  // From the sources (tsx) the worker registers tsx's loader before loading its module; built, it loads the .js beside this one.
  return here.endsWith(".ts")
    ? new Worker(
        `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`,
        { eval: true },
      )
    : new Worker(entry);
}

/**
 * diffSchemasHere on a worker thread, one diff per worker at a time. A worker that answered
 * waits (unref'd: it keeps no process alive) for the next diff; one whose diff was stopped by
 * `signal`, or that failed, is ended.
 */
export function diffSchemas(from: PgEndpoint, to: PgEndpoint, signal?: AbortSignal): Promise<string[]> {
  if (signal?.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error("the schema diff was stopped"));
  const worker = idle.pop() ?? startWorker();
  worker.ref();
  return new Promise<string[]>((resolve, reject) => {
    const settle = () => {
      signal?.removeEventListener("abort", stop);
      worker.off("message", onMessage).off("error", onError).off("exit", onExit);
    };
    const stop = () => {
      settle();
      void worker.terminate();
      reject(signal!.reason instanceof Error ? signal!.reason : new Error("the schema diff was stopped"));
    };
    const onMessage = (answer: DiffAnswer) => {
      settle();
      if (idle.length < MAX_IDLE) {
        worker.unref();
        idle.push(worker);
      } else void worker.terminate();
      if ("error" in answer) reject(new Error(answer.error));
      else resolve(answer.statements);
    };
    const onError = (err: Error) => {
      settle();
      void worker.terminate();
      reject(err);
    };
    const onExit = (code: number) => {
      settle();
      reject(new Error(`the schema diff's worker thread exited (code ${code}) without an answer`));
    };
    signal?.addEventListener("abort", stop, { once: true });
    worker.on("message", onMessage).on("error", onError).on("exit", onExit);
    worker.postMessage({ from, to } satisfies DiffRequest);
  });
}
