/**
 * E.6 #12 through the plans service: a `repeating` coupon of 2 periods takes 10 % off the fee of the
 * first period and of one renewal, then stops — the third period's fee is charged whole — and a
 * `forever` one keeps going. (The arithmetic — in order, before tax, never below zero — is
 * tests/billing/core/discounts.test.ts.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../../src/balances/store.js';
import { assignPlan } from '../../../src/billing/plans/assignments.js';
import { putPlan } from '../../../src/billing/plans/catalog.js';
import { putCoupon } from '../../../src/billing/plans/coupons.js';
import { putProfile } from '../../../src/billing/plans/profiles.js';
import { renewDue } from '../../../src/billing/plans/renewals.js';
import { ensurePlansSchema } from '../../../src/billing/plans/schema.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let clock = Date.UTC(2026, 10, 1);
const balances = createBalanceStore({ redis, keyPrefix: prefix, now: () => clock });
const deps = { pool, schema, balances, now: () => clock };

async function postpaid(id: string) {
  await balances.createAccount(
    { tenant: 't', id, type: 'postpaid', currency: 'GBP', subject: id, creditLimitNano: 1e12 },
    `c:${id}`,
  );
  await balances.addBalance('t', id, { id: 'main', unit: 'money', value: 0 }, `m:${id}`);
  await putProfile(deps, 't', id, { billCycleDay: 1, timezone: 'Europe/London' });
}

/** Each applied charge as [kind, GBP, description], in order. */
const charges = async (accountId: string) =>
  (
    await pool.query<{ kind: string; amount_nano: string; description: string }>(
      `SELECT kind, amount_nano::text, description FROM ${schema}.charges
        WHERE account_id = $1 AND status = 'applied' ORDER BY id`,
      [accountId],
    )
  ).rows.map((r) => [r.kind, Number(r.amount_nano) / 1e9, r.description]);

beforeAll(async () => {
  await ensurePlansSchema(pool, schema);
  await putPlan(pool, schema, 't', 'basic', { period: 'month', prices: { GBP: '15.00' } });
  await putCoupon(pool, schema, 't', 'TWO', {
    kind: 'percent',
    percent: '10',
    duration: 'repeating',
    periods: 2,
  });
  await putCoupon(pool, schema, 't', 'ALWAYS', {
    kind: 'fixed',
    amounts: { GBP: '1.00' },
    duration: 'forever',
  });
  await postpaid('rc');
  await postpaid('fv');
  await assignPlan(deps, 't', 'rc', { plan: 'basic', quantity: 1, coupons: ['TWO'], reference: 'rc-1' });
  await assignPlan(deps, 't', 'fv', { plan: 'basic', quantity: 1, coupons: ['ALWAYS'], reference: 'fv-1' });
  for (const at of [Date.UTC(2026, 11, 1), Date.UTC(2027, 0, 1), Date.UTC(2027, 1, 1)]) {
    clock = at;
    await renewDue(deps, 't', at, { accounts: ['rc', 'fv'] });
  }
});

describe('coupons over renewals (E.6 #12)', () => {
  it('a repeating coupon of 2 periods discounts two fees, then stops', async () => {
    const cs = await charges('rc');
    expect(cs.map(([k, a]) => [k, a])).toEqual([
      ['fee', 15],
      ['discount', -1.5],
      ['fee', 15],
      ['discount', -1.5],
      ['fee', 15],
      ['fee', 15],
    ]);
  });

  it('a forever coupon discounts every fee', async () => {
    const cs = await charges('fv');
    expect(cs.filter(([k]) => k === 'discount').map(([, a]) => a)).toEqual([-1, -1, -1, -1]);
    expect(cs.filter(([k]) => k === 'fee')).toHaveLength(4);
  });
});
