/**
 * How much of a rated usage a set of balances can pay (CGRateS `GetMaxSessionDuration` without
 * its float drift): the connect fee first, then increment by increment, unit balances of the
 * event's kind before money, most specific destination match first, then heavier first; a
 * blocker balance that cannot pay stops the chain; a `disconnect` max cost stops it too.
 *
 * Pure: the caller passes the rating of the requested usage and a snapshot of the balances.
 * Increments are paid in bulk per balance (closed form), so a long data session costs no loop.
 */
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
  /** Destination ids the balance is restricted to; empty = any. */
  destinations: string[];
  blocker: boolean;
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

/** Orders the balances that may pay an event of `tor` to destination `dest`. */
function chain(balances: BalanceSnapshot[], tor: Tor, dest: string, prefixLength: number): Live[] {
  const precedence = (b: BalanceSnapshot) => (b.destinations.length === 0 ? 0 : prefixLength + 1);
  return balances
    .filter(
      (b) =>
        (b.unit === tor || b.unit === 'money') &&
        (b.destinations.length === 0 || b.destinations.includes(dest)),
    )
    .sort(
      (a, b) =>
        Number(a.unit === 'money') - Number(b.unit === 'money') ||
        precedence(b) - precedence(a) ||
        b.weight - a.weight,
    )
    .map((b) => ({ b, num: b.value, den: 1n, spentNum: 0n, spentDen: 1n }));
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

/**
 * Pays `count` increments of (usage `inc`, money cost `costNum/costDen` nano) along the chain.
 * Returns how many were paid; stops at a blocker that cannot pay.
 */
function payIncrements(live: Live[], count: bigint, inc: bigint, costNum: bigint, costDen: bigint): bigint {
  let paid = 0n;
  for (const l of live) {
    if (paid === count) break;
    const isMoney = l.b.unit === 'money';
    const [cn, cd] = isMoney ? [costNum, costDen] : [inc, 1n];
    const k = cn === 0n ? count - paid : fits(l.num, l.den, cn, cd);
    const n = k < count - paid ? k : count - paid;
    if (n > 0n) take(l, n, cn, cd);
    paid += n;
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
  const seg = rated.segments[0];
  const prefixLength = seg && seg.matchedPrefix !== '*any' ? seg.matchedPrefix.length : 0;
  const live = chain(balances, rated.tor, seg?.destination ?? '', prefixLength);
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
