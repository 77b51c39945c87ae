// The operator's files in ops/ against the real /metrics: every metric name the Grafana
// dashboard and the Prometheus alert rules query must be one the server exports, scraped
// here from a real server on real PostgreSQL after a project, a preview, a verified backup,
// a backup schedule and a failing job. (promtool is not installed here: the rules' PromQL is
// checked for the names it uses and the rules' shape, not evaluated.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { startTestServer, type TestServer } from "../harness/server.js";
import { enqueueJob } from "../../server/src/platform/jobs/sql/enqueue.js";
import { PermanentError } from "../../server/src/platform/jobs/errors.js";
import { JOB_DURATION_BUCKETS } from "../../server/src/platform/jobs/job-metrics.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dashboard = JSON.parse(fs.readFileSync(path.join(root, "ops/grafana/capydb.json"), "utf8"));
const alerts = parse(fs.readFileSync(path.join(root, "ops/prometheus/alerts.yml"), "utf8")) as {
  groups: Array<{ name: string; rules: Array<{ alert: string; expr: string; for: string; labels?: Record<string, string> }> }>;
};

// PromQL's functions, aggregations and keywords: every other bare identifier is a metric name.
const PROMQL_WORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan"]);

/** The metric names a PromQL expression (or a Grafana label_values query) reads. */
export function metricNames(expr: string): string[] {
  const e = expr
    .replace(/label_values\(\s*([a-zA-Z_:][\w:]*)\s*,[^)]*\)/g, " $1 ") // Grafana: label_values(metric, label)
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\{[^}]*\}/g, " ") // label matchers
    .replace(/\[[^\]]*\]/g, " ") // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ") // label lists
    .replace(/\$\w+/g, " "); // Grafana variables
  const names = new Set<string>();
  for (const m of e.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    const after = e.slice(m.index + m[0].length).trimStart();
    const before = e[m.index - 1] ?? " ";
    if (/[\d.]/.test(before)) continue; // part of a number (1e3)
    if (after.startsWith("(")) continue; // a function or an aggregation
    if (PROMQL_WORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

function dashboardQueries(): string[] {
  const out: string[] = [];
  const walk = (panels: Array<{ targets?: Array<{ expr?: string }>; panels?: unknown[] }>) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) out.push(t.expr);
      if (p.panels) walk(p.panels as typeof panels);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating.list) if (v.type === "query") out.push(typeof v.query === "string" ? v.query : v.query.query);
  return out;
}

let t: TestServer;
let projectId: string;
let previewId: string;
let scheduleCreatedAt: number;

