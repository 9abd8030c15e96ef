/** What the plans services are given (src/main.ts builds it), and the transaction helper they share with documents. */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import type { BalanceStore } from '../../balances/store.js';

export interface PlansDeps {
  pool: Pool;
  schema: string;
  balances: BalanceStore;
  /** The clock (epoch ms), passed in so tests can freeze it. */
  now: () => number;
}

/** One transaction on a connection of its own; a throw rolls it back (a refusal writes nothing). */
export { inTransaction } from '../documents/transaction.js';

function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** A request's fingerprint (keys sorted), for "same reference, another body" (409). */
export function requestHash(body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(sorted(body)))
    .digest('hex');
}
