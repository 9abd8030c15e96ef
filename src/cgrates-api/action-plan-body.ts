/**
 * The actions of a periodic action plan timing as a plan version of the billing catalog (pure):
 * what CGRateS's scheduler would run each period is what the engine's plan renewal does, so there is
 * one renewal (src/billing/plans/renewals.ts), not a second scheduler in the facade.
 *
 * - `*topup_reset` of units (voice, data, sms, generic): a bundle renewed with `reset` (the balance
 *   set to the amount each period, as CGRateS resets it);
 * - `*topup` of units: a bundle renewed with `rollover` (what is left is kept, up to one period's
 *   amount, for 12 periods: CGRateS adds to what is there);
 * - `*debit` / `*debit_reset` of `*monetary`: the plan's fee per period (several add up);
 * - `*log`, `*cdrlog`: nothing (the ledger and the charges already record every renewal);
 * - anything else, or a field a plan bundle cannot carry: NOT_IMPLEMENTED, and nothing is stored.
 */
import { MoneyFormatError, parseMoney } from '../billing/core/currency.js';
import { nanoToDecimal } from '../rating/money.js';
import type { StoredAction } from './actions-store.js';
import type { StoredTiming } from './action-plan-timing.js';
import { notConvertible, notImplemented } from './errors.js';

const BUNDLE_ID = /^[A-Za-z0-9_-]{1,32}$/;
const NS_PER_SECOND = 1_000_000_000;
/** How long a rolled-over remainder of a `*topup` is kept (the catalog's limit). */
const ROLLOVER_PERIODS = 12;
const PERIOD = { month: 'month', week: 'week', day: 'day' } as const;

/** The catalog code of an action plan's renewal (one per action plan id, versioned by the catalog). */
export const planCodeOf = (actionPlanId: string) => `cgr-ap-${actionPlanId}`;

/** A plan bundle amount: voice in whole seconds (CGRateS gives ns), others in base units. */
function bundleAmount(a: StoredAction): number {
  if (a.unit !== 'voice') return a.amount;
  if (a.amount % NS_PER_SECOND !== 0)
    throw notImplemented(`*voice Units ${a.amount} in a periodic action plan: whole seconds only`);
  return a.amount / NS_PER_SECOND;
}

function bundleOf(a: StoredAction, i: number, taken: Set<string>) {
  if (a.ratingSubject || a.blocker)
    throw notImplemented(`RatingSubject and BalanceBlocker on ${a.type} in a periodic action plan`);
  if (!Number.isInteger(a.balanceWeight))
    throw notImplemented(`BalanceWeight ${a.balanceWeight} in a periodic action plan: whole numbers only`);
  const id = BUNDLE_ID.test(a.balanceId) && !taken.has(a.balanceId) ? a.balanceId : `b${i}`;
  taken.add(id);
  const amount = bundleAmount(a);
  const rollover = a.type === '*topup';
  return {
    id,
    unit: a.unit,
    amount,
    weight: a.balanceWeight,
    destinations: a.destinations,
    categories: a.categories,
    renewal: rollover ? 'rollover' : 'reset',
    ...(rollover ? { rolloverCap: amount, rolloverPeriods: ROLLOVER_PERIODS } : {}),
  };
}

/** The fee in the currency's own digits, or NOT_CONVERTIBLE when it has finer ones. */
function feeText(nano: bigint, currency: string): string {
  const text = nanoToDecimal(nano);
  try {
    parseMoney(text, currency);
  } catch (err) {
    if (err instanceof MoneyFormatError) throw notConvertible(`*debit Units ${text} in ${currency}`);
    throw err;
  }
  return text;
}

/**
 * The plan body (validated again by the catalog's putPlan). `firstWhole`: the account is granted the
 * whole first period at binding (an `*asap` timing on the same actions); else nothing until the first
 * anchor, as CGRateS runs a timing first at its next occurrence.
 */
export function planBodyOf(
  actionPlanId: string,
  t: StoredTiming,
  actions: StoredAction[],
  currency: string,
  firstWhole: boolean,
) {
  const bundles = [];
  const taken = new Set<string>();
  let fee = 0n;
  for (const [i, a] of actions.entries()) {
    if (a.type === '*log' || a.type === '*cdrlog') continue;
    if ((a.type === '*topup' || a.type === '*topup_reset') && a.unit && a.unit !== 'money')
      bundles.push(bundleOf(a, i, taken));
    else if ((a.type === '*debit' || a.type === '*debit_reset') && a.unit === 'money')
      fee += BigInt(a.amount);
    else
      throw notImplemented(
        `${a.type}${a.unit ? ` of ${a.unit}` : ''} in a periodic action plan (${t.actionsId}): it has no plan equivalent`,
      );
  }
  if (t.kind === 'asap') throw new Error('an *asap timing has no plan');
  return {
    description: `CGRateS action plan ${actionPlanId}`.slice(0, 200),
    period: PERIOD[t.kind],
    prices: { [currency]: feeText(fee, currency) },
    proration: firstWhole ? 'full' : 'none',
    bundles,
  };
}
