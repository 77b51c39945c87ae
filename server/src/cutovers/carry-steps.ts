// The two carries of a data cutover on the instance engine (carry-over.ts does the work):
//
// - execute: production's writes since the preview's origin go into the preview, then the
//   swap under the pause. Before the pause a slot is made in the preview's database (about to
//   be production), and the previous data's tables are kept: what a rollback needs;
// - rollback: production's writes since the swap go back into the previous data (its instance
//   started for it), then the swap back under the pause; the promoted data goes after.
//
// Tables a carry cannot take are refused unless the operator accepted losing their writes.
import type { CarryOver } from "@capydb/api";
import type { AppContext } from "../context.js";
import type { JobContext } from "../platform/jobs/worker.js";
import { PermanentError, TransientError, errorMessage } from "../platform/jobs/errors.js";
import { quoteIdent } from "../platform/dataplane/sql.js";
import { createCarryBackSlot } from "../platform/dataplane/privileged.js";
import type { ProjectRow } from "../projects/store.js";
import type { PreviewRow } from "../previews/store.js";
import { API_COUNT, forgetSlotCounts, JOB_COUNT, writesFromSlot, type CountOptions } from "../previews/origins.js";
import {
  carryAndSwap,
  carryBackName,
  carryName,
  dropCarry,
  finishCarry,
  planBetween,
  planCarryOver,
  planToApi,
  productionEnd,
  readTargetTables,
  releaseDirectWrites,
  type CarryPlan,
  type TargetTables,
} from "./carry-over.js";
import {
  alreadySwapped,
  dropPreviousInstance,
  prepareInstanceSwap,
  promoteByInstanceSwap,
  rollBackInstanceSwap,
  type InstancePair,
  type SwapPrepared,
} from "./instances.js";
import { recordCarryBack, recordCarryOver, recordRollbackCarryOver, type CutoverRow } from "./store.js";

const refuseLoss = (plan: CarryPlan, where: string) =>
  new PermanentError(
    `production's writes to ${plan.notCarried.map((t) => `${t.table} (${t.reason})`).join("; ")} cannot be carried ${where}: nothing was changed; ask again with accept_write_loss: true to go on without them`,
  );

/** A slot that is there but could not be read now: the job tries again rather than swapping without the writes. */
function retryWhenUnread(plan: CarryPlan): void {
  if (!plan.writes.known && plan.writes.transient) throw new TransientError(`production's writes could not be read: ${plan.writes.reason}`);
}

/**
 * Execute: production's writes since the preview's origin carried into the preview, the last of
 * them under a write pause that also covers the swap. Without an origin (a preview from before
 * origins, a lost slot) the swap is done as before and the request says why nothing was carried.
 */
export async function promoteCarryingWrites(
  ctx: AppContext,
  job: JobContext,
  cut: CutoverRow,
  project: ProjectRow,
  preview: PreviewRow,
  pair: InstancePair,
): Promise<{ clusterId: string; dir: string }> {
  const name = carryName(cut.id);
  const at = { clusterId: project.cluster_id, database: project.database_name, role: project.role_name };
  if (alreadySwapped(ctx, cut, pair)) {
    const previous = await promoteByInstanceSwap(ctx, job, cut, project, preview, pair);
    await ctx.pooler.resume(project.cluster_id, project.database_name); // a server that died in the pause (its watchdog lifted it too)
    // the swap happened inside the pause, after the drain: what was carried is as recorded (the pause's length died with the server)
    if (cut.carry_over && cut.carry_over.state !== "done") await recordCarryOver(ctx.db, cut.id, { ...cut.carry_over, state: "done", pause_ms: null });
    await finishCarry(ctx, name, at);
    return previous;
  }
  const plan = await planCarryOver(ctx, project, preview);
  retryWhenUnread(plan);
  if (!plan.possible) {
    await recordCarryOver(ctx.db, cut.id, planToApi(plan, cut.accept_write_loss));
    // a preview that had an origin whose slot is lost: its writes since are unknown, not none
    if (preview.origin_slot && !cut.accept_write_loss) {
      throw new PermanentError(
        `production's writes since the preview's origin cannot be carried (${plan.reason}): nothing was changed; execute again with accept_write_loss: true to promote it without them`,
      );
    }
    return promoteByInstanceSwap(ctx, job, cut, project, preview, pair);
  }
  if (plan.notCarried.length > 0 && !cut.accept_write_loss) {
    await recordCarryOver(ctx.db, cut.id, planToApi(plan, false));
    throw refuseLoss(plan, "into the preview");
  }
  let prepared: SwapPrepared | undefined;
  const { result, carry } = await carryAndSwap(
    {
      ctx,
      job,
      name,
      copyFrom: preview.origin_slot,
      production: project,
      target: {
        clusterId: preview.cluster_id,
        database: preview.database_name,
        login: { role: preview.role_name, password: ctx.box.open(preview.role_password_sealed) },
      },
      plan,
      acceptWriteLoss: cut.accept_write_loss,
      before: cut.carry_over,
      record: (c) => recordCarryOver(ctx.db, cut.id, c),
      beforePause: async (replayPid) => {
        await prepareCarryBack(ctx, cut, project, preview);
        prepared = await prepareInstanceSwap(ctx, cut, project, preview, pair, replayPid);
      },
    },
    () => promoteByInstanceSwap(ctx, job, cut, project, preview, pair, { paused: true, prepared }),
  );
  await recordCarryOver(ctx.db, cut.id, carry);
  await finishCarry(ctx, name, at);
  return result;
}

