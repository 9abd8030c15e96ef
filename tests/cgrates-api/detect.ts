/**
 * The notification detector run, as its job runs it, until it has judged every ledger row drained
 * so far (tests only): the balance store's outboxes drained into the ledger, then
 * tests/support/catch-up.ts, which waits for other files' long transactions on the shared server.
 */
import type { Pool } from 'pg';
import type { BalanceStore } from '../../src/balances/store.js';
import type { RedisClient } from '../../src/infra/redis.js';
import { drainOutboxes } from '../../src/storage/outbox.js';
import { catchUp, CATCH_UP_MS } from '../support/catch-up.js';

export interface DetectDeps {
  redis: RedisClient;
  prefix: string;
  pool: Pool;
  schema: string;
  balances: BalanceStore;
}

export async function detectAll(d: DetectDeps, maxWaitMs = CATCH_UP_MS): Promise<void> {
  while ((await drainOutboxes({ redis: d.redis, pool: d.pool, schema: d.schema, keyPrefix: d.prefix })) > 0);
  const groupOf = async (t: string, a: string) =>
    (await d.balances.getAccount(t, a))?.account.sharedGroup ?? null;
  await catchUp({ pool: d.pool, schema: d.schema, groupOf }, maxWaitMs);
}
