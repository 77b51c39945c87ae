// An organization's ceilings: its plans' (CAPYDB_PLANS) with what a platform admin set
// for it on top. Tenants read them; only a platform admin sets them.
import type { OrganizationQuotas, QuotaOverrides } from "@capydb/api";
import { PlanName } from "@capydb/api";
import type { Queryable } from "../platform/store/db.js";
import { effectiveCeilings, organizationOverrides, type PlanTable } from "../platform/quotas.js";
import { upsertOrganizationQuotas } from "./store.js";

function describe(organizationId: string, plans: PlanTable, overrides: QuotaOverrides, updatedAt: Date | null): OrganizationQuotas {
  const byPlan = Object.fromEntries(PlanName.options.map((plan) => [plan, effectiveCeilings(plans, overrides, plan).quotas]));
  return {
    organization_id: organizationId,
    overrides,
    plans: byPlan as OrganizationQuotas["plans"],
    updated_at: updatedAt ? updatedAt.toISOString() : null,
  };
}

export async function organizationQuotas(db: Queryable, plans: PlanTable, organizationId: string): Promise<OrganizationQuotas> {
  const { overrides, updatedAt } = await organizationOverrides(db, organizationId);
  return describe(organizationId, plans, overrides, updatedAt);
}

/**
 * Replaces the organization's own ceilings ({} removes them). They bind what its tenants
 * ask for from now on; settings already made stay as they are.
 */
export async function setOrganizationQuotas(db: Queryable, plans: PlanTable, organizationId: string, overrides: QuotaOverrides): Promise<OrganizationQuotas> {
  const stored = await upsertOrganizationQuotas(db, organizationId, overrides);
  return describe(organizationId, plans, stored.overrides, stored.updated_at);
}
