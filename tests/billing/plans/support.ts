/** Helpers of the plan tests: the movements an account's outbox holds (the ledger on its way to PostgreSQL). */
import type { BalanceStore } from '../../../src/balances/store.js';

export interface LedgerMove {
  op: string;
  balanceId: string;
  kind: string;
  delta: number;
  heldDelta: number;
  valueAfter: number;
}

/** Every movement written to the account's outbox so far, in order. */
export async function outboxMoves(
  redis: { xrange(key: string, start: string, end: string): Promise<[string, string[]][]> },
  store: BalanceStore,
  tenant: string,
  accountId: string,
): Promise<LedgerMove[]> {
  const k = await store.keysFor(tenant, accountId);
  const entries = await redis.xrange(k.outbox, '-', '+');
  const out: LedgerMove[] = [];
  for (const [, flat] of entries) {
    const f = new Map<string, string>();
    for (let i = 0; i < flat.length; i += 2) f.set(flat[i]!, flat[i + 1]!);
    if (f.get('account') !== accountId || !f.get('moves')) continue;
    for (const m of f.get('moves')!.split(';')) {
      const [, balanceId, , kind, delta, held, after] = m.split(',');
      out.push({
        op: f.get('op')!,
        balanceId: balanceId!,
        kind: kind!,
        delta: Number(delta),
        heldDelta: Number(held),
        valueAfter: Number(after),
      });
    }
  }
  return out;
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
