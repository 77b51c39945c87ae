// The schema evidence on a cutover request: the preview's diff against production, and
// production's schema itself (pg_dump --schema-only as the project's role) with its sha256,
// taken when the request is opened and again when it is executed. Comparing the two
// fingerprints tells the operator whether production's schema moved in between, and the
// two texts say what moved.
import { createHash } from "node:crypto";
import type { AppContext } from "../context.js";
import type { JobContext } from "../platform/jobs/worker.js";
import { dumpSchemaText } from "../platform/dataplane/pgtools.js";
import { tenantEndpoint } from "../platform/dataplane/tenant-session.js";
import { projectLogin } from "../projects/login.js";
import type { ProjectRow } from "../projects/store.js";
import type { PreviewRow } from "../previews/store.js";
import { computeSchemaDiff, summarize } from "./diff.js";
import { saveReview, type ReviewPhase } from "./store.js";

export async function recordCutoverReview(
  ctx: AppContext,
  job: JobContext,
  cutoverId: string,
  phase: ReviewPhase,
  project: ProjectRow,
  preview: PreviewRow,
): Promise<void> {
  ctx.faults.check("schema_review.before_diff");
  const production = await tenantEndpoint(ctx.clusters, project.cluster_id, project.database_name, projectLogin(ctx, job, project));
  const [statements, schema] = await Promise.all([
    computeSchemaDiff(ctx, job, project, preview),
    dumpSchemaText(production, { binDir: ctx.config.pgBinDir, lockWaitSeconds: ctx.config.toolLockWaitSeconds, signal: job.signal }),
  ]);
  await saveReview(ctx.db, {
    cutover_id: cutoverId,
    phase,
    job_id: job.job.id,
    statements,
    summary: summarize(statements),
    production_schema: schema,
    production_schema_sha256: createHash("sha256").update(schema).digest("hex"),
  });
}

/**
 * The lines of production's schema (as pg_dump writes it) that one text has and the other has
 * not, comments and blank lines aside; each list at most `limit` long.
 */
export function schemaChanges(before: string, after: string, limit = 200): { removed: string[]; added: string[] } {
  const meaningful = (text: string) => text.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("--"));
  const a = meaningful(before);
  const b = meaningful(after);
  return { removed: missingFrom(a, b).slice(0, limit), added: missingFrom(b, a).slice(0, limit) };
}

/** The lines of `lines` that `other` lacks, counting repeats (a line twice in one, once in the other, is once missing). */
function missingFrom(lines: string[], other: string[]): string[] {
  const left = new Map<string, number>();
  for (const l of other) left.set(l, (left.get(l) ?? 0) + 1);
  const out: string[] = [];
  for (const l of lines) {
    const n = left.get(l) ?? 0;
    if (n > 0) left.set(l, n - 1);
    else out.push(l);
  }
  return out;
}

/** sha256 of production's schema now (pg_dump --schema-only as the project's role), as the reviews record it. */
export async function productionSchemaFingerprint(
  ctx: AppContext,
  project: ProjectRow,
  opts: { signal?: AbortSignal; lockWaitSeconds?: number; timeoutMs?: number } = {},
): Promise<string> {
  const login = { role: project.role_name, password: ctx.box.open(project.role_password_sealed) };
  const production = await tenantEndpoint(ctx.clusters, project.cluster_id, project.database_name, login);
  const schema = await dumpSchemaText(production, {
    binDir: ctx.config.pgBinDir,
    lockWaitSeconds: opts.lockWaitSeconds ?? ctx.config.toolLockWaitSeconds,
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
  });
  return createHash("sha256").update(schema).digest("hex");
}
