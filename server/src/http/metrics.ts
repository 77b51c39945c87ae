// Prometheus metrics at GET /metrics (platform-admin API key only: the job counts and the
// per-project figures are platform-wide figures no tenant should see). Labels carry ids only
// (no names): at most seven series per project (its backup, its schedule, five preview states).
import client from "prom-client";
import type { Db } from "../platform/store/db.js";
import { jobDurationSeconds, workerSlots } from "../platform/jobs/job-metrics.js";

type JobCount = { type: string; state: string; n: number };

/** The states of a live preview: every live project reports each of them (0 included). */
const PREVIEW_STATES = ["creating", "ready", "resetting", "failed", "deleting"] as const;

/** One row per live project: its last verified backup, its backup schedule, its previews by state. */
type ProjectFigures = {
  project_id: string;
  /** Seconds since the epoch of the point in time its newest verified backup holds; null: none. */
  last_verified_backup: number | null;
  /** Since when (seconds since the epoch) an active backup schedule has covered it; null: no schedule. */
  backup_schedule_since: number | null;
  previews: Partial<Record<(typeof PREVIEW_STATES)[number], number>>;
};

type Reading = { jobs: JobCount[]; projects: ProjectFigures[] };

// One statement, so one snapshot and one round trip per refresh, whatever the number of projects.
const READ_SQL = `
SELECT
  (SELECT coalesce(json_agg(j), '[]') FROM (SELECT type, state, count(*)::int AS n FROM jobs GROUP BY 1, 2) j) AS jobs,
  (SELECT coalesce(json_agg(p), '[]') FROM (
     SELECT pr.id AS project_id,
            extract(epoch FROM b.at)::float8 AS last_verified_backup,
            extract(epoch FROM s.since)::float8 AS backup_schedule_since,
            coalesce(v.previews, '{}') AS previews
       FROM projects pr
       LEFT JOIN (SELECT project_id, max(coalesce(snapshot_at, completed_at, created_at)) AS at
                    FROM backups WHERE state = 'completed' AND verification_state = 'verified' GROUP BY 1) b ON b.project_id = pr.id
       LEFT JOIN (SELECT project_id, min(effective_from) AS since FROM scheduled_backups WHERE is_active GROUP BY 1) s ON s.project_id = pr.id
       LEFT JOIN (SELECT project_id, json_object_agg(state, n) AS previews
                    FROM (SELECT project_id, state, count(*)::int AS n FROM preview_databases
                           WHERE state NOT IN ('deleted', 'promoted') GROUP BY 1, 2) c GROUP BY 1) v ON v.project_id = pr.id
      WHERE pr.state <> 'deleted') p) AS projects`;

/**
 * Job counts and per-project figures read from the control-plane database at most once per
 * `maxAgeMs`, with one query in flight at a time: however often /metrics is scraped, the
 * database sees at most one query every few seconds. Concurrent scrapes of a stale reading
 * share one query.
 */
class ControlPlaneReading {
  private reading: Reading = { jobs: [], projects: [] };
  private readAt = -Infinity;
  private inFlight: Promise<void> | null = null;
  private readonly applied = new WeakMap<object, Reading>();

  constructor(
    private readonly db: Db,
    private readonly maxAgeMs: number,
  ) {}

  async current(): Promise<Reading> {
    if (performance.now() - this.readAt >= this.maxAgeMs) {
      this.inFlight ??= this.read().finally(() => {
        this.inFlight = null;
      });
      await this.inFlight;
    }
    return this.reading;
  }

  /**
   * The current reading, or nulls when `consumer` has already applied it: a gauge with
   * thousands of series (one per project) is rebuilt once per reading, not per scrape.
   */
  async fresh(consumer: object): Promise<{ [K in keyof Reading]: Reading[K] | null }> {
    const reading = await this.current();
    if (this.applied.get(consumer) === reading) return { jobs: null, projects: null };
    this.applied.set(consumer, reading);
    return reading;
  }

