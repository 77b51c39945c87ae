// Runs code as a real job (a control-plane database of its own on the harness
// cluster, the real Worker), so pg_dump / pg_restore go through the same
// JobContext, output recording and failure classification as in production.
import crypto from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { inject } from "vitest";
import { adminQuery, createDatabase, withDatabase } from "../harness/server.js";
import { createDb, type Db } from "../../server/src/platform/store/db.js";
import { migrate } from "../../server/src/platform/store/migrate.js";
import { newId } from "../../server/src/platform/secrets.js";
import { enqueueJob } from "../../server/src/platform/jobs/sql/enqueue.js";
import { Worker, type JobContext } from "../../server/src/platform/jobs/worker.js";
import type { JobRow } from "../../server/src/platform/jobs/types.js";

export interface ToolJobs {
  /** Runs fn as one job with a single attempt and answers its row once it has finished. */
  run(fn: (ctx: JobContext) => Promise<void>, timeoutMs?: number): Promise<JobRow>;
  close(): Promise<void>;
}

export async function startToolJobs(): Promise<ToolJobs> {
  const controlDb = `capy_tooljobs_${crypto.randomBytes(5).toString("hex")}`;
  await createDatabase(inject("pgAdminUrl"), controlDb);
  const url = withDatabase(inject("pgAdminUrl"), controlDb);
  const db: Db = createDb(url, { max: 6, applicationName: "capydb-test-tool-jobs" });
  await migrate(db);
  const bodies = new Map<string, (ctx: JobContext) => Promise<void>>();
  const quiet = { info() {}, warn() {}, error() {} };
  const worker = new Worker({
    db,
    databaseUrl: url,
    handlers: { "test.tool": { run: (ctx) => bodies.get(ctx.job.id)!(ctx) } },
    concurrency: 2,
    leaseSeconds: 30,
    retryBaseMs: 50,
    pollIntervalMs: 100,
    log: quiet,
  });
  await worker.start();
  return {
    async run(fn, timeoutMs = 30_000) {
      const id = newId("job");
      bodies.set(id, fn);
      await enqueueJob(db, { id, type: "test.tool", maxAttempts: 1 });
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { rows } = await db.query<JobRow>("SELECT * FROM jobs WHERE id = $1", [id]);
        if (rows[0].state === "succeeded" || rows[0].state === "failed") return rows[0];
        if (Date.now() > deadline) throw new Error(`job ${id} still ${rows[0].state} after ${timeoutMs} ms`);
        await sleep(50);
      }
    },
    async close() {
      await worker.stop(0);
      await db.end();
      await adminQuery("postgres", `DROP DATABASE IF EXISTS "${controlDb}" WITH (FORCE)`);
    },
  };
}
