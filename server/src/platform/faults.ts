// Named failure points, for tests and failure drills: CAPYDB_FAULTS is a comma-separated
// list of point=kind, e.g. "project.create.after_role=permanent". Empty in production.
// "kill" SIGKILLs the server process at the point: a crash drill (nothing else runs after it).
import { PermanentError, TransientError } from "./jobs/errors.js";

export type FaultKind = "permanent" | "transient" | "kill";

export class Faults {
  private readonly points = new Map<string, FaultKind>();

  constructor(spec: string | null) {
    for (const part of (spec ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)) {
      const [point, kind = "permanent"] = part.split("=");
      if (kind !== "permanent" && kind !== "transient" && kind !== "kill") throw new Error(`CAPYDB_FAULTS: unknown fault kind "${kind}" for ${point}`);
      this.points.set(point, kind);
    }
  }

  /** Throws the configured failure at this point, if any. */
  check(point: string): void {
    const kind = this.points.get(point);
    if (kind === "permanent") throw new PermanentError(`injected failure at ${point}`);
    if (kind === "transient") throw new TransientError(`injected transient failure at ${point}`);
    if (kind === "kill") process.kill(process.pid, "SIGKILL");
  }
}
