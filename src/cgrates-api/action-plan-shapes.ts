/**
 * Action plans in CGRateS's shapes (pure): engine.ActionPlan for GetActionPlan and
 * apier/v1 AccountActionTiming for GetAccountActionPlan.
 */
import type { ActionPlanRow, Binding } from './action-plans-store.js';
import { GO_ZERO_TIME, goTime } from './go-time.js';

/** engine.ActionPlan: AccountIDs a utils.StringMap of "tenant:account" (null when none). */
export function cgrActionPlan(tenant: string, p: ActionPlanRow, bound: Binding[]) {
  const mine = bound.filter((b) => b.actionPlanId === p.id);
  return {
    Id: p.id,
    AccountIDs: mine.length ? Object.fromEntries(mine.map((b) => [`${tenant}:${b.accountId}`, true])) : null,
    ActionTimings: p.timings.map((t) => ({
      Uuid: t.uuid,
      Timing: { Timing: t.timing, Rating: null, Weight: 0 },
      ActionsID: t.actionsId,
      ExtraData: null,
      Weight: t.weight,
    })),
  };
}

/**
 * One AccountActionTiming per timing of each plan bound: NextExecTime is when the plan renewal next
 * runs on the account (its period end); an *asap timing has run already (Go's zero time).
 */
export function cgrAccountActionTimings(plans: ActionPlanRow[], bound: Binding[]) {
  return bound.flatMap((b) => {
    const p = plans.find((x) => x.id === b.actionPlanId);
    return (p?.timings ?? []).map((t) => ({
      ActionPlanId: b.actionPlanId,
      Uuid: t.uuid,
      ActionsId: t.actionsId,
      NextExecTime: t.kind === 'asap' ? GO_ZERO_TIME : goTime(b.periodEnd),
    }));
  });
}
