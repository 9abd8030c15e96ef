/**
 * Reference model of the consumption order, for the model-based test: matching unit balances
 * first (heaviest first, then the soonest to expire), then money at the rated price for what they
 * do not cover; postpaid money may go down to minus the credit limit on the main wallet. The
 * store does this in Lua (debit.lua); this is an independent TypeScript reading of the same rules.
 */
import type { Account, Balance, Charge } from '../../src/balances/model.js';
import { proRata } from '../../src/balances/pro-rata.js';

export interface PlannedMove {
  scope: 'a' | 'g';
  balanceId: string;
  amount: number;
}

export type Plan =
  | { ok: true; moves: PlannedMove[]; unitsFromBundles: number; moneyNano: number }
  | { ok: false; code: 'INSUFFICIENT' };

export interface SnapshotBalance extends Balance {
  scope: 'a' | 'g';
}

export function isActiveAt(b: Balance, nowMs: number): boolean {
  return b.activationMs <= nowMs && (b.expiryMs === null || b.expiryMs > nowMs);
}

export function matches(b: Balance, c: Charge): boolean {
  return (
    (b.destinations.length === 0 ||
      (c.destination !== undefined && b.destinations.includes(c.destination))) &&
    (b.ratingGroups.length === 0 ||
      (c.ratingGroup !== undefined && b.ratingGroups.includes(c.ratingGroup))) &&
    (b.categories.length === 0 || (c.category !== undefined && b.categories.includes(c.category)))
  );
}

function byPriority(a: SnapshotBalance, b: SnapshotBalance): number {
  return (
    b.weight - a.weight || (a.expiryMs ?? Infinity) - (b.expiryMs ?? Infinity) || a.id.localeCompare(b.id)
  );
}

const available = (b: Balance) => b.value - b.held;

export function planCharge(
  account: Account,
  balances: SnapshotBalance[],
  charge: Charge,
  nowMs: number,
): Plan {
  const usable = balances.filter((b) => isActiveAt(b, nowMs) && matches(b, charge));
  const moves: PlannedMove[] = [];
  let remaining = charge.units;
  for (const b of usable.filter((b) => b.unit === charge.unit).sort(byPriority)) {
    if (remaining === 0) break;
    const take = Math.min(remaining, available(b));
    if (take <= 0) continue;
    moves.push({ scope: b.scope, balanceId: b.id, amount: take });
    remaining -= take;
  }
  const unitsFromBundles = charge.units - remaining;
  let money = proRata(charge.amountNano, remaining, charge.units);
  const moneyNano = money;
  const wallets = usable.filter((b) => b.unit === 'money').sort(byPriority);
  for (const b of wallets) {
    if (money === 0) break;
    const take = Math.min(money, Math.max(0, available(b)));
    if (take <= 0) continue;
    moves.push({ scope: b.scope, balanceId: b.id, amount: take });
    money -= take;
  }
  if (money > 0) {
    // Postpaid: the rest goes below zero on the main (heaviest) wallet, down to the credit limit.
    const main = wallets[0];
    const floor = account.type === 'postpaid' ? -account.creditLimitNano : 0;
    if (
      !main ||
      available(main) -
        (moves.find((m) => m.balanceId === main.id && m.scope === main.scope)?.amount ?? 0) -
        money <
        floor
    ) {
      return { ok: false, code: 'INSUFFICIENT' };
    }
    const existing = moves.find((m) => m.balanceId === main.id && m.scope === main.scope);
    if (existing) existing.amount += money;
    else moves.push({ scope: main.scope, balanceId: main.id, amount: money });
  }
  return { ok: true, moves, unitsFromBundles, moneyNano };
}
