/**
 * Reference model of who pays a charge, for the model-based test: an independent TypeScript
 * reading of the rules the store applies in Lua (`plan` in common.lua). Eligible unit balances of
 * the charge's unit pay first (a `*zero<step>` one in whole steps), then generic ones, then
 * eligible money balances the rated price of what they leave;
 * postpaid money may go down to minus the credit limit on the first money balance in paying order;
 * a blocker that cannot pay what is left stops the chain. Which balance may pay is `eligible`, in
 * what order `payingOrder`: change those two when the rules change (docs/BALANCES.md).
 */
import type { Balance, Charge } from '../../src/balances/model.js';

/** A balance as the reference sees it: the fields the rules read (scope: own or shared group). */
export type RefBalance = Pick<
  Balance,
  | 'id'
  | 'unit'
  | 'value'
  | 'held'
  | 'weight'
  | 'activationMs'
  | 'expiryMs'
  | 'destinations'
  | 'ratingGroups'
  | 'categories'
  | 'shared'
> & { scope: 'a' | 'g'; blocker?: boolean; ratingSubject?: string };

export const keyOf = (b: { scope: string; id: string }) => `${b.scope}:${b.id}`;

export function isActiveAt(b: RefBalance, nowMs: number): boolean {
  return b.activationMs <= nowMs && (b.expiryMs === null || b.expiryMs > nowMs);
}

/**
 * The destinations holding a prefix of the dialled number, as rating sends them ('len:id,…'), with
 * the length of the longest such prefix; a bare id (an older caller) counts as length 1.
 */
function matchesOf(destination: string | undefined): Map<string, number> {
  const m = new Map<string, number>();
  for (const entry of (destination ?? '').split(',').filter((e) => e !== '')) {
    const colon = entry.indexOf(':');
    const [len, id] = /^\d+:/.test(entry)
      ? [Number(entry.slice(0, colon)), entry.slice(colon + 1)]
      : [1, entry];
    m.set(id, Math.max(m.get(id) ?? 0, len));
  }
  return m;
}

/**
 * How specifically the balance's destination list matches the charge (docs/BALANCES.md): -1 = it
 * may not pay (an excluded `!ID` holds a prefix of the number, or no listed one does), 0 = any
 * destination (no list, or exclusions only), else the longest prefix a listed destination holds.
 */
export function specificity(b: RefBalance, c: Charge): number {
  const matches = matchesOf(c.destination);
  if (b.destinations.some((d) => d.startsWith('!') && matches.has(d.slice(1)))) return -1;
  const included = b.destinations.filter((d) => !d.startsWith('!'));
  if (included.length === 0) return 0;
  return Math.max(-1, ...included.map((d) => matches.get(d) ?? -1));
}

/** The step a `*zero<n>ns` (or other unit) balance is consumed in: 1 without such a subject. */
export function stepOf(b: RefBalance): number {
  const m = /^\*zero(\d+)(ns|us|ms|s|m|h)$/.exec(b.ratingSubject ?? '');
  const scale = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 } as const;
  return m ? Number(m[1]) * scale[m[2] as keyof typeof scale] : 1;
}

/** Whether the balance may pay the charge: active, and its filters (empty = any) admit it. */
export function eligible(b: RefBalance, c: Charge, nowMs: number): boolean {
  const admits = <T>(list: T[], v: T | undefined) =>
    list.length === 0 || (v !== undefined && list.includes(v));
  return (
    isActiveAt(b, nowMs) &&
    specificity(b, c) >= 0 &&
    admits(b.ratingGroups, c.ratingGroup) &&
    admits(b.categories, c.category)
  );
}

/**
 * The paying order of the balances eligible for a charge: the most specific destination match
 * first, then the heaviest, the soonest to expire, by scope:id.
 */
export function payingOrder(c: Charge) {
  return (a: RefBalance, b: RefBalance): number => {
    const byExpiry = (a.expiryMs ?? Infinity) - (b.expiryMs ?? Infinity);
    const [ka, kb] = [keyOf(a), keyOf(b)];
    return (
      specificity(b, c) - specificity(a, c) ||
      b.weight - a.weight ||
      (Number.isNaN(byExpiry) ? 0 : byExpiry) ||
      (ka < kb ? -1 : ka > kb ? 1 : 0)
    );
  };
}

export interface Move {
  key: string;
  unit: string;
  amount: number;
}

export type Plan =
  { code: 'OK'; moves: Move[] } | { code: 'NEED_PRICE'; covered: number } | { code: 'INSUFFICIENT' };

/**
 * Plans a charge: `free(b)` says how much of b may be taken, `floor` how far below zero the first
 * money balance may go. A partly covered charge needs the price of the rest (`priced`, for exactly
 * the units covered), else NEED_PRICE with the units covered.
 */
export function planCharge(
  balances: RefBalance[],
  c: Charge,
  priced: { covered: number; moneyNano: number } | undefined,
  free: (b: RefBalance) => number,
  floor: number,
  nowMs: number,
): Plan {
  const payers = (unit: string) =>
    balances.filter((b) => b.unit === unit && eligible(b, c, nowMs)).sort(payingOrder(c));
  const moves: Move[] = [];
  let remaining = c.units;
  const units = c.units > 0 ? [...payers(c.unit), ...(c.unit === 'generic' ? [] : payers('generic'))] : [];
  for (const b of units) {
    if (remaining === 0) break;
    // Whole steps of a `*zero` balance: the last one rounded up when it covers the rest.
    const step = stepOf(b);
    const wholeSteps = Math.max(0, Math.floor(free(b) / step));
    const needed = Math.ceil(remaining / step);
    const [covered, take] =
      wholeSteps >= needed ? [remaining, needed * step] : [wholeSteps * step, wholeSteps * step];
    if (take > 0) moves.push({ key: keyOf(b), unit: b.unit, amount: take });
    remaining -= covered;
    if (remaining > 0 && b.blocker) return { code: 'INSUFFICIENT' };
  }
  const covered = c.units - remaining;
  let money: number;
  if (covered === 0) money = c.amountNano;
  else if (remaining === 0) money = 0;
  else if (priced?.covered === covered) money = priced.moneyNano;
  else return { code: 'NEED_PRICE', covered };
  const wallets = payers('money');
  for (const b of wallets) {
    if (money === 0) break;
    const take = Math.min(money, Math.max(0, free(b)));
    if (take > 0) moves.push({ key: keyOf(b), unit: 'money', amount: take });
    if (take > 0) money -= take;
    if (money > 0 && b.blocker) return { code: 'INSUFFICIENT' };
  }
  if (money === 0) return { code: 'OK', moves };
  const main = wallets[0];
  if (!main) return { code: 'INSUFFICIENT' };
  const onMain = moves.find((m) => m.key === keyOf(main));
  if (free(main) - (onMain?.amount ?? 0) - money < floor) return { code: 'INSUFFICIENT' };
  if (onMain) onMain.amount += money;
  else moves.push({ key: keyOf(main), unit: 'money', amount: money });
  return { code: 'OK', moves };
}
