// Masked previews on the instance engine. The project's masked snapshot is derived from its
// snapshot: a copy started privately, masked there as the project's own role, proven
// against production (no original value of a masked column survived), shut down and its
// WAL reset. Masked previews are clones of it, so every masked preview costs what an
// unmasked one does once it exists. It is made again when the snapshot or the rules
// change. Fail closed: when masking or its proof fails, no masked snapshot exists and the
// preview's job fails with the rule and PostgreSQL's reason.
import type pg from "pg";
import type { AppContext } from "../context.js";
import { PermanentError } from "../platform/jobs/errors.js";
import { openTenantSessionAt, withTenantSession } from "../platform/dataplane/tenant-session.js";
import type { ProjectRow } from "../projects/store.js";
import { prepareRules, readCatalog, RuleError } from "../masking/catalog.js";
import { maskDatabase } from "../masking/mask.js";
import { MaskingProofError, proveMasked } from "../masking/proof.js";
import { maskingKey } from "../masking/service.js";
import { loadMaskedSnapshot, loadMaskingRules, recordMaskedSnapshot, type MaskedSnapshotRow, type MaskingRulesRow } from "../masking/store.js";
import { withInstanceSnapshot } from "./instance-snapshot.js";
import { useSnapshot, type PreviewRow } from "./store.js";

export const maskedSnapshotName = (project: ProjectRow) => `${project.database_name}_msnap`;

/** Runs fn with a lock on the project's masked snapshot: shared for clones, exclusive to make it. */
async function withMaskedLock<T>(ctx: AppContext, projectId: string, exclusive: boolean, fn: () => Promise<T>): Promise<T> {
  const client = await ctx.db.connect();
  const mode = exclusive ? "" : "_shared";
  try {
    await client.query(`SELECT pg_advisory_lock${mode}(hashtext('capydb:masked-snapshot:' || $1))`, [projectId]);
    return await fn();
  } finally {
    await client.query(`SELECT pg_advisory_unlock${mode}(hashtext('capydb:masked-snapshot:' || $1))`, [projectId]).catch(() => {});
    client.release();
  }
}

/**
 * Masks the database `copy` is connected to (as the role that owns its objects) under the
 * project's rules, then proves it against production. Answers how many columns were masked.
 * Any failure is a PermanentError saying which rule and why: nothing is made from the copy.
 */
async function maskAndProve(ctx: AppContext, project: ProjectRow, copy: pg.Client, rules: MaskingRulesRow): Promise<number> {
  const catalog = await readCatalog(copy);
  let prepared;
  try {
    prepared = prepareRules(rules.rules, catalog);
  } catch (err) {
    if (err instanceof RuleError) throw new PermanentError(`masking rule ${err.message} (in the copy of ${project.database_name})`);
    throw err;
  }
  try {
    await maskDatabase(copy, prepared, catalog, maskingKey(ctx, rules));
  } catch (err) {
    throw new PermanentError(`masking failed, so no preview is made from this copy: ${(err as Error).message}`);
  }
  const login = { role: project.role_name, password: ctx.box.open(project.role_password_sealed) };
  await withTenantSession(
    ctx.clusters,
    project.cluster_id,
    project.database_name,
    login,
    async (production) => {
      try {
        await proveMasked(production, copy, prepared);
      } catch (err) {
        if (err instanceof MaskingProofError) throw new PermanentError(`masking could not be proven, so no preview is made from this copy: ${err.message}`);
        throw err;
      }
    },
    { applicationName: "capydb-masking-proof", statementTimeoutSeconds: 3600 },
  );
  return prepared.length;
}

async function rulesOf(ctx: AppContext, project: ProjectRow): Promise<MaskingRulesRow> {
  const rules = await loadMaskingRules(ctx.db, project.id);
  if (!rules || !rules.rules.length) throw new PermanentError("the project has no masking rules any more: a masked preview cannot be made");
  return rules;
}

