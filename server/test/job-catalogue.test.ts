// The job catalogue: every handler the server registers is a catalogued type and every
// catalogued type has a handler; payloads are checked when enqueued and when run; a
// dedupe key keeps one pending job per key, in the queue itself.
import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDatabase, startTestServer, withDatabase, type TestServer } from "../../test/harness/server.js";
import { createDb, type Db } from "../src/platform/store/db.js";
import { migrate } from "../src/platform/store/migrate.js";
import { enqueue, payloadOf } from "../src/platform/jobs/define.js";
import { PermanentError } from "../src/platform/jobs/errors.js";
import { jobs } from "../src/jobs/catalogue.js";
import { jobHandlers } from "../src/jobs/handlers.js";
import type { JobRow } from "../src/platform/jobs/types.js";

let db: Db;
let t: TestServer;

beforeAll(async () => {
  const name = `capy_catalogue_${crypto.randomBytes(4).toString("hex")}`;
  await createDatabase(inject("pgAdminUrl"), name);
  db = createDb(withDatabase(inject("pgAdminUrl"), name), { max: 4, applicationName: "capydb-test-catalogue" });
  await migrate(db);
  t = await startTestServer({ CAPYDB_WORKER_CONCURRENCY: "1" });
});
afterAll(async () => {
  await db?.end();
  await t?.stop();
});

describe("the job catalogue", () => {
  it("names exactly the job types the server has handlers for", () => {
    const catalogued = Object.values(jobs)
      .map((d) => d.type)
      .sort();
    expect(new Set(catalogued).size).toBe(catalogued.length);
    expect(Object.keys(jobHandlers(t.server.ctx)).sort()).toEqual(catalogued);
  });

  it("refuses a payload that does not fit its type, when enqueued and when run", async () => {
    const subject = { organizationId: "org_x", projectId: "prj_catalogue", clusterId: "cl_x" };
    await expect(enqueue(db, jobs.backupCreate, subject, { backup_id: "" })).rejects.toThrow();
    await expect(enqueue(db, jobs.importRun, subject, { replace: true })).rejects.toThrow(/exactly one of/);
    const row = { id: "job_malformed", type: "cutover.execute", payload: { cutover_id: 42 } } as unknown as JobRow;
    expect(() => payloadOf(jobs.cutoverExecute, row)).toThrow(PermanentError);
    expect(() => payloadOf(jobs.cutoverExecute, row)).toThrow(/malformed payload: cutover_id/);
    expect(() => payloadOf(jobs.cutoverRollback, { ...row, payload: { cutover_id: "cut_1" } })).toThrow(/is a cutover.execute, not a cutover.rollback/);
  });

  it("derives the locked resource, and a lock needs its subject", async () => {
    const job = await enqueue(db, jobs.backupRestore, { organizationId: "org_x", projectId: "prj_lock", clusterId: "cl_x" }, { backup_id: "bkp_1" });
    expect(job.locked_resource).toBe("project:prj_lock");
    await expect(enqueue(db, jobs.backupRestore, { organizationId: "org_x" }, { backup_id: "bkp_1" })).rejects.toThrow(/a project is required/);
  });

  it("keeps one pending job per dedupe key, concurrent enqueues included; a running one does not hold the key", async () => {
    const subject = { organizationId: "org_x", projectId: `prj_${crypto.randomBytes(4).toString("hex")}`, clusterId: "cl_x" };
    const many = await Promise.all(Array.from({ length: 8 }, () => enqueue(db, jobs.previewSpare, subject, {})));
    expect(new Set(many.map((j) => j.id)).size).toBe(1);
    const pending = await db.query("SELECT count(*)::int AS n FROM jobs WHERE job_key = $1", [`preview.spare:${subject.projectId}`]);
    expect(pending.rows[0].n).toBe(1);
    // once a worker has it, the next request makes the next job
    await db.query("UPDATE jobs SET state = 'running' WHERE id = $1", [many[0].id]);
    const next = await enqueue(db, jobs.previewSpare, subject, {});
    expect(next.id).not.toBe(many[0].id);
    expect(next.state).toBe("pending");
  });
});