/**
 * What a rollback needs, made before the pause: a slot in the preview's database (production's
 * writes after the swap are what it decodes; the replay's own changes carry an origin and are
 * skipped), and production's tables as they are (the previous data's, once swapped out).
 * Without the slot a rollback carries nothing back, and the request says why.
 */
async function prepareCarryBack(ctx: AppContext, cut: CutoverRow, project: ProjectRow, preview: PreviewRow): Promise<void> {
  const previousTables = await readTargetTables(ctx, productionEnd(ctx, project));
  try {
    const slot = carryBackName(cut.id);
    await createCarryBackSlot(ctx.clusters, preview.cluster_id, preview.database_name, slot, ctx.config.instances.originSlotTimeoutSeconds);
    await recordCarryBack(ctx.db, cut.id, { slot, error: null, previous_tables: previousTables });
  } catch (err) {
    await recordCarryBack(ctx.db, cut.id, {
      slot: null,
      error: `no slot for a rollback's carry back could be made (${errorMessage(err)}): a rollback would not keep production's writes since the cutover`,
      previous_tables: previousTables,
    });
  }
}

/** A failed data cutover: production's writes let go, the carry slot on production, the rollback's slot and the replay's grants in the preview go. */
export async function abandonCarryOver(ctx: AppContext, cut: CutoverRow, project: ProjectRow, preview: PreviewRow): Promise<void> {
  await releaseDirectWrites(ctx, project).catch(() => {});
  await ctx.pooler.resume(project.cluster_id, project.database_name).catch(() => {});
  await dropCarry(ctx, carryName(cut.id), project).catch(() => {});
  const previewSide = { ...project, cluster_id: preview.cluster_id, database_name: preview.database_name };
  await dropCarry(ctx, carryBackName(cut.id), previewSide).catch(() => {});
  await finishCarry(ctx, carryName(cut.id), { clusterId: preview.cluster_id, database: preview.database_name, role: preview.role_name }).catch(() => {});
}

/** How a rollback would carry production's writes since the swap back into the previous data, now. */
export async function planCarryBack(ctx: AppContext, cut: CutoverRow, project: ProjectRow, opts: CountOptions = JOB_COUNT): Promise<CarryPlan> {
  const back = cut.carry_back;
  const none = (reason: string): CarryPlan => ({
    possible: false,
    reason,
    notCarried: [],
    targets: new Map(),
    labels: new Map(),
    writes: { known: false, reason },
  });
  if (!back) return none("this cutover kept no slot for a rollback to carry production's writes back from (a cutover without carry-over)");
  if (!back.slot) return none(back.error ?? "no slot for a rollback's carry back");
  const writes = await writesFromSlot(ctx, project, back.slot, cut.completed_at?.toISOString() ?? "", opts);
  return planBetween(ctx, productionEnd(ctx, project), back.previous_tables as TargetTables, writes, "the previous data");
}