/** Makes the masked snapshot from snapshot `base` (generation `generation`) under the current rules. */
async function makeMaskedSnapshot(ctx: AppContext, project: ProjectRow, base: string, generation: number): Promise<MaskedSnapshotRow> {
  const rules = await rulesOf(ctx, project);
  const password = ctx.box.open(project.role_password_sealed);
  const name = maskedSnapshotName(project);
  let columns = 0;
  const started = Date.now();
  await ctx.instances!.host.deriveSnapshot(base, name, async (at) => {
    const copy = await openTenantSessionAt(
      at,
      project.database_name,
      { role: project.role_name, password },
      {
        applicationName: "capydb-masking",
        statementTimeoutSeconds: 6 * 3600,
      },
    );
    try {
      columns = await maskAndProve(ctx, project, copy, rules);
    } finally {
      await copy.end().catch(() => {});
    }
  });
  const row: MaskedSnapshotRow = {
    project_id: project.id,
    snapshot_name: name,
    base_generation: generation,
    rules_version: rules.version,
    masked_columns: columns,
    verified_at: new Date(),
  };
  await recordMaskedSnapshot(ctx.db, row);
  ctx.log.info({ project_id: project.id, columns, ms: Date.now() - started }, "masked snapshot made and proven");
  return row;
}

/**
 * Masks a preview's build database in place, before it is swapped in (previews from a backup,
 * and every masked preview on the shared engine, which has no file-level snapshot to derive a
 * masked one from): as the preview's role, which owns the copy's objects. Answers when the
 * masking was proven.
 */
export async function maskBuildInPlace(ctx: AppContext, preview: PreviewRow, project: ProjectRow, database: string, password: string): Promise<Date> {
  const rules = await rulesOf(ctx, project);
  const started = Date.now();
  const columns = await withTenantSession(
    ctx.clusters,
    preview.cluster_id,
    database,
    { role: preview.role_name, password },
    (copy) => maskAndProve(ctx, project, copy, rules),
    { applicationName: "capydb-masking", statementTimeoutSeconds: 6 * 3600 },
  );
  ctx.log.info({ preview_id: preview.id, columns, ms: Date.now() - started }, "preview's copy masked and proven");
  return new Date();
}

/**
 * Runs fn with the project's masked snapshot in place, current (derived from the snapshot
 * that withInstanceSnapshot answers, under the current rules): made first when it is not.
 * Answers fn's result, the instant the data is from and when the masking was proven.
 */
export async function withMaskedInstanceSnapshot<T>(
  ctx: AppContext,
  project: ProjectRow,
  freshSince: Date | null,
  fn: (snapshot: string) => Promise<T>,
): Promise<{ result: T; takenAt: Date; verifiedAt: Date }> {
  const { result, takenAt } = await withInstanceSnapshot(ctx, project, freshSince, async (base) => {
    const generation = (await useSnapshot(ctx.db, project.id))!.generation;
    const current = async () => {
      const [row, rules] = await Promise.all([loadMaskedSnapshot(ctx.db, project.id), loadMaskingRules(ctx.db, project.id)]);
      const ok =
        row && rules && row.base_generation === generation && row.rules_version === rules.version && ctx.instances!.host.snapshotExists(row.snapshot_name);
      return ok ? row : null;
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      const used = await withMaskedLock(ctx, project.id, false, async () => {
        const row = await current();
        return row ? { result: await fn(row.snapshot_name), verifiedAt: row.verified_at } : null;
      });
      if (used) return used;
      await withMaskedLock(ctx, project.id, true, async () => {
        if (!(await current())) await makeMaskedSnapshot(ctx, project, base, generation);
      });
    }
    throw new Error(`the masked snapshot of project ${project.id} was replaced three times while a clone waited for it`);
  });
  return { result: result.result, takenAt, verifiedAt: result.verifiedAt };
}
