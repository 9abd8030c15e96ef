/**
 * 1,000 parallel debits and reservations from several connections on one prepaid account:
 * nothing overdrawn, nothing lost, the final balance exact.
 */
import { describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../src/balances/store.js';
import { testRedis } from '../support/redis.js';
import { firstResult, runStep } from './step-helpers.js';

const { prefix, connect } = testRedis();

describe('concurrency on one account', () => {
  it('never overdraws and loses nothing', async () => {
    const stores = Array.from({ length: 4 }, () =>
      createBalanceStore({ redis: connect(), keyPrefix: prefix }),
    );
    const s0 = stores[0]!;
    const initial = 100_000;
    await s0.createAccount(
      { tenant: 't', id: 'hot', type: 'prepaid', currency: 'EUR', subject: 'hot' },
      'create',
    );
    await s0.addBalance('t', 'hot', { id: 'main', unit: 'money', value: initial }, 'add');

    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => {
        const store = stores[i % stores.length]!;
        const charge = { unit: 'sms' as const, units: 1, amountNano: 150 };
        return i % 2 === 0
          ? store.debit('t', 'hot', { opId: `d${i}`, charge }).then((r) => ({ kind: 'debit', r }))
          : runStep(store, 't', 'hot', `r${i}`, [
              { verb: 'reserve', reservationId: `res${i}`, expiresMs: Date.now() + 600_000, charge },
            ]).then((out) => ({ kind: 'reserve', r: firstResult(out) }));
      }),
    );
    const ok = (kind: string) => results.filter((x) => x.kind === kind && x.r.code === 'OK').length;
    expect(results.every((x) => x.r.code === 'OK' || x.r.code === 'INSUFFICIENT')).toBe(true);
    const main = (await s0.getAccount('t', 'hot'))!.balances[0]!;
    expect(main.value).toBe(initial - 150 * ok('debit'));
    expect(main.held).toBe(150 * ok('reserve'));
    expect(main.value - main.held).toBeGreaterThanOrEqual(0);
    // All the money that could be spent was: less than one more charge is left.
    expect(main.value - main.held).toBeLessThan(150);
  });
});
