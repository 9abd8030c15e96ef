/**
 * The background jobs of notifications and dunning, as main.ts starts them: the detector every
 * second (it judges what the drain stored; a second behind the ledger is soon enough for an alert)
 * and, every minute, the dunning job and the dated rules (bundle expiring, renewal due): their unit
 * is the day. Both back off while PostgreSQL is away.
 */
import type { Pool } from 'pg';
import type { BalanceStore } from '../balances/store.js';
import { dunningOnce } from '../billing/dunning/job.js';
import { runEvery, type PeriodicLog } from '../infra/periodic.js';
import { detectOnce } from './detect.js';
import { upcomingOnce } from './upcoming.js';

export function startNotificationJobs(
  d: { pool: Pool; schema: string; balances: BalanceStore },
  log: PeriodicLog,
): () => Promise<void> {
  const groupOf = async (tenant: string, accountId: string) =>
    (await d.balances.accountInfo(tenant, accountId))?.sharedGroup ?? null;
  const expiryOf = async (tenant: string, accountId: string, balanceId: string) =>
    (await d.balances.getAccount(tenant, accountId))?.balances.find((b) => b.id === balanceId)?.expiryMs ??
    null;
  const stopDetector = runEvery({
    name: 'notification detector',
    everyMs: 1000,
    maxBackoffMs: 30_000,
    // A backlog (after an outage) is read up to 20 batches a pass, so a stop never waits long.
    job: async () => {
      for (
        let i = 0;
        i < 20 && (await detectOnce({ pool: d.pool, schema: d.schema, groupOf, expiryOf })) > 0;
        i++
      );
    },
    log,
  });
  const stopDunning = runEvery({
    name: 'dunning and dated notifications',
    everyMs: 60_000,
    maxBackoffMs: 300_000,
    job: async () => {
      await dunningOnce({ ...d, now: Date.now });
      await upcomingOnce(d.pool, d.schema, Date.now());
    },
    log,
  });
  return async () => {
    await stopDetector();
    await stopDunning();
  };
}
