/**
 * Charging a chunk's new CDRs: per account, their money summed in one charge when the balances
 * say that charges the same as one by one; else each CDR in file order (bundles first, a refusal
 * per CDR, partly covered ones priced exactly here). Many accounts per Redis call.
 */
import { chargeBatch, type AccountCharges } from '../balances/batch.js';
import type { Charge } from '../balances/model.js';
import { proRata } from '../balances/pro-rata.js';
import type { BalanceStore } from '../balances/store.js';
import { UNITS, type ChunkResult } from './chunk-result.js';

/** Per CDR of the chunk: the money it took, or why it could not be charged; undefined = not charged. */
export type Charged = (number | string | undefined)[];

/**
 * CDRs of one account sent one by one in a call: the script answers a result per CDR, and Lua
 * returns at most a few thousand values at once; the rest of the account's CDRs go in the next round.
 */
const EACH_PER_CALL = 1000;
/** Rounds in which an account's next CDR stays partly covered by a bundle that keeps changing. */
const MAX_PRICINGS = 8;

function chargeOf(c: ChunkResult, i: number): Charge {
  return {
    unit: UNITS[c.unit[i]!]!,
    units: c.units[i]!,
    amountNano: c.costNano[i]!,
    destination: c.destinations[c.destination[i]!]!,
    category: c.categories[c.category[i]!]!,
    ...(c.ratingGroup[i]! >= 0 ? { ratingGroup: c.ratingGroup[i]! } : {}),
  };
}

/** Charges the CDRs at `positions` (new ones, in file order); returns what each took. */
export async function chargeChunk(
  store: BalanceStore,
  batchId: string,
  c: ChunkResult,
  positions: number[],
  nowMs: number,
): Promise<Charged> {
  const charged: Charged = new Array(c.n);
  const byAccount = new Map<number, number[]>();
  for (const i of positions) {
    const list = byAccount.get(c.account[i]!);
    if (list) list.push(i);
    else byAccount.set(c.account[i]!, [i]);
  }
  const accounts = [...byAccount.keys()];
  const who = (a: number) => ({ tenant: c.tenants[a]!, accountId: c.accountIds[a]! });
  const sums = await chargeBatch(
    store,
    batchId,
    accounts.map((a): AccountCharges => {
      const list = byAccount.get(a)!;
      let moneyNano = 0;
      const units = new Set<string>();
      for (const i of list) {
        moneyNano += c.costNano[i]!;
        units.add(UNITS[c.unit[i]!]!);
      }
      return { ...who(a), mode: 'sum', moneyNano, units: [...units] };
    }),
    nowMs,
  );
  // One by one: the accounts whose sum would not charge the same, until each is done.
  let pending: {
    a: number;
    from: number;
    priced?: { covered: number; moneyNano: number };
    pricings?: number;
  }[] = [];
  sums.forEach((r, k) => {
    const list = byAccount.get(accounts[k]!)!;
    if (r.code === 'EACH') pending.push({ a: accounts[k]!, from: 0 });
    else if (r.code === 'OK' && 'moneyNano' in r) for (const i of list) charged[i] = c.costNano[i]!;
    else for (const i of list) charged[i] = r.code;
  });
  while (pending.length) {
    const items = pending.map(({ a, from, priced }): AccountCharges => {
      const list = byAccount.get(a)!.slice(from, from + EACH_PER_CALL);
      return {
        ...who(a),
        mode: 'each',
        charges: list.map((i, k) => ({ ...chargeOf(c, i), ...(k === 0 && priced ? { priced } : {}) })),
      };
    });
    const results = await chargeBatch(store, batchId, items, nowMs);
    const next: typeof pending = [];
    results.forEach((r, k) => {
      const { a, from, pricings = 0 } = pending[k]!;
      const list = byAccount.get(a)!;
      if (r.code === 'OK' && 'each' in r) {
        r.each.forEach((v, j) => (charged[list[from + j]!] = v));
        if (from + r.each.length < list.length) next.push({ a, from: from + r.each.length });
      } else if (r.code === 'NEED_PRICE') {
        r.each.forEach((v, j) => (charged[list[from + j]!] = v));
        const stuck = r.index === 0 ? pricings + 1 : 0;
        // The chunk fails (and is given back) rather than loop while someone keeps changing the bundle.
        if (stuck > MAX_PRICINGS) throw new Error(`account ${c.accountIds[a]}: a CDR's price did not settle`);
        const i = list[from + r.index]!;
        const moneyNano = proRata(c.costNano[i]!, c.units[i]! - r.covered, c.units[i]!);
        next.push({ a, from: from + r.index, priced: { covered: r.covered, moneyNano }, pricings: stuck });
      } else for (const i of list.slice(from)) charged[i] = r.code;
    });
    pending = next;
  }
  return charged;
}