/** The rollback's carry as the API shows it before the rollback (live). */
export async function rollbackCarryOf(ctx: AppContext, cut: CutoverRow, project: ProjectRow): Promise<CarryOver> {
  return planToApi(await planCarryBack(ctx, cut, project, API_COUNT), cut.rollback_accept_write_loss);
}

/**
 * Rollback: production's writes since the swap carried back into the previous data (its
 * instance started for it, its database open to the project's role again), the last of them
 * under a pause that also covers the swap back; the promoted data goes after. Answers false
 * when there is nothing to carry back from (the caller swaps back as before).
 */
export async function rollBackCarryingWrites(ctx: AppContext, job: JobContext, cut: CutoverRow, project: ProjectRow): Promise<boolean> {
  const engine = ctx.instances!;
  const production = await engine.instanceOf(project.cluster_id);
  const previous = cut.previous_instance_cluster_id ? await engine.instanceOf(cut.previous_instance_cluster_id) : null;
  if (!production || !previous) throw new PermanentError("the instances of this cutover are gone");
  const name = carryBackName(cut.id);
  if (engine.host.dataTarget(production.name) === cut.previous_dir) {
    // a retry after the swap back: finish what the first attempt began
    await engine.host.start(production.name);
    await ctx.pooler.resume(project.cluster_id, project.database_name);
    if (cut.rollback_carry_over && cut.rollback_carry_over.state !== "done") {
      await recordRollbackCarryOver(ctx.db, cut.id, { ...cut.rollback_carry_over, state: "done", pause_ms: null });
    }
    await finishCarry(ctx, name, { clusterId: project.cluster_id, database: project.database_name, role: project.role_name });
    await releaseDirectWrites(ctx, project);
    await dropPreviousInstance(ctx, previous.cluster_id);
    return true;
  }
  if (!cut.carry_back?.slot) return false;
  if (previous.state !== "active" || !engine.host.exists(previous.name)) {
    throw new PermanentError("the previous production data is gone: the rollback window has passed");
  }
  const plan = await planCarryBack(ctx, cut, project);
  retryWhenUnread(plan);
  if (!plan.possible) {
    await recordRollbackCarryOver(ctx.db, cut.id, planToApi(plan, cut.rollback_accept_write_loss));
    return false;
  }
  if (plan.notCarried.length > 0 && !cut.rollback_accept_write_loss) {
    await recordRollbackCarryOver(ctx.db, cut.id, planToApi(plan, false));
    throw refuseLoss(plan, "back into the previous data");
  }
  // the previous data was left with production's direct sessions held: the replay logs in as the project's role
  await engine.host.start(previous.name);
  await (await ctx.clusters.pool(previous.cluster_id)).query(`ALTER DATABASE ${quoteIdent(project.database_name)} WITH CONNECTION LIMIT -1`);
  const { carry } = await carryAndSwap(
    {
      ctx,
      job,
      name,
      copyFrom: null,
      production: project,
      target: { clusterId: previous.cluster_id, database: project.database_name, login: productionEnd(ctx, project).login },
      plan,
      acceptWriteLoss: cut.rollback_accept_write_loss,
      before: cut.rollback_carry_over,
      record: (c) => recordRollbackCarryOver(ctx.db, cut.id, c),
    },
    () => rollBackInstanceSwap(ctx, cut, project, { paused: true }),
  );
  await recordRollbackCarryOver(ctx.db, cut.id, carry);
  await finishCarry(ctx, name, { clusterId: project.cluster_id, database: project.database_name, role: project.role_name });
  await dropPreviousInstance(ctx, previous.cluster_id);
  return true;
}

/** The rollback window passed: the slot a rollback would have carried back from goes. */
export async function dropCarryBack(ctx: AppContext, cut: CutoverRow, project: ProjectRow): Promise<void> {
  if (!cut.carry_back?.slot) return;
  await dropCarry(ctx, cut.carry_back.slot, project).catch(() => {});
  await forgetSlotCounts(ctx, project, cut.carry_back.slot).catch(() => {});
}
