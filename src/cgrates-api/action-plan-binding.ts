/**
 * Binding an account to CGRateS action plans (SetAccount's ActionPlanIDs / ActionPlanID) on the
 * engine's plans: a periodic timing is the plan's assignment (src/billing/plans/assignments.ts), so
 * its renewals, fees, bundles, prepaid refusals and exactly-once come from the one plan renewal;
 * an `*asap` timing runs its actions once through ExecuteAction, under a Reference derived from the
 * timing's uuid (a retried SetAccount replays it; CGRateS would run it again on every call).
 */
import { assignPlan } from '../billing/plans/assignments.js';
import { cancelAssignment } from '../billing/plans/changes.js';
import type { PlansDeps } from '../billing/plans/db.js';
import { PlansError } from '../billing/plans/errors.js';
import { actionMethods } from './actions.js';
import { isPlanId, type ActionPlanRow, type ActionPlanStore } from './action-plans-store.js';
import { ASAP } from './action-plan-timing.js';
import type { CgrContext } from './context.js';
import { CgrError, exists, INSUFFICIENT_CREDIT, NOT_FOUND, notImplemented } from './errors.js';

export interface ActionPlanDeps {
  store: ActionPlanStore;
  plans: PlansDeps;
}

/** The action plans' store and the plans service, when the engine has PostgreSQL for them. */
export function actionPlansOf(c: CgrContext): ActionPlanDeps {
  if (!c.actionPlans || !c.plans)
    throw notImplemented('action plans need PostgreSQL (the engine was started without it)');
  return { store: c.actionPlans, plans: c.plans };
}

/** A refusal of the plans service as CGRateS names it; anything else goes on. */
export async function asCgr<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (!(err instanceof PlansError)) throw err;
    if (err.code === 'INSUFFICIENT_CREDIT') throw new CgrError(INSUFFICIENT_CREDIT);
    if (err.code === 'ACCOUNT_NOT_FOUND' || err.code === 'PLAN_NOT_FOUND') throw new CgrError(NOT_FOUND);
    if (err.code === 'CONFLICT') throw exists(err.message);
    throw notImplemented(`${err.code}: ${err.message}`);
  }
}

/** The periodic timing of a plan (at most one: SetActionPlan refuses more). */
export const periodicOf = (p: ActionPlanRow) => p.timings.find((t) => t.kind !== 'asap');

/** Binds one plan: assigns its renewal (unless bound), then runs its *asap timings once. */
async function bindOne(c: CgrContext, d: ActionPlanDeps, tenant: string, account: string, p: ActionPlanRow) {
  const periodic = periodicOf(p);
  if (periodic && p.planCode && p.planVersion) {
    const bound = (await d.store.ofAccount(tenant, account)).some((b) => b.actionPlanId === p.id);
    if (!bound) {
      // A binding's number: a retry after a crash finds the same assignment (same reference), a
      // binding after an unbinding makes a new one.
      const n = (await d.store.timesAssigned(tenant, account, p.planCode)) + 1;
      const req = {
        plan: p.planCode,
        version: p.planVersion,
        quantity: 1,
        coupons: [],
        reference: `cgr-ap:${p.id}:${account}:${n}`,
        anchorDay: periodic.anchorDay,
      };
      await asCgr(assignPlan(d.plans, tenant, account, req));
    }
  }
  // The plan's first period already granted the periodic actions whole when an *asap names them.
  const once = p.timings.filter((t) => t.timing.StartTime === ASAP && t.actionsId !== periodic?.actionsId);
  for (const t of once.sort((x, y) => y.weight - x.weight))
    await actionMethods['APIerSv1.ExecuteAction'](
      { Tenant: tenant, Account: account, ActionsId: t.actionsId, Reference: `ap:${t.uuid}` },
      c,
    );
}

/** Cancels bindings for their period end (no refund, as CGRateS refunds nothing on unbinding). */
export async function unbind(
  d: ActionPlanDeps,
  tenant: string,
  b: { accountId: string; assignmentId: string }[],
) {
  for (const x of b)
    await asCgr(cancelAssignment(d.plans, tenant, x.accountId, x.assignmentId, 'period_end'));
}

/** Every plan named must exist, checked before anything changes. */
export async function plansNamed(c: CgrContext, tenant: string, ids: string[]): Promise<ActionPlanRow[]> {
  if (!ids.length) return [];
  const d = actionPlansOf(c);
  if (!ids.every(isPlanId)) throw new CgrError(NOT_FOUND);
  const rows = await Promise.all(ids.map((id) => d.store.get(tenant, id)));
  if (rows.some((r) => !r)) throw new CgrError(NOT_FOUND);
  return rows as ActionPlanRow[];
}

/**
 * SetAccount's binding: `overwrite` first unbinds the plans not named (APIerSv2's
 * ActionPlansOverwrite; APIerSv1's single ActionPlanID always does), then binds each named one.
 */
export async function bindPlans(
  c: CgrContext,
  tenant: string,
  account: string,
  plans: ActionPlanRow[],
  overwrite: boolean,
): Promise<void> {
  if (!plans.length && !overwrite) return;
  const d = actionPlansOf(c);
  if (overwrite) {
    const keep = new Set(plans.map((p) => p.id));
    const old = (await d.store.ofAccount(tenant, account)).filter((b) => !keep.has(b.actionPlanId));
    await unbind(d, tenant, old);
  }
  for (const p of plans) await bindOne(c, d, tenant, account, p);
}
