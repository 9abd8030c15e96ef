/**
 * The cut-off barrier for plan charges (E.6 #17 shape): an assignment whose transaction began before
 * a cut-off but applied its fee after it stamps the charge after C — it is on the next bill, never
 * lost from both; one applied before the cut-off is in the snapshot. Either way: exactly one bill.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../../src/balances/store.js';
import { assignPlan } from '../../../src/billing/plans/assignments.js';
import { putPlan } from '../../../src/billing/plans/catalog.js';
import { putProfile } from '../../../src/billing/plans/profiles.js';
import { ensurePlansSchema } from '../../../src/billing/plans/schema.js';
import { cutOff, cutTestHooks, endSnapshot } from '../../../src/billing/run/cutoff.js';
import { databaseUrl, testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
// The barrier on a pool of its own, as the run has.
const runPool = new pg.Pool({ connectionString: databaseUrl(), max: 4 });
const clock = Date.UTC(2026, 10, 17);
const balances = createBalanceStore({ redis, keyPrefix: prefix, now: () => clock });
const deps = { pool, schema, balances, now: () => clock };

beforeAll(async () => {
  await ensurePlansSchema(pool, schema);
  await putPlan(pool, schema, 'cb', 'basic', { period: 'month', prices: { GBP: '15.00' }, bundles: [] });
});
afterEach(() => {
  delete cutTestHooks.beforeSharedLock;
});
afterAll(async () => {
  await runPool.end();
});

async function account(id: string) {
  await balances.createAccount(
    { tenant: 'cb', id, type: 'prepaid', currency: 'GBP', subject: id },
    `c:${id}`,
  );
  await balances.addBalance('cb', id, { id: 'main', unit: 'money', value: 20e9 }, `m:${id}`);
  await putProfile(deps, 'cb', id, { billCycleDay: 1, timezone: 'Europe/London' });
}

const assign = (id: string) =>
  assignPlan(deps, 'cb', id, { plan: 'basic', quantity: 1, coupons: [], reference: `${id}-1` });

/** The applied charges of an account: how many are on the bill cut at C (stored_at <= C) and after. */
async function sides(db: Pick<pg.PoolClient, 'query'>, id: string, cutoffAt: string) {
  const r = await db.query<{ before: number; after: number }>(
    `SELECT count(*) FILTER (WHERE stored_at <= $2::timestamptz)::int AS before,
            count(*) FILTER (WHERE stored_at > $2::timestamptz)::int AS after
       FROM ${schema}.charges WHERE tenant = 'cb' AND account_id = $1 AND status = 'applied'`,
    [id, cutoffAt],
  );
  return r.rows[0];
}

/** Until some session waits for an advisory lock (the barrier behind the writer's shared lock). */
async function waitingForLock(): Promise<void> {
  for (;;) {
    const r = await pool.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted LIMIT 1`);
    if (r.rows.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the cut-off barrier and plan charges', () => {
  it('puts a fee applied by a transaction that began before the cut-off but locked after it on the next bill', async () => {
    await account('late');
    let paused!: () => void;
    const atLock = new Promise<void>((resolve) => (paused = resolve));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    cutTestHooks.beforeSharedLock = async () => {
      delete cutTestHooks.beforeSharedLock;
      paused();
      await held;
    };
    const assigning = assign('late');
    await atLock; // the assignment's transaction has begun, its lock not yet taken
    const c = await cutOff(runPool, schema, 'cb');
    release();
    await assigning;
    // The snapshot (bill N) does not hold it; it is stamped after C (bill N+1): exactly one bill.
    expect(await sides(c.snapshot, 'late', c.cutoffAt)).toEqual({ before: 0, after: 0 });
    await endSnapshot(c);
    expect(await sides(pool, 'late', c.cutoffAt)).toEqual({ before: 0, after: 1 });
  });

  it('holds a cut-off back until a fee being applied commits: the fee is on that bill', async () => {
    await account('early');
    let locked!: () => void;
    const hasLock = new Promise<void>((resolve) => (locked = resolve));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // Hold the assignment inside its transaction after the shared lock (while it debits Redis).
    const debit = balances.debit.bind(balances);
    balances.debit = async (...args: Parameters<typeof debit>) => {
      locked();
      await held;
      return debit(...args);
    };
    const assigning = assign('early');
    await hasLock;
    const cutting = cutOff(runPool, schema, 'cb');
    await waitingForLock(); // the barrier waits for the assignment's shared lock
    release();
    await assigning;
    balances.debit = debit;
    const c = await cutting;
    expect(await sides(c.snapshot, 'early', c.cutoffAt)).toEqual({ before: 1, after: 0 });
    await endSnapshot(c);
    expect(await sides(pool, 'early', c.cutoffAt)).toEqual({ before: 1, after: 0 });
  });
});
