import client from "prom-client";
import type { Db } from "../platform/store/db.js";
export declare function createMetrics(db: Db): {
    registry: client.Registry<"text/plain; version=0.0.4; charset=utf-8">;
    observe(method: string, route: string, status: number, seconds: number): void;
};
