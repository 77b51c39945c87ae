// Prometheus metrics at GET /metrics (platform-admin API key only: the job counts are
// platform-wide figures no tenant should see).
import client from "prom-client";
import type { Db } from "../platform/store/db.js";

type JobCount = { type: string; state: string; n: number };

/**
 * Job counts read from the control-plane database at most once per `maxAgeMs`, with one
 * query in flight at a time: however often /metrics is scraped, the database sees at most
 * one count query every few seconds. Concurrent scrapes of a stale reading share one query.
 */
class JobCounts {
  private rows: JobCount[] = [];
  private readAt = -Infinity;
  private reading: Promise<void> | null = null;

  constructor(
    private readonly db: Db,
    private readonly maxAgeMs: number,
  ) {}

  async current(): Promise<JobCount[]> {
    if (performance.now() - this.readAt >= this.maxAgeMs) {
      this.reading ??= this.read().finally(() => {
        this.reading = null;
      });
      await this.reading;
    }
    return this.rows;
  }

  private async read(): Promise<void> {
    try {
      this.rows = (await this.db.query<JobCount>("SELECT type, state, count(*)::int AS n FROM jobs GROUP BY 1, 2")).rows;
    } catch {
      // database unavailable: report nothing rather than stale figures or a failed scrape
      this.rows = [];
    } finally {
      // counted from the end of the query, so a slow database is not asked again at once
      this.readAt = performance.now();
    }
  }
}

export function createMetrics(db: Db, options: { refreshSeconds: number }) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: "capydb_" });
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
  const jobCounts = new JobCounts(db, options.refreshSeconds * 1000);
  new client.Gauge({
    name: "capydb_jobs",
    help: `Jobs by type and state (read from the control-plane database at most every ${options.refreshSeconds}s)`,
    labelNames: ["type", "state"],
    registers: [registry],
    async collect() {
      const rows = await jobCounts.current();
      this.reset();
      for (const r of rows) this.set({ type: r.type, state: r.state }, r.n);
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
