// Crash drills of a data cutover's write pause (issue #19): the server SIGKILLs itself inside
// the pause (production's writes drained into the preview, PgBouncer paused, direct sessions
// refused), right after the swap, and inside a rollback's pause (writes carried back). Its watchdog lifts the pause at once: pooled writers never
// see an error, direct ones get in again while no server runs. After a restart the job is
// retried and completes, and every acknowledged write is in production exactly once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { CapyClient, Project } from "@capydb/api";
import { instanceDrill, type InstanceDrill, type ServerProcess } from "../harness/server-process.js";
import { checkLedger, writer, type Writer } from "../harness/writers.js";

const run = promisify(execFile);
const psql = async (uri: string, sql: string) => (await run("psql", [uri, "-XAtc", sql])).stdout.trim();
let server: ServerProcess;

let drill: InstanceDrill;

beforeAll(async () => {
  drill = await instanceDrill("carry-over-crash");
  ({ server } = drill);
}, 60_000);

afterAll(async () => {
  await drill?.cleanup();
});

/** Waits until each writer has acknowledged `more` writes beyond what it had (the pause, if any, was lifted). */
async function progressed(writers: Writer[], more: number, timeoutMs: number): Promise<void> {
  const from = writers.map((w) => w.acked);
  const deadline = Date.now() + timeoutMs;
  while (writers.some((w, i) => w.acked < from[i] + more)) {
    if (Date.now() > deadline) throw new Error(`writers did not go on within ${timeoutMs} ms: ${writers.map((w, i) => w.acked - from[i]).join(", ")}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits for the server to kill itself at its fault point while the job runs; a job that ends first fails the test with its error. */
async function diesDuring(api: CapyClient, jobId: string): Promise<void> {
  const death = server.died();
  let dead = false;
  void death.then(() => (dead = true)).catch(() => (dead = true));
  for (const deadline = Date.now() + 300_000; !dead;) {
    const job = await api
      .getJob(jobId)
      .then((r) => r.job)
      .catch(() => null);
    if (job && (job.state === "failed" || job.state === "succeeded"))
      throw new Error(`the job ended (${job.state}: ${job.error}) before the server died\n${server.log.slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`the server did not reach its fault point\n${server.log.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await death;
}

describe("a data cutover's pause survives the server's death", () => {
  it("killed inside the pause and after the swap: the pause is lifted at once, the retried job completes, no write lost or doubled", async () => {
    let api = await server.start();
    const orgId = (await api.createOrganization({ name: "Crash" })).organization.id;
    const made = await api.createProject({ name: "shop", organization_id: orgId });
    await api.waitForJob(made.job.id, { timeoutMs: 60_000 });
    const project: Project = made.project;
    const direct = await api.getConnectionUri(project.id);
    const pooled = await api.getConnectionUri(project.id, { pooled: true });
    await psql(direct, "create table ledger (id bigserial primary key, writer text not null, n int not null)");
    await server.stop(api);

    let lastCutover = "";
    for (const [round, point] of ["carry_over.drained", "cutover.instance.swapped"].entries()) {
      api = await server.start(`${point}=kill`);
      const preview = await api.createPreview(project.id, { name: `pr-${round}` });
      await api.waitForJob(preview.job.id, { timeoutMs: 180_000 });
      await psql(await api.getPreviewConnectionUri(preview.preview.id), `create table shipped_${round} (x int)`);
      const writers = [writer(`pooled-${round}`, pooled), writer(`direct-${round}`, direct)];
      await progressed(writers, 20, 30_000);
      const { cutover_request: req } = await api.createCutoverRequest(project.id, { preview_id: preview.preview.id });
      await api.acknowledgeCutoverRequest(req.id, {});
      const executing = (await api.executeCutoverRequest(req.id)).cutover_request;
      await diesDuring(api, executing.promote_job_id!);
      await api.close();
      // no server runs: the watchdog lifted PgBouncer's pause and the connection limit
      await progressed(writers, 20, 5_000);

      api = await server.start();
      const job = await api.waitForJob(executing.promote_job_id!, { timeoutMs: 300_000 });
      expect(job.state, server.log.slice(-3000)).toBe("succeeded");
      expect(job.attempts).toBeGreaterThanOrEqual(2);
      const done = (await api.getCutoverRequest(req.id)).cutover_request;
      expect(done.status).toBe("completed");
      expect(done.carry_over).toMatchObject({ state: "done" });
      await progressed(writers, 20, 30_000);
      const results = await Promise.all(writers.map((w) => w.stop()));
      expect(results[0].errors, "pooled clients only waited").toEqual([]);
      for (const r of results) {
        expect(await checkLedger(direct, r), `${r.name} (${point})`).toEqual({ missing: [], twice: [] });
      }
      expect(await psql(direct, `select to_regclass('shipped_${round}') is not null`)).toBe("t");
      expect(await psql(direct, "select count(*) from pg_replication_slots where slot_name like 'capydb_carry_%' and slot_name not like '%_back'")).toBe("0");
      lastCutover = req.id;
      await server.stop(api);
    }

    // the rollback's carry back, killed inside its pause
    api = await server.start("carry_over.drained=kill");
    const writers = [writer("pooled-back", pooled), writer("direct-back", direct)];
    await progressed(writers, 20, 30_000);
    expect((await api.getCutoverRequest(lastCutover)).cutover_request.rollback_carry_over).toMatchObject({ possible: true });
    const rolling = (await api.rollbackCutoverRequest(lastCutover)).cutover_request;
    await diesDuring(api, rolling.rollback_job_id!);
    await api.close();
    await progressed(writers, 20, 5_000);
    api = await server.start();
    const job = await api.waitForJob(rolling.rollback_job_id!, { timeoutMs: 300_000 });
    expect(job.state, server.log.slice(-3000)).toBe("succeeded");
    expect((await api.getCutoverRequest(lastCutover)).cutover_request).toMatchObject({ status: "rolled_back", rollback_carry_over: { state: "done" } });
    await progressed(writers, 20, 30_000);
    const results = await Promise.all(writers.map((w) => w.stop()));
    expect(results[0].errors, "pooled clients only waited").toEqual([]);
    for (const r of results) expect(await checkLedger(direct, r), `${r.name} (rollback)`).toEqual({ missing: [], twice: [] });
    expect(await psql(direct, "select to_regclass('shipped_1') is null and to_regclass('shipped_0') is not null")).toBe("t");
    // no carry's slot is left; the first cutover's rollback slot is back with its data (that cutover may still be rolled back)
    expect(await psql(direct, "select count(*) from pg_replication_slots where slot_name like 'capydb_carry_%' and slot_name not like '%_back'")).toBe("0");
    expect(
      await psql(direct, `select count(*) from pg_replication_slots where slot_name like '%${lastCutover.replace(/[^a-z0-9]/gi, "_").toLowerCase()}%'`),
    ).toBe("0");
    await server.stop(api);
  }, 900_000);
});