const scrape = async () => {
  const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${t.adminKey}` } });
  expect(res.status).toBe(200);
  return res.text();
};
/** Scrapes until `ok` holds (the project figures are read at most every second here). */
async function scrapeUntil(ok: (text: string) => boolean): Promise<string> {
  let text = "";
  for (let i = 0; i < 100; i++) {
    text = await scrape();
    if (ok(text)) return text;
    await new Promise((r) => setTimeout(r, 250));
  }
  return text;
}
const sample = (text: string, name: string, labels: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
};

beforeAll(async () => {
  t = await startTestServer(
    { CAPYDB_METRICS_REFRESH_SECONDS: "1", CAPYDB_PGBOUNCER: "false", CAPYDB_WORKER_CONCURRENCY: "3" },
    {
      extraHandlers: {
        "ops.test_fail": {
          run: async () => {
            throw new PermanentError("this job is meant to fail");
          },
        },
      },
    },
  );
  const org = (await t.admin.createOrganization({ name: "Ops" })).organization;
  const created = await t.admin.createProject({ name: "shop", organization_id: org.id });
  projectId = created.project.id;
  await t.admin.waitForJob(created.job.id, { timeoutMs: 60_000 });
  const preview = await t.admin.createPreview(projectId, { name: "pr-1" });
  previewId = preview.preview.id;
  await t.admin.waitForJob(preview.job.id, { timeoutMs: 120_000 });
  await t.admin.waitForJob((await t.admin.createBackup(projectId, {})).job.id, { timeoutMs: 120_000 });
  scheduleCreatedAt = Date.now() / 1000;
  await t.admin.putDefaultScheduledBackup(projectId, { cron_hour: 3, cron_minute: 0, is_active: true });
  await enqueueJob(t.server.ctx.db, { id: "job_opsfail1", type: "ops.test_fail", maxAttempts: 1 });
}, 300_000);
afterAll(async () => {
  await t?.stop();
});

describe("ops/ files", () => {
  it("the metric-name extractor sees through PromQL (not blind, no false names)", () => {
    expect(
      metricNames('histogram_quantile(0.95, sum by (type, le) (rate(capydb_job_duration_seconds_bucket{outcome="failed"}[$__rate_interval]))) > 2e3'),
    ).toEqual(["capydb_job_duration_seconds_bucket"]);
    expect(metricNames("time() - max by (project_id) (a_ts) > 26 * 3600 unless on (project_id) b_since and on () sum(c) > 0").sort()).toEqual([
      "a_ts",
      "b_since",
      "c",
    ]);
    expect(metricNames("label_values(capydb_project_previews, project_id)")).toEqual(["capydb_project_previews"]);
  });

  it("every query's brackets balance and its strings close (the syntax check possible without promtool)", () => {
    const queries = [...dashboardQueries(), ...alerts.groups.flatMap((g) => g.rules.map((r) => r.expr))];
    expect(queries.length).toBeGreaterThan(20);
    const pairs: Record<string, string> = { ")": "(", "}": "{", "]": "[" };
    for (const q of queries) {
      const stack: string[] = [];
      const bare = q.replace(/"(?:[^"\\]|\\.)*"/g, '""');
      expect(bare.includes('"') ? bare.replace(/""/g, "").includes('"') : false, q).toBe(false);
      for (const ch of bare) {
        if ("({[".includes(ch)) stack.push(ch);
        else if (ch in pairs) expect(stack.pop(), q).toBe(pairs[ch]);
      }
      expect(stack, q).toEqual([]);
    }
  });

  it("the alert rules cover old backups, projects never backed up, failing jobs and saturated workers", () => {
    const rules = alerts.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert).sort()).toEqual([
      "CapyDBBackupTooOld",
      "CapyDBJobsFailing",
      "CapyDBProjectWithoutVerifiedBackup",
      "CapyDBWorkersSaturated",
    ]);
    for (const r of rules) {
      expect(r.expr, r.alert).toBeTypeOf("string");
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(r.labels?.severity, r.alert).toMatch(/^(warning|critical)$/);
    }
    const byName = Object.fromEntries(rules.map((r) => [r.alert, r.expr]));
    expect(byName.CapyDBBackupTooOld).toContain("26 * 3600");
    expect(byName.CapyDBProjectWithoutVerifiedBackup).toMatch(/unless on \(project_id\)/);
    expect(byName.CapyDBJobsFailing).toContain('outcome="failed"');
    expect(byName.CapyDBWorkersSaturated).toContain("capydb_worker_concurrency");
  });

  it("every metric the dashboard and the alert rules query is in the real scrape", async () => {
    const text = await scrapeUntil((s) => /^capydb_job_duration_seconds_count\{type="ops\.test_fail",outcome="failed"\} 1$/m.test(s));
    const queries = [...dashboardQueries(), ...alerts.groups.flatMap((g) => g.rules.map((r) => r.expr))];
    const names = new Set(queries.flatMap(metricNames));
    // the extraction found what the files are about (so a check over an empty list cannot pass)
    for (const known of [
      "capydb_jobs",
      "capydb_job_duration_seconds_count",
      "capydb_job_duration_seconds_bucket",
      "capydb_worker_concurrency",
      "capydb_worker_jobs_running",
      "capydb_project_last_verified_backup_timestamp_seconds",
      "capydb_project_backup_schedule_since_timestamp_seconds",
      "capydb_project_previews",
      "process_cpu_seconds_total",
    ]) {
      expect(names).toContain(known);
    }
    const missing = [...names].filter((n) => !new RegExp(`^${n}(\\{| )`, "m").test(text));
    expect(missing).toEqual([]);
  });

  it("default Node metrics keep their standard names; the product's own carry capydb_", async () => {
    const text = await scrape();
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds", "nodejs_heap_size_used_bytes"]) {
      expect(text).toMatch(new RegExp(`^${name}(\\{| )`, "m"));
    }
    expect(text).not.toMatch(/^capydb_(process|nodejs)_/m);
    const names = new Set(text.split("\n").flatMap((l) => (l && !l.startsWith("#") ? [l.split(/[{ ]/)[0]] : [])));
    for (const n of names) expect(n, n).toMatch(/^(capydb_|process_|nodejs_)/);
  });

  it("job durations by type and outcome, in buckets from 0.1 s to an hour", async () => {
    const text = await scrapeUntil((s) => /^capydb_job_duration_seconds_count\{type="ops\.test_fail",outcome="failed"\} 1$/m.test(s));
    for (const type of ["project.create", "preview.create", "backup.create"]) {
      expect(sample(text, "capydb_job_duration_seconds_count", `type="${type}",outcome="succeeded"`), type).toBeGreaterThanOrEqual(1);
      expect(sample(text, "capydb_job_duration_seconds_sum", `type="${type}",outcome="succeeded"`), type).toBeGreaterThan(0);
    }
    expect(sample(text, "capydb_job_duration_seconds_count", `type="ops.test_fail",outcome="failed"`)).toBe(1);
    expect(text).not.toMatch(/^capydb_job_duration_seconds_count\{type="ops\.test_fail",outcome="succeeded"\}/m);
    const les = [...text.matchAll(/^capydb_job_duration_seconds_bucket\{le="([^"]+)",type="backup\.create",outcome="succeeded"\}/gm)].map((m) => m[1]);
    expect(les).toEqual([...JOB_DURATION_BUCKETS.map(String), "+Inf"]);
    expect(JOB_DURATION_BUCKETS[0]).toBe(0.1);
    expect(JOB_DURATION_BUCKETS.at(-1)).toBe(3600);
  });

  it("worker slots: the configured concurrency and the jobs in flight", async () => {
    const text = await scrape();
    expect(Number(/^capydb_worker_concurrency (\S+)$/m.exec(text)?.[1])).toBe(3);
    const running = Number(/^capydb_worker_jobs_running (\S+)$/m.exec(text)?.[1]);
    expect(running).toBeGreaterThanOrEqual(0);
    expect(running).toBeLessThanOrEqual(3);
  });

  it("per-project figures: the last verified backup, the schedule, previews by state (ids only)", async () => {
    const labels = `project_id="${projectId}"`;
    const text = await scrapeUntil((s) => sample(s, "capydb_project_backup_schedule_since_timestamp_seconds", labels) !== undefined);
    const { backups } = await t.admin.listBackups(projectId);
    const verified = backups.filter((b) => b.verification_state === "verified");
    expect(verified).toHaveLength(1);
    const backupAt = sample(text, "capydb_project_last_verified_backup_timestamp_seconds", labels)!;
    // the point in time the backup holds: after it was asked for, before it was verified
    expect(backupAt).toBeGreaterThanOrEqual(Date.parse(verified[0].created_at) / 1000 - 0.001);
    expect(backupAt).toBeLessThanOrEqual(Date.parse(verified[0].verified_at!) / 1000 + 0.001);
    const since = sample(text, "capydb_project_backup_schedule_since_timestamp_seconds", labels)!;
    expect(Math.abs(since - scheduleCreatedAt)).toBeLessThan(60);
    expect(sample(text, "capydb_project_previews", `${labels},state="ready"`)).toBe(1);
    for (const state of ["creating", "resetting", "failed", "deleting"]) expect(sample(text, "capydb_project_previews", `${labels},state="${state}"`)).toBe(0);
    // ids only: seven series at most per project, none naming it
    const series = text.split("\n").filter((l) => l.includes(labels));
    expect(series.length).toBeLessThanOrEqual(7);
    expect(text).not.toContain('"shop"');
    expect(previewId).toBeTruthy();
  });

  it("a deleted preview leaves the count; a project without a verified backup has no backup series", async () => {
    await t.admin.waitForJob((await t.admin.deletePreview(previewId)).job.id, { timeoutMs: 120_000 });
    const org = (await t.admin.createOrganization({ name: "Ops two" })).organization;
    const second = await t.admin.createProject({ name: "blog", organization_id: org.id });
    await t.admin.waitForJob(second.job.id, { timeoutMs: 60_000 });
    const text = await scrapeUntil(
      (s) =>
        sample(s, "capydb_project_previews", `project_id="${projectId}",state="ready"`) === 0 &&
        sample(s, "capydb_project_previews", `project_id="${second.project.id}",state="ready"`) === 0,
    );
    expect(sample(text, "capydb_project_previews", `project_id="${projectId}",state="ready"`)).toBe(0);
    expect(sample(text, "capydb_project_previews", `project_id="${second.project.id}",state="ready"`)).toBe(0);
    expect(sample(text, "capydb_project_last_verified_backup_timestamp_seconds", `project_id="${second.project.id}"`)).toBeUndefined();
    expect(sample(text, "capydb_project_backup_schedule_since_timestamp_seconds", `project_id="${second.project.id}"`)).toBeUndefined();
  }, 180_000);
});
