// Masking rules: reading and setting them (checked against production's catalog, in a
// session as the project's own role), and what a new preview's `masked` is.
import crypto from "node:crypto";
import type pg from "pg";
import type { z } from "zod";
import type { MaskingRules, PutMaskingRulesRequest } from "@capydb/api";
import type { AppContext } from "../context.js";
import type { Principal } from "../http/auth.js";
import { HttpError, badRequest, conflict, forbidden, projectStateConflict, unavailable } from "../http/errors.js";
import { isDatabaseUnavailable } from "../platform/store/db.js";
import { errorMessage } from "../platform/jobs/errors.js";
import { withTenantSession } from "../platform/dataplane/tenant-session.js";
import type { ProjectRow } from "../projects/store.js";
import { prepareRules, readCatalog, RuleError, type Catalog } from "./catalog.js";
import { uncoveredColumns } from "./coverage.js";
import { loadMaskingRules, saveMaskingRules, type MaskingRulesRow } from "./store.js";

/** Runs fn on production's catalog, in a session as the project's role. */
async function withProductionCatalog<T>(ctx: AppContext, project: ProjectRow, fn: (c: pg.Client, catalog: Catalog) => Promise<T>): Promise<T> {
  if (project.state !== "ready")
    throw projectStateConflict(project.state, `project is ${project.state}: masking rules are checked against its database once it is ready`);
  const login = { role: project.role_name, password: ctx.box.open(project.role_password_sealed) };
  try {
    return await withTenantSession(ctx.clusters, project.cluster_id, project.database_name, login, async (c) => fn(c, await readCatalog(c)), {
      applicationName: "capydb-masking",
      statementTimeoutSeconds: 60,
    });
  } catch (err) {
    // production down, or its role refused (NOLOGIN, a connection limit): 503 saying so, not a 500
    const code = (err as { code?: string }).code ?? "";
    if (err instanceof HttpError || !(isDatabaseUnavailable(err) || code.startsWith("28"))) throw err;
    throw unavailable(`project ${project.id}'s database could not be reached as its own role (${errorMessage(err)}): masking rules are read against it`);
  }
}

function toApi(row: MaskingRulesRow | null, uncovered: MaskingRules["uncovered_columns"]): MaskingRules {
  return {
    rules: row?.rules ?? [],
    require_coverage: row?.require_coverage ?? false,
    uncovered_columns: uncovered,
    updated_at: row ? row.updated_at.toISOString() : null,
  };
}

export async function getMaskingRules(ctx: AppContext, project: ProjectRow): Promise<MaskingRules> {
  const row = await loadMaskingRules(ctx.db, project.id);
  const uncovered = await withProductionCatalog(ctx, project, (c, catalog) => uncoveredColumns(c, catalog, row?.rules ?? []));
  return toApi(row, uncovered);
}

export async function putMaskingRules(ctx: AppContext, project: ProjectRow, body: z.infer<typeof PutMaskingRulesRequest>): Promise<MaskingRules> {
  const { prepared, uncovered } = await withProductionCatalog(ctx, project, async (c, catalog) => {
    try {
      const prepared = prepareRules(body.rules, catalog);
      return { prepared, uncovered: await uncoveredColumns(c, catalog, body.rules) };
    } catch (err) {
      if (err instanceof RuleError) throw badRequest(err.message);
      throw err;
    }
  });
  // a constant must be a value of its column's type
  for (const [i, p] of prepared.entries()) {
    if (p.rule.strategy !== "constant") continue;
    const login = { role: project.role_name, password: ctx.box.open(project.role_password_sealed) };
    await withTenantSession(ctx.clusters, project.cluster_id, project.database_name, login, async (c) => {
      try {
        await c.query(`SELECT $1::${p.column.type}`, [p.rule.value]);
      } catch (err) {
        throw badRequest(`rules[${i}].value: not a value of ${p.table.name}.${p.column.name}'s type ${p.column.type}: ${(err as Error).message}`);
      }
    });
  }
  const row = await saveMaskingRules(
    ctx.db,
    project.id,
    prepared.map((p) => p.rule),
    body.require_coverage ?? false,
    ctx.box.seal(crypto.randomBytes(32).toString("base64")),
  );
  return toApi(row, uncovered);
}

/** The project's masking key (HMAC key of every strategy). */
export function maskingKey(ctx: AppContext, row: MaskingRulesRow): Buffer {
  return Buffer.from(ctx.box.open(row.key_sealed), "base64");
}

/**
 * Whether a new preview is masked: asked for, else whenever the project has rules. An
 * unmasked preview of a project with rules needs an organization key or a platform admin;
 * a masked one needs rules, and full coverage when the rules require it.
 */
export async function previewMasking(ctx: AppContext, principal: Principal, project: ProjectRow, asked: boolean | undefined): Promise<boolean> {
  const row = await loadMaskingRules(ctx.db, project.id);
  const hasRules = Boolean(row && row.rules.length);
  const masked = asked ?? hasRules;
  if (!masked) {
    if (hasRules && principal.kind === "project") {
      throw forbidden("masked: this project has masking rules; an unmasked preview needs an organization key or a platform admin");
    }
    return false;
  }
  if (!hasRules) throw badRequest("masked: this project has no masking rules (PUT /v1/projects/{id}/masking-rules first)");
  if (row!.require_coverage) {
    const uncovered = await withProductionCatalog(ctx, project, (c, catalog) => uncoveredColumns(c, catalog, row!.rules));
    if (uncovered.length) {
      throw conflict(
        `masking rules require coverage and ${uncovered.length} column(s) that look personal have no rule: ` +
          uncovered.map((u) => `${u.table}.${u.column} (${u.reason})`).join(", "),
        "masking_coverage_incomplete",
      );
    }
  }
  return true;
}
