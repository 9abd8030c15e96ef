/**
 * Who a subscriber is: the account of a request's subscription ids, with what rating needs (the
 * subject) and what answers need (the currency). Remembered per process, because the charging step
 * re-checks it atomically (balances/lua/step.lua refuses a stale subject or a subscription the
 * account no longer has, and the caller asks again): a remembered answer saves two round trips and
 * can never charge the wrong account. Unknown subscribers are not remembered (they may be created).
 */
import type { Account } from '../balances/model.js';
import type { BalanceStore } from '../balances/store.js';

/** Diameter Subscription-Id types, as the balance store names subscriptions. */
const SUBSCRIPTION_TYPES: Readonly<Record<string, string>> = {
  E164: 'msisdn',
  IMSI: 'imsi',
  SIP_URI: 'sip',
  NAI: 'nai',
  PRIVATE: 'private',
};

export interface Subscriber {
  account: Account;
  /** The subscription that found it, as the store names it: `msisdn:447700900001`. */
  subscription: string;
}

export interface Directory {
  find(tenant: string, ids: { type: string; data: string }[]): Promise<Subscriber | null>;
  /** Forgets what is remembered of these ids (the step said it changed). */
  forget(tenant: string, ids: { type: string; data: string }[]): void;
}

export function createDirectory(
  balances: BalanceStore,
  opts: { ttlMs?: number; max?: number } = {},
): Directory {
  const ttlMs = opts.ttlMs ?? 60_000;
  const max = opts.max ?? 100_000;
  const known = new Map<string, { at: number; subscriber: Subscriber }>();
  const key = (tenant: string, type: string, value: string) => `${tenant}\u0000${type}\u0000${value}`;
  const storeType = (t: string) => SUBSCRIPTION_TYPES[t] ?? t.toLowerCase();

  async function lookup(tenant: string, type: string, value: string): Promise<Subscriber | null> {
    const k = key(tenant, type, value);
    const hit = known.get(k);
    if (hit && Date.now() - hit.at < ttlMs) return hit.subscriber;
    const id = await balances.findAccountBySubscription(tenant, type, value);
    const account = id ? await balances.accountInfo(tenant, id) : null;
    // A key naming an account that does not list it (a claim cut short on a Cluster) finds nobody.
    if (!account?.subscriptions.some((s) => s.type === type && s.value === value)) return null;
    const subscriber = { account, subscription: `${type}:${value}` };
    if (known.size >= max) known.delete(known.keys().next().value!);
    known.set(k, { at: Date.now(), subscriber });
    return subscriber;
  }

  return {
    async find(tenant, ids) {
      for (const s of ids) {
        const found = await lookup(tenant, storeType(s.type), s.data);
        if (found) return found;
      }
      return null;
    },
    forget(tenant, ids) {
      for (const s of ids) known.delete(key(tenant, storeType(s.type), s.data));
    },
  };
}
