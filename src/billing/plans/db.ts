/** What the plans services are given (src/main.ts builds it), and one transaction helper. */
import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import type { BalanceStore } from '../../balances/store.js';

export interface PlansDeps {
  pool: Pool;
  schema: string;
  balances: BalanceStore;
  /** The clock (epoch ms), passed in so tests can freeze it. */
  now: () => number;
}

/** One transaction on a connection of its own; a throw rolls it back (a refusal writes nothing). */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    client.release(broken);
  }
}

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
