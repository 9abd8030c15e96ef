/**
 * Final units: what the balances can pay of a quota the step refused for lack of credit, from a
 * snapshot of them. Pure; the step checks the grant again.
 *
 * Two rules beyond `affordableUsage`:
 * - A postpaid account's money may go below zero down to its credit limit, as the step's floor
 *   lets it (balances/lua/common.lua `plan`): the limit is one more source of money, taken last.
 * - Several groups refused in one step share the balances: each grant is computed on what the
 *   grants before it in the step left (`taken`), so together they never ask more than there is.
 */
import type { AccountView } from '../balances/store.js';
import type { Account } from '../balances/model.js';
import { affordableUsage, type BalanceSnapshot } from '../rating/affordable.js';
import { wholeUsage, type RatingResult } from '../rating/index.js';
import type { SessionRecord } from './session-model.js';

/** What the grants planned so far in a step take, per balance ('scope:id'; money in nano). */
export type Taken = Map<string, bigint>;

/** The snapshot id of a postpaid account's credit line (not a stored balance). */
const CREDIT = 'credit';

/**
 * The balances that may pay the group now: what each had free when the step refused (`free`,
 * after the step's earlier operations) or else its value less what it holds, less `taken`.
 */
export function grantSnapshot(
  view: AccountView,
  s: Pick<SessionRecord, 'category'>,
  rg: number,
  nowMs: number,
  free: Map<string, number> | undefined,
  taken: Taken,
): BalanceSnapshot[] {
  const usable = view.balances.filter(
    (b) =>
      b.activationMs <= nowMs &&
      (b.expiryMs === null || b.expiryMs > nowMs) &&
      (b.ratingGroups.length === 0 || b.ratingGroups.includes(rg)) &&
      (b.categories.length === 0 || b.categories.includes(s.category)),
  );
  const balances = usable.map((b): BalanceSnapshot => {
    const id = `${b.scope}:${b.id}`;
    return {
      id,
      unit: b.unit,
      value: BigInt(free?.get(id) ?? b.value - b.held) - (taken.get(id) ?? 0n),
      weight: b.weight,
      destinations: b.destinations,
      blocker: b.blocker,
      expiryMs: b.expiryMs,
      unitIncrement: b.unitIncrement,
    };
  });
  const credit = creditLine(view.account, balances, taken);
  return [...balances.map((b) => ({ ...b, value: b.value > 0n ? b.value : 0n })), ...credit];
}

/**
 * A postpaid account's credit limit as a money source of its own, after every balance. The step
 * lets one money balance (the first that may pay) go below zero down to the limit: what a money
 * balance already is below zero counts against it. Only when a money balance may pay the call
 * (`payingOrder` drops the line otherwise); never more than the step allows.
 */
function creditLine(a: Account, balances: BalanceSnapshot[], taken: Taken): BalanceSnapshot[] {
  if (a.type !== 'postpaid' || a.creditLimitNano <= 0) return [];
  const money = balances.filter((b) => b.unit === 'money');
  const below = money.reduce((sum, b) => sum + (b.value < 0n ? b.value : 0n), 0n);
  const value = BigInt(a.creditLimitNano) + below - (taken.get(CREDIT) ?? 0n);
  if (value <= 0n) return [];
  return [
    {
      id: CREDIT,
      unit: 'money',
      value,
      weight: Number.MIN_SAFE_INTEGER,
      destinations: [],
      blocker: false,
      creditLine: true,
    },
  ];
}

/**
 * The units (the session's unit: seconds of voice) of `quota` the snapshot pays; what paying them
 * takes is added to `taken` (money rounded up to the nano, so a later grant never counts on more).
 */
export function affordableGrant(
  s: SessionRecord,
  rated: RatingResult,
  snapshot: BalanceSnapshot[],
  quota: number,
  taken: Taken,
): number {
  const paid = affordableUsage(rated, snapshot);
  for (const m of paid.movements) {
    const amount = (m.num + m.den - 1n) / m.den;
    taken.set(m.balanceId, (taken.get(m.balanceId) ?? 0n) + amount);
  }
  return Math.min(quota, wholeUsage(s.tor, paid.usage));
}
