/** What reconciliation reads from Redis: balances of a scope, and whether an outbox is behind. */
import { cdrOutboxKey } from '../../balances/keys.js';
import type { AccountView, BalanceStore } from '../../balances/store.js';
import type { BalanceSide } from './check.js';

/** Whether the account's outbox (or, off Cluster, the tenant's CDR outbox) still holds entries. */
export async function undrained(b: BalanceStore, tenant: string, accountId: string): Promise<boolean> {
  const k = await b.keysFor(tenant, accountId);
  const [own, cdrs] = await Promise.all([
    b.redis.xlen(k.outbox),
    b.cluster ? Promise.resolve(0) : b.redis.xlen(cdrOutboxKey(b.keySpace, tenant)),
  ]);
  return own + cdrs > 0;
}

/** The view's balances of one scope: the account's own (a) or its shared group's (g). */
export function balancesOf(view: AccountView, scope: 'a' | 'g'): BalanceSide[] {
  return view.balances
    .filter((b) => b.scope === scope)
    .map((b) => ({ balanceId: b.id, unit: b.unit, nano: BigInt(b.value) }));
}
