// Backups proven restorable, restores that swap by rename, daily schedules and retention —
// against real PostgreSQL with real pg_dump and pg_restore.
// The same suite runs with the filesystem blob store (backups.test.ts) and with S3
// on a real S3-protocol server (backups-s3.test.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buffer } from "node:stream/consumers";
import { Readable } from "node:stream";
import type { CapyClient, Project } from "@capydb/api";
import { loadConfig } from "../src/config.js";
import { startServer } from "../src/server.js";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { psql } from "../../test/harness/sql.js";
import { organization } from "../../test/harness/tenants.js";

export function backupSuite(storeName: string, blobEnv: () => Promise<{ env: Record<string, string>; stop(): Promise<void> }>) {
  let t: TestServer;
  let org: CapyClient;
  let project: Project;
  let uri: string;
  let blobStore: { env: Record<string, string>; stop(): Promise<void> };

  const readBlob = async (key: string) => buffer(await t.server.ctx.blobs.get(key));
  const writeBlob = (key: string, bytes: Buffer) => t.server.ctx.blobs.put(key, Readable.from([bytes]));
  const blobExists = async (key: string) => (await t.server.ctx.blobs.stat(key)) !== null;

  async function backupNow(label?: string) {
    const { job } = await org.createBackup(project.id, label ? { label } : {});
    const done = await org.waitForJob(job.id, { timeoutMs: 60_000 });
    const list = (await org.listBackups(project.id)).backups;
    return { job: done, backup: list[0] };
  }

  beforeAll(async () => {
    blobStore = await blobEnv();
    t = await startTestServer({ CAPYDB_SCHEDULER_INTERVAL_MS: "200", ...blobStore.env });
    org = (await organization(t, "Backups", "b")).client;
    const created = await org.createProject({ name: "shop" });
    await org.waitForJob(created.job.id, { timeoutMs: 30_000 });
    project = (await org.getProject(created.project.id)).project;
    uri = await org.getConnectionUri(project.id);
    psql(
      uri,
      `create schema billing;
             create table orders(id serial primary key, total numeric);
             create table billing.invoices(id int primary key, order_id int);
             insert into orders(total) select g from generate_series(1, 1000) g;
             insert into billing.invoices select g, g from generate_series(1, 250) g;`,
    );
  });
  afterAll(async () => {
    await org?.close();
    await t?.stop();
    await blobStore?.stop();
  });

  describe(`backups (${storeName} blob store)`, () => {
    it("a backup is pg_dump in the blob store, verified by a restore with matching row counts", async () => {
      const { job, backup } = await backupNow("before launch");
      expect(job.state).toBe("succeeded");
      expect(backup).toMatchObject({
        state: "completed",
        verification_state: "verified",
        label: "before launch",
        database_name: project.database_name,
        verification_error: null,
      });
      expect(backup.verified_at).not.toBeNull();
      const bytes = await readBlob(backup.backup_key!);
      expect(bytes.length).toBe(backup.size_bytes);
      const stored = await t.server.ctx.db.query("select sha256, row_counts from backups where id = $1", [backup.id]);
      expect(crypto.createHash("sha256").update(bytes).digest("hex")).toBe(stored.rows[0].sha256);
      expect(stored.rows[0].row_counts).toEqual({ "public.orders": 1000, "billing.invoices": 250 });
      // a real custom-format archive that pg_restore can list
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "capydb-dump-")), "backup.dump");
      fs.writeFileSync(file, bytes);
      expect(execFileSync("pg_restore", ["--list", file], { encoding: "utf8" })).toMatch(/TABLE DATA public orders/);
      fs.rmSync(path.dirname(file), { recursive: true });
      // the scratch database is gone
      const scratch = await t.server.ctx.db.query("select 1");
      expect(scratch.rowCount).toBe(1);
      expect((await org.getBackup(backup.id)).backup.id).toBe(backup.id);
    });

    it("a preview from a backup holds that backup's data, not production's", async () => {
      const { backup } = await backupNow("for preview");
      psql(uri, "insert into orders(total) values (-1)");
      const { job, preview } = await org.createPreview(project.id, { source_kind: "backup", backup_id: backup.id });
      expect(preview).toMatchObject({ source_kind: "backup", source_backup_key: backup.backup_key });
      await org.waitForJob(job.id, { timeoutMs: 60_000 });
      const ready = (await org.getPreview(preview.id)).preview;
      const snapshotAt = (await t.server.ctx.db.query("select snapshot_at from backups where id = $1", [backup.id])).rows[0].snapshot_at as Date;
      expect(ready.source_restore_time).toBe(snapshotAt.toISOString());
      const pv = await org.getPreviewConnectionUri(preview.id);
      expect(psql(pv, "select count(*) from orders")).toBe("1000");
      expect(psql(pv, "select count(*) from billing.invoices")).toBe("250");
      expect(psql(pv, "select tableowner from pg_tables where tablename = 'orders'")).toBe(ready.role_name);
      // reset goes back to the backup's data
      psql(pv, "delete from orders");
      await org.waitForJob((await org.resetPreview(preview.id)).job.id, { timeoutMs: 60_000 });
      expect(psql(pv, "select count(*) from orders")).toBe("1000");
      psql(uri, "delete from orders where total = -1");
      await org.waitForJob((await org.deletePreview(preview.id)).job.id, { timeoutMs: 60_000 });
    });

    it("a corrupted blob fails verification with a clear error", async () => {
      const { backup } = await backupNow();
      const bytes = await readBlob(backup.backup_key!);
      bytes[Math.floor(bytes.length / 2)] ^= 0xff;
      await writeBlob(backup.backup_key!, bytes);
      const { job } = await org.verifyBackup(backup.id);
      await expect(org.waitForJob(job.id, { timeoutMs: 60_000 })).rejects.toThrow(/failed verification/);
      const after = (await org.getBackup(backup.id)).backup;
      expect(after.verification_state).toBe("failed");
      expect(after.verification_error).toMatch(/corrupted: its sha256/);
      await expect(org.restoreBackup(backup.id)).rejects.toMatchObject({ status: 409 });
    });

    it("restore brings back the data as it was, keeps the connection string, and takes a safety backup first", async () => {
      const { backup } = await backupNow("good state");
      psql(uri, "delete from orders where id > 10; drop table billing.invoices; create table junk(x int)");
      // a preview now snapshots the damaged data ...
      const damaged = await org.createPreview(project.id, {});
      await org.waitForJob(damaged.job.id, { timeoutMs: 60_000 });
      expect(psql(await org.getPreviewConnectionUri(damaged.preview.id), "select count(*) from orders")).toBe("10");
      const before = (await org.listBackups(project.id)).backups.length;
      const { job } = await org.restoreBackup(backup.id);
      await org.waitForJob(job.id, { timeoutMs: 120_000 });
      expect(await org.getConnectionUri(project.id)).toBe(uri);
      // ... and a preview made after the restore holds the restored data, not that stale snapshot
      const restored = await org.createPreview(project.id, {});
      await org.waitForJob(restored.job.id, { timeoutMs: 60_000 });
      expect(psql(await org.getPreviewConnectionUri(restored.preview.id), "select count(*) from orders")).toBe("1000");
      for (const p of [damaged, restored]) await org.waitForJob((await org.deletePreview(p.preview.id)).job.id, { timeoutMs: 60_000 });
      expect(psql(uri, "select count(*) from orders")).toBe("1000");
      expect(psql(uri, "select count(*) from billing.invoices")).toBe("250");
      expect(psql(uri, "select count(*) from pg_tables where tablename = 'junk'")).toBe("0");
      // restored objects belong to the project's role, which can keep working with them
      expect(psql(uri, "select tableowner from pg_tables where tablename = 'orders'")).toBe(project.role_name);
      psql(uri, "insert into orders(total) values (1)");
      const backups = (await org.listBackups(project.id)).backups;
      expect(backups.length).toBe(before + 1);
      const safety = backups[0];
      expect(safety.label).toBe(`safety backup before restoring ${backup.id}`);
      expect(safety.verification_state).toBe("verified");
      // the safety backup holds the data as it was just before the restore
      const counts = await t.server.ctx.db.query("select row_counts from backups where id = $1", [safety.id]);
      expect(counts.rows[0].row_counts).toEqual({ "public.orders": 10, "public.junk": 0 });
    });

    it("a restore that fails between its renames leaves the project serving its previous data", async () => {
      const faulty = await startTestServer({ CAPYDB_FAULTS: "swap.between_renames=permanent", ...blobStore.env });
      try {
        const o = (await faulty.admin.createOrganization({ name: "F" })).organization.id;
        const pj = await faulty.admin.createProject({ name: "f", organization_id: o });
        await faulty.admin.waitForJob(pj.job.id, { timeoutMs: 30_000 });
        const u = await faulty.admin.getConnectionUri(pj.project.id);
        psql(u, "create table t(x int); insert into t values (1)");
        const b = await faulty.admin.createBackup(pj.project.id, {});
        await faulty.admin.waitForJob(b.job.id, { timeoutMs: 60_000 });
        psql(u, "insert into t values (2)");
        const backupId = (await faulty.admin.listBackups(pj.project.id)).backups[0].id;
        const r = await faulty.admin.restoreBackup(backupId);
        await expect(faulty.admin.waitForJob(r.job.id, { timeoutMs: 120_000 })).rejects.toThrow(/injected/);
        expect(psql(u, "select count(*) from t")).toBe("2");
      } finally {
        await faulty.stop();
      }
    });

    it("schedules: out-of-range values are 400 naming the field; a due slot gives exactly one backup across two servers; inactive stops it", async () => {
      await expect(org.putDefaultScheduledBackup(project.id, { cron_hour: 24, cron_minute: 0, is_active: true })).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/^cron_hour/),
      });
      await expect(org.putDefaultScheduledBackup(project.id, { cron_hour: 1, cron_minute: 60, is_active: true })).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/^cron_minute/),
      });
      await expect(org.putDefaultScheduledBackup(project.id, { cron_hour: 1, cron_minute: 0, is_active: true, retention_days: 0 })).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/^retention_days/),
      });

      // a second server process on the same control plane, with its own scheduler
      const second = await startServer(loadConfig({ ...t.env, CAPYDB_DATA_DIR: t.dataDir, CAPYDB_PGBOUNCER: "false", CAPYDB_SCHEDULER_INTERVAL_MS: "200" }));
      try {
        const now = new Date(Date.now() - 60_000);
        const put = await org.putDefaultScheduledBackup(project.id, {
          cron_hour: now.getUTCHours(),
          cron_minute: now.getUTCMinutes(),
          is_active: true,
          retention_days: 3,
          label: "nightly",
        });
        expect(put.scheduled_backup).toMatchObject({ cron_hour: now.getUTCHours(), is_active: true, retention_days: 3, label: "nightly", last_run_at: null });
        // the slot a minute ago is before the schedule existed: make it effective earlier, as if created yesterday
        await t.server.ctx.db.query("update scheduled_backups set effective_from = now() - interval '1 day' where project_id = $1", [project.id]);
        const deadline = Date.now() + 20_000;
        let schedule = (await org.listScheduledBackups(project.id)).scheduled_backups[0];
        while (!schedule.last_job_id && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          schedule = (await org.listScheduledBackups(project.id)).scheduled_backups[0];
        }
        expect(schedule.last_job_id).not.toBeNull();
        expect(schedule.last_run_at).not.toBeNull();
        await org.waitForJob(schedule.last_job_id!, { timeoutMs: 60_000 });
        await new Promise((r) => setTimeout(r, 1500)); // several more scheduler ticks on both servers
        const scheduled = (await t.server.ctx.db.query("select count(*)::int as n from backups where scheduled_backup_id = $1", [schedule.id])).rows[0].n;
        expect(scheduled).toBe(1);

        // a missed slot (server down at the time) runs once on return, not once per missed day
        await t.server.ctx.db.query("update scheduled_backups set last_slot = now() - interval '3 days' where id = $1", [schedule.id]);
        await new Promise((r) => setTimeout(r, 1500));
        expect((await t.server.ctx.db.query("select count(*)::int as n from backups where scheduled_backup_id = $1", [schedule.id])).rows[0].n).toBe(2);

        // inactive: nothing more, even when a slot is due
        await org.putDefaultScheduledBackup(project.id, { cron_hour: now.getUTCHours(), cron_minute: now.getUTCMinutes(), is_active: false });
        await t.server.ctx.db.query("update scheduled_backups set last_slot = null where id = $1", [schedule.id]);
        await new Promise((r) => setTimeout(r, 1500));
        expect((await t.server.ctx.db.query("select count(*)::int as n from backups where scheduled_backup_id = $1", [schedule.id])).rows[0].n).toBe(2);
        const jobs = await t.server.ctx.db.query(
          "select state from jobs where type = 'backup.create' and payload->>'backup_id' in (select id from backups where scheduled_backup_id = $1)",
          [schedule.id],
        );
        for (const j of jobs.rows) if (j.state !== "succeeded") await new Promise((r) => setTimeout(r, 100));
      } finally {
        await second.stop();
      }
    });

    it("retention deletes old backups (blob and row) but keeps the newest verified one, pinned ones, and those live previews were made from", async () => {
      // wait for scheduled backups of the previous test to settle
      for (let i = 0; i < 100; i++) {
        const { rows } = await t.server.ctx.db.query("select count(*)::int as n from jobs where type like 'backup.%' and state in ('pending','running')");
        if (rows[0].n === 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await org.putDefaultScheduledBackup(project.id, { cron_hour: 3, cron_minute: 30, is_active: true, retention_days: 2 });
      const all = (await org.listBackups(project.id)).backups;
      const newestVerified = all.find((b) => b.verification_state === "verified")!;
      const pinned = all[all.length - 1];
      await t.server.ctx.db.query("update backups set pinned = true where id = $1", [pinned.id]);
      const source = all.find((b) => b.id !== newestVerified.id && b.id !== pinned.id && b.state === "completed" && b.verification_state === "verified")!;
      expect(source).toBeDefined();
      const fromBackup = await org.createPreview(project.id, { source_kind: "backup", backup_id: source.id });
      await org.waitForJob(fromBackup.job.id, { timeoutMs: 60_000 });
      await t.server.ctx.db.query("update backups set created_at = now() - interval '10 days' where project_id = $1", [project.id]);
      const remaining = async (n: number) => {
        const deadline = Date.now() + 15_000;
        let left = (await org.listBackups(project.id)).backups;
        while (Date.now() < deadline && left.length > n) {
          await new Promise((r) => setTimeout(r, 200));
          left = (await org.listBackups(project.id)).backups;
        }
        return left;
      };
      expect((await remaining(3)).map((b) => b.id).sort()).toEqual([newestVerified.id, pinned.id, source.id].sort());
      // the preview still resets from its backup; once it is deleted, its backup goes too
      await org.waitForJob((await org.resetPreview(fromBackup.preview.id)).job.id, { timeoutMs: 60_000 });
      await org.waitForJob((await org.deletePreview(fromBackup.preview.id)).job.id, { timeoutMs: 60_000 });
      const left = await remaining(2);
      expect(left.map((b) => b.id).sort()).toEqual([newestVerified.id, pinned.id].sort());
      for (const b of all) {
        if (!b.backup_key) continue;
        expect(await blobExists(b.backup_key)).toBe(left.some((l) => l.id === b.id));
      }
    });
  });
}
