/**
 * A plan's bundles granted for a period in Redis (src/balances/bundles.ts does the script call): the
 * allowance of a partial first period is prorated by the plan's policy; renewals grant it whole and
 * reset or roll over. Operation ids `renew:{assignmentId}:{periodStartIso}:{bundle}`.
 */
import type { BalanceStore } from '../../balances/store.js';
import { prorateAllowance } from '../core/proration.js';
import { PlansError } from './errors.js';
import type { PlanBundle, PlanVersionBody } from './plan-body.js';
import { isoOf, rolloverExpiry, type PlanClock } from './plan-periods.js';

export interface GrantPeriod {
  start: number;
  end: number;
  activeDays: number;
  periodDays: number;
}

function allowanceOf(plan: PlanVersionBody, b: PlanBundle, quantity: number, p: GrantPeriod): number {
  const whole = BigInt(b.amount) * BigInt(quantity);
  if (p.activeDays === p.periodDays || plan.proration === 'full') return Number(whole);
  if (plan.proration === 'none') return 0;
  return Number(prorateAllowance(whole, p.activeDays, p.periodDays, BigInt(b.unitIncrement)));
}

/** Grants every bundle of the plan for the period; `k` numbers the renewal (0 = the first grant). */
export async function grantBundles(
  balances: BalanceStore,
  a: { tenant: string; accountId: string; id: string; seq: number; quantity: number },
  plan: PlanVersionBody,
  clock: PlanClock,
  p: GrantPeriod,
  k: number,
): Promise<void> {
  for (const b of plan.bundles) {
    const r = await balances.renewBundle(
      a.tenant,
      a.accountId,
      {
        seq: a.seq,
        suffix: b.id,
        unit: b.unit,
        allowance: allowanceOf(plan, b, a.quantity, p),
        weight: b.weight,
        destinations: b.destinations,
        ratingGroups: b.ratingGroups,
        categories: b.categories,
        periodStartMs: p.start,
        periodEndMs: p.end,
        renewal: b.renewal,
        rolloverCap: b.rolloverCap * a.quantity,
        rolloverExpiryMs: rolloverExpiry(clock, p.end, b.rolloverPeriods),
        k,
      },
      `renew:${a.id}:${isoOf(p.start)}:${b.id}`,
    );
    if (r.code !== 'OK')
      throw new PlansError(
        'CONFLICT',
        `bundle ${b.id} of ${a.id} was refused: ${r.code}${r.detail ? ` ${r.detail}` : ''}`,
      );
  }
}

/** Takes the plan's bundle balances off the account (a cancellation now): held ones just expire now. */
export async function removeBundles(
  balances: BalanceStore,
  a: { tenant: string; accountId: string; id: string; seq: number },
  nowMs: number,
): Promise<void> {
  const view = await balances.getAccount(a.tenant, a.accountId);
  const mine = (view?.balances ?? []).filter((b) => b.id.startsWith(`plan.${a.seq}.`) && b.scope === 'a');
  for (const b of mine) {
    const r = await balances.removeBalance(a.tenant, a.accountId, b.id, `cancel:${a.id}:${b.id}`);
    if (r.code === 'RESERVATION_EXISTS')
      await balances.updateBalance(
        a.tenant,
        a.accountId,
        b.id,
        { expiryMs: nowMs },
        `cancel:${a.id}:${b.id}:expire`,
      );
  }
}
