/**
 * The notification detector run until it has judged every ledger row drained so far (tests only).
 * It reads only rows committed before every running transaction began, and the PostgreSQL server is
 * shared with other test files whose transactions (a billing run's) may run for a minute: it waits
 * for them, up to `maxWaitMs`, rather than give up after tests/notifications/catch-up.ts's 10 s.
 */
import type { Pool } from 'pg';
import type { BalanceStore } from '../../src/balances/store.js';
import type { RedisClient } from '../../src/infra/redis.js';
import { detectOnce } from '../../src/notifications/detect.js';
import { drainOutboxes } from '../../src/storage/outbox.js';

export interface DetectDeps {
  redis: RedisClient;
  prefix: string;
  pool: Pool;
  schema: string;
  balances: BalanceStore;
}

export async function detectAll(d: DetectDeps, maxWaitMs = 240_000): Promise<void> {
  while ((await drainOutboxes({ redis: d.redis, pool: d.pool, schema: d.schema, keyPrefix: d.prefix })) > 0);
  const groupOf = async (t: string, a: string) =>
    (await d.balances.getAccount(t, a))?.account.sharedGroup ?? null;
  const until = Date.now() + maxWaitMs;
  while (Date.now() < until) {
    if ((await detectOnce({ pool: d.pool, schema: d.schema, groupOf })) > 0) continue;
    const behind = await d.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${d.schema}.balance_ledger l, ${d.schema}.notification_watermark w
        WHERE (l.txid, l.position) > (w.txid, w.position)`,
    );
    if (behind.rows[0]!.n === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the detector did not catch up with the ledger in ${maxWaitMs} ms`);
}
