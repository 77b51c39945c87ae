// The `timeouts` block of resources whose create or delete waits for a server job.
// Durations use Go's syntax, as in every other provider: "30s", "20m", "1h30m".
import type { BlockSpec, NestedBlockSpec } from "../schema/schema.js";
import type { ObjectValue } from "../cty/types.js";

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a Go duration string, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * UNIT_MS[m[2]];
    matched = re.lastIndex;
  }
  return matched === s.length && s.length > 0 ? total : undefined;
}

export type TimeoutName = "create" | "update" | "delete";

export function timeoutsBlock(names: readonly TimeoutName[], defaults: Partial<Record<TimeoutName, string>>): NestedBlockSpec {
  const block: BlockSpec = {
    description: "How long to wait for the server's jobs before giving up (the job keeps running on the server).",
    attributes: Object.fromEntries(
      names.map((n) => [n, { type: "string", optional: true, description: `A duration such as "30s", "20m" or "1h" (default ${defaults[n] ?? "20m"}).` }]),
    ),
  };
  return { nesting: "single", block };
}

/** The configured timeout of an operation, in ms, or the fallback. */
export function timeoutMs(state: ObjectValue | null, name: TimeoutName, fallback: string): number {
  const block = state?.timeouts;
  const raw = block && typeof block === "object" && !Array.isArray(block) ? (block as ObjectValue)[name] : null;
  const parsed = typeof raw === "string" ? parseDuration(raw) : undefined;
  return parsed ?? parseDuration(fallback)!;
}
