/**
 * How much of a rated usage a set of balances can pay (CGRateS `GetMaxSessionDuration` without
 * its float drift): the connect fee first, then increment by increment, along `payingOrder` (the
 * one rule, docs/BALANCES.md, which the Lua planner in balances/lua/common.lua also follows); a
 * blocker balance that cannot pay stops the chain; a `disconnect` max cost stops it too.
 *
 * Pure: the caller passes the rating of the requested usage and a snapshot of the balances.
 * Increments are paid in bulk per balance (closed form), so a long data session costs no loop.
 */
import { destinationSpecificity, parseMatches, type DestinationMatches } from './balance-match.js';
import type { Tor } from './model.js';
import { pow10 } from './money.js';
import type { RatingResult } from './rate.js';

export type BalanceUnit = 'money' | Tor;

export interface BalanceSnapshot {
  id: string;
  unit: BalanceUnit;
  /** Money: nano units; units: base units (ns of voice, bytes, messages). */
  value: bigint;
  weight: number;
  /** Destination ids the balance is restricted to (`!ID` excludes); empty = any. */
  destinations: string[];
  blocker: boolean;
  /** Epoch ms; null or absent = never expires (sooner pays first among equals). */
  expiryMs?: number | null;
  /** A `*zero<step>` rating subject: consumed in whole steps of this many base units. */
  unitIncrement?: number;
  /**
   * A postpaid account's credit line (not a stored balance): the step lets the first money balance
   * that may pay go below zero, so it pays last, and only when some money balance may pay.
   */
  creditLine?: boolean;
}

export interface Movement {
  balanceId: string;
  /** Money in nano units as an exact fraction (num / den); units as whole base units (den 1). */
  num: bigint;
  den: bigint;
}

export interface Affordable {
  /** Usage the balances pay for, base units, at most the rated usage asked. */
  usage: number;
  /** Whether every increment (and the connect fee) was paid. */
  complete: boolean;
  movements: Movement[];
}

interface Live {
  b: BalanceSnapshot;
  /** Remaining value as num / den (money in nano). */
  num: bigint;
  den: bigint;
  spentNum: bigint;
  spentDen: bigint;
}

/**
 * Which kind of balance pays first for an event of `tor` (CGRateS: the event's type, then
 * `*generic`, then money); -1 = it may not pay. A generic balance counts the event's base units
 * one for one (ns of voice, bytes, messages), as CGRateS does without a conversion factor.
 */
function rank(unit: BalanceUnit, tor: Tor): number {
  if (unit === tor) return 0;
  if (unit === 'generic') return 1;
  return unit === 'money' ? 2 : -1;
}

/**
 * The balances that may pay an event of `tor` whose number matched `matches`, in paying order:
 * unit balances of the event's type, then generic ones, then money; within each the most specific
 * destination match first, then the heaviest, the soonest to expire, then by id. The caller has
 * kept only balances active now and matching the event's category and rating group.
 */
export function payingOrder(
  balances: readonly BalanceSnapshot[],
  tor: Tor,
  matches: DestinationMatches,
): BalanceSnapshot[] {
  const expiry = (b: BalanceSnapshot) => b.expiryMs ?? Number.POSITIVE_INFINITY;
  const ordered = balances
    .map((b) => ({ b, rank: rank(b.unit, tor), spec: destinationSpecificity(b.destinations, matches) }))
    .filter(({ rank, spec }) => rank >= 0 && spec >= 0)
    .sort(
      (x, y) =>
        x.rank - y.rank ||
        y.spec - x.spec ||
        y.b.weight - x.b.weight ||
        expiry(x.b) - expiry(y.b) ||
        (x.b.id < y.b.id ? -1 : x.b.id > y.b.id ? 1 : 0),
    )
    .map(({ b }) => b);
  const wallet = ordered.some((b) => b.unit === 'money' && !b.creditLine);
  return wallet ? ordered : ordered.filter((b) => !b.creditLine);
}

function chain(balances: BalanceSnapshot[], tor: Tor, matches: DestinationMatches): Live[] {
  return payingOrder(balances, tor, matches).map((b) => ({
    b,
    num: b.value,
    den: 1n,
    spentNum: 0n,
    spentDen: 1n,
  }));
}

/** How many whole items of `costNum/costDen` fit in `num/den` (costNum > 0). */
function fits(num: bigint, den: bigint, costNum: bigint, costDen: bigint): bigint {
  if (num <= 0n) return 0n;
  return (num * costDen) / (den * costNum);
}

function take(l: Live, count: bigint, costNum: bigint, costDen: bigint): void {
  const n = count * costNum;
  l.num = l.num * costDen - n * l.den;
  l.den *= costDen;
  l.spentNum = l.spentNum * costDen + n * l.spentDen;
  l.spentDen *= costDen;
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);

/** Pays up to `want` increments of money cost costNum/costDen from a money balance; returns how many. */
function payMoney(l: Live, want: bigint, costNum: bigint, costDen: bigint): bigint {
  const n = costNum === 0n ? want : min(want, fits(l.num, l.den, costNum, costDen));
  if (n > 0n) take(l, n, costNum, costDen);
  return n;
}