  private async read(): Promise<void> {
    try {
      const row = (await this.db.query<Reading>(READ_SQL)).rows[0];
      this.reading = { jobs: row.jobs, projects: row.projects };
    } catch {
      // database unavailable: report nothing rather than stale figures or a failed scrape
      this.reading = { jobs: [], projects: [] };
    } finally {
      // counted from the end of the query, so a slow database is not asked again at once
      this.readAt = performance.now();
    }
  }
}

export function createMetrics(db: Db, options: { refreshSeconds: number }) {
  const registry = new client.Registry();
  // Node's default metrics under their standard names (process_cpu_seconds_total,
  // nodejs_eventloop_lag_seconds, ...), so stock Node.js dashboards work unchanged.
  client.collectDefaultMetrics({ register: registry });
  const requests = new client.Counter({
    name: "capydb_http_requests_total",
    help: "HTTP requests by route and status",
    labelNames: ["method", "route", "status"],
    registers: [registry],
  });
  const duration = new client.Histogram({
    name: "capydb_http_request_duration_seconds",
    help: "HTTP request duration",
    labelNames: ["method", "route"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const reading = new ControlPlaneReading(db, options.refreshSeconds * 1000);
  const every = `read from the control-plane database at most every ${options.refreshSeconds}s`;
  new client.Gauge({
    name: "capydb_jobs",
    help: `Jobs by type and state (${every})`,
    labelNames: ["type", "state"],
    registers: [registry],
    async collect() {
      const { jobs } = await reading.fresh(this);
      if (!jobs) return; // the same reading as the last scrape: the values stand
      this.reset();
      for (const r of jobs) this.set({ type: r.type, state: r.state }, r.n);
    },
  });
  // A timestamp rather than an age: exact however old the cached reading is, and an alert
  // computes the age itself (time() - ...), so it keeps counting if the figure stops changing.
  /** A per-project timestamp gauge from the same reading: absent for a project without one. */
  const projectTimestamp = (name: string, help: string, of: (p: ProjectFigures) => number | null) =>
    new client.Gauge({
      name,
      help: `${help} (${every})`,
      labelNames: ["project_id"],
      registers: [registry],
      async collect() {
        const { projects } = await reading.fresh(this);
        if (!projects) return; // the same reading as the last scrape: the values stand
        this.reset();
        for (const p of projects) {
          const at = of(p);
          if (at !== null) this.set({ project_id: p.project_id }, at);
        }
      },
    });
  projectTimestamp(
    "capydb_project_last_verified_backup_timestamp_seconds",
    "The point in time (seconds since the epoch) the newest verified backup of each project holds; absent when it has none",
    (p) => p.last_verified_backup,
  );
  projectTimestamp(
    "capydb_project_backup_schedule_since_timestamp_seconds",
    "Since when (seconds since the epoch) an active backup schedule has covered each project; absent when it has none",
    (p) => p.backup_schedule_since,
  );
  new client.Gauge({
    name: "capydb_project_previews",
    help: `Live preview databases of each project by state, 0 included (${every})`,
    labelNames: ["project_id", "state"],
    registers: [registry],
    async collect() {
      const { projects } = await reading.fresh(this);
      if (!projects) return; // the same reading as the last scrape: the values stand
      this.reset();
      for (const p of projects) for (const state of PREVIEW_STATES) this.set({ project_id: p.project_id, state }, p.previews[state] ?? 0);
    },
  });
  registry.registerMetric(jobDurationSeconds);
  new client.Gauge({
    name: "capydb_worker_concurrency",
    help: "Job slots of the workers running in this process (CAPYDB_WORKER_CONCURRENCY; 0 when it runs none)",
    registers: [registry],
    collect() {
      this.set(workerSlots().concurrency);
    },
  });
  new client.Gauge({
    name: "capydb_worker_jobs_running",
    help: "Jobs the workers of this process are running now (their cleanups included)",
    registers: [registry],
    collect() {
      this.set(workerSlots().running);
    },
  });
  return {
    registry,
    observe(method: string, route: string, status: number, seconds: number) {
      requests.inc({ method, route, status: String(status) });
      duration.observe({ method, route }, seconds);
    },
  };
}
