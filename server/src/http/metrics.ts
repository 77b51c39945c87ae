// Prometheus metrics at GET /metrics.
import client from "prom-client";
import type { Db } from "../platform/store/db.js";

export function createMetrics(db: Db) {
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
  new client.Gauge({
    name: "capydb_jobs",
    help: "Jobs by type and state (read from the control-plane database at scrape)",
    labelNames: ["type", "state"],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const { rows } = await db.query<{ type: string; state: string; n: number }>("SELECT type, state, count(*)::int AS n FROM jobs GROUP BY 1, 2");
        for (const r of rows) this.set({ type: r.type, state: r.state }, r.n);
      } catch {
        // database unavailable: report nothing rather than fail the scrape
      }
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