/**
 * Pays up to `want` increments of `inc` units from a unit balance; one consumed in steps of
 * `unitIncrement` (a `*zero` rating subject) gives whole steps, the last one rounded up.
 */
function payUnits(l: Live, want: bigint, inc: bigint): bigint {
  if (inc === 0n) return want;
  const step = BigInt(l.b.unitIncrement ?? 1);
  const n = min(want, ((l.num / l.den / step) * step) / inc);
  const consumed = ((n * inc + step - 1n) / step) * step;
  if (consumed > 0n) take(l, 1n, consumed, 1n);
  return n;
}

/**
 * Pays `count` increments of (usage `inc`, money cost `costNum/costDen` nano) along the chain.
 * Returns how many were paid; stops at a blocker that cannot pay.
 */
function payIncrements(live: Live[], count: bigint, inc: bigint, costNum: bigint, costDen: bigint): bigint {
  let paid = 0n;
  for (const l of live) {
    if (paid === count) break;
    paid +=
      l.b.unit === 'money' ? payMoney(l, count - paid, costNum, costDen) : payUnits(l, count - paid, inc);
    if (paid < count && l.b.blocker) break;
  }
  return paid;
}

export function affordableUsage(
  rated: RatingResult,
  balances: BalanceSnapshot[],
  opts: { allowNegative?: boolean } = {},
): Affordable {
  if (opts.allowNegative) return { usage: rated.usage, complete: true, movements: [] };
  const live = chain(balances, rated.tor, parseMatches(rated.segments[0]?.balanceDestinations ?? ''));
  const result = (usage: number, complete: boolean): Affordable => ({
    usage: Math.min(usage, rated.usage),
    complete,
    movements: live
      .filter((l) => l.spentNum !== 0n)
      .map((l) => ({ balanceId: l.b.id, num: l.spentNum, den: l.spentDen })),
  });

  const NANO = pow10(9);
  const fee = rated.connectFee;
  let costNum = fee.num * NANO; // running cost in nano, as costNum / costDen
  let costDen = pow10(fee.scale);
  if (
    fee.num > 0n &&
    payIncrements(
      live.filter((l) => l.b.unit === 'money'),
      1n,
      0n,
      costNum,
      costDen,
    ) < 1n
  ) {
    return result(0, false);
  }
  for (const span of rated.spans) {
    const inc = BigInt(span.slot.rateIncrement);
    const incNum = inc * span.slot.rateNum * NANO; // one increment's cost in nano: incNum / incDen
    const incDen = span.slot.rateDen;
    let count = BigInt(span.increments);
    const b = span.binding;
    let capped = false;
    if (b.maxCost && b.maxCostStrategy === 'disconnect' && incNum > 0n) {
      const capNum = b.maxCost.num * NANO * costDen - costNum * pow10(b.maxCost.scale);
      const allowed = capNum <= 0n ? 0n : fits(capNum, pow10(b.maxCost.scale) * costDen, incNum, incDen);
      if (allowed < count) [count, capped] = [allowed, true];
    }
    const paid = payIncrements(live, count, inc, incNum, incDen);
    costNum = costNum * incDen + paid * incNum * costDen;
    costDen *= incDen;
    if (paid < BigInt(span.increments) || capped) {
      return result(span.from + Number(paid) * span.slot.rateIncrement, false);
    }
  }
  return result(rated.usage, true);
}

/**
 * What each balance gives when a charge of `units` (base units) priced `amountNano` is debited, as
 * the step script takes it (balances/lua/common.lua `plan`): the units from unit balances in paying
 * order (whole steps from a `*zero` one), then the money price of what they leave (pro rata, rounded
 * up to the nano) from money balances in paying order; a blocker that cannot pay what is left
 * stops the chain. Null when the balances cannot pay it all.
 */
export function payCharge(
  balances: readonly BalanceSnapshot[],
  tor: Tor,
  matches: DestinationMatches,
  units: bigint,
  amountNano: bigint,
): Map<string, bigint> | null {
  const taken = new Map<string, bigint>();
  const free = (b: BalanceSnapshot) => (b.value > 0n ? b.value : 0n);
  let remaining = units;
  let money: bigint | null = null;
  for (const b of payingOrder(balances, tor, matches)) {
    if (b.unit !== 'money') {
      if (remaining === 0n) continue;
      const step = BigInt(b.unitIncrement ?? 1);
      const covered = min(remaining, (free(b) / step) * step);
      const consumed = ((covered + step - 1n) / step) * step;
      if (consumed > 0n) taken.set(b.id, consumed);
      remaining -= covered;
      if (remaining > 0n && b.blocker) return null;
      continue;
    }
    money ??= units === 0n ? amountNano : (amountNano * remaining + units - 1n) / units;
    if (money === 0n) break;
    const take = min(money, free(b));
    if (take > 0n) taken.set(b.id, take);
    money -= take;
    if (money > 0n && b.blocker) return null;
  }
  money ??= units === 0n ? amountNano : (amountNano * remaining + units - 1n) / units;
  return money === 0n ? taken : null;
}
