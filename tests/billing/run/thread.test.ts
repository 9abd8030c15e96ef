/**
 * Billing runs in a worker thread of their own (run-threads.ts), as the engine starts them: the same
 * documents and postings as a run in the caller's thread, the same refusals (RUN_IN_PROGRESS,
 * AS_OF_IN_FUTURE), and a thread that dies under a run ends it `failed` (never a hung promise), the
 * next run starting a new thread that resumes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AsOfInFutureError,
  RunInProgressError,
  runBilling,
  runLockKey,
} from '../../../src/billing/run/run.js';
import { createRunThread, storesOf } from '../../../src/billing/run/run-threads.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { addAccount, addVat, applyFee, ensureAll, moneyOf, runDeps } from './support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const base = runDeps(pool, schema, redis, prefix, Date.now());
const { balances } = base;
const ACCOUNTS = ['ta', 'tb', 'tc'];
const asOf = new Date('2026-12-02T00:00:00Z');

const thread = createRunThread({
  ...storesOf(pool, redis),
  commandTimeoutMs: 5000,
  keyPrefix: prefix,
  schema,
  chunkSize: 2,
});
const deps = { ...base, now: Date.now, elsewhere: thread.start };

async function invoices() {
  const r = await pool.query<{ account_id: string; number: string; total: string }>(
    `SELECT account_id, number, total_nano::text AS total FROM ${schema}.invoices ORDER BY account_id`,
  );
  return r.rows;
}

beforeAll(async () => {
  await ensureAll(pool, schema);
  await addVat(pool, schema);
  for (const id of ACCOUNTS) {
    await addAccount(balances, pool, schema, { id, createdAt: '2026-10-01T00:00:00Z', taxProfile: 'uk' });
    await applyFee(balances, pool, schema, id, `fee-${id}`, 10_000_000_000);
  }
});
afterAll(() => thread.close());

describe('a billing run in its own thread', () => {
  it('refuses an asOf in the future and a run while the tenant is locked, changing nothing', async () => {
    await expect(
      runBilling(deps, { tenant: 'acme', asOf: new Date(Date.now() + 86_400_000) }),
    ).rejects.toBeInstanceOf(AsOfInFutureError);
    const c = await pool.connect();
    try {
      await c.query('SELECT pg_advisory_lock(hashtext($1))', [runLockKey(schema, 'acme')]);
      await expect(runBilling(deps, { tenant: 'acme', asOf })).rejects.toBeInstanceOf(RunInProgressError);
    } finally {
      await c.query('SELECT pg_advisory_unlock(hashtext($1))', [runLockKey(schema, 'acme')]);
      c.release();
    }
    expect(await invoices()).toEqual([]);
  });

  it('ends failed when its thread dies, and the same asOf then finishes in a new thread', async () => {
    const { done } = await deps.elsewhere({ tenant: 'acme', asOf });
    await thread.close();
    expect((await done).status).toBe('failed');
    // The dead thread's lock goes when PostgreSQL sees its connection close: retried until then.
    for (let i = 0; ; i++) {
      try {
        expect((await runBilling(deps, { tenant: 'acme', asOf })).status).toBe('done');
        break;
      } catch (err) {
        if (!(err instanceof RunInProgressError) || i === 50) throw err;
        await new Promise((ok) => setTimeout(ok, 100));
      }
    }
  });

  it('issues the same invoices and posts the same money as a run would', async () => {
    const all = await invoices();
    expect(all.map((x) => x.account_id)).toEqual(ACCOUNTS);
    // 10.00 fee + 20 % VAT each, numbered once, the tax posted: each balance is minus its total.
    expect(all.map((x) => x.total)).toEqual(ACCOUNTS.map(() => '12000000000'));
    expect(new Set(all.map((x) => x.number)).size).toBe(ACCOUNTS.length);
    for (const id of ACCOUNTS) expect(await moneyOf(balances, id)).toBe(-12_000_000_000n);
    const again = await runBilling(deps, { tenant: 'acme', asOf });
    expect(again.counters).toMatchObject({ periodsClosed: 0, drafted: 0, finalized: 0 });
  });
});
