/**
 * A money redemption is one PostgreSQL statement: the claim marks the voucher `redeemed` and writes
 * its event (same payload as before) in one round trip and one commit; the credit's delivered mark
 * follows in the background. A crash between that statement and the Redis credit leaves the row
 * value_pending: the repair credits it once and clears the mark. Batches made before `value_json`
 * existed get it on upgrade.
 */
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { deliveredSettled } from '../../src/vouchers/delivered.js';
import { repairVouchers } from '../../src/vouchers/repair.js';
import { ensureVouchersSchema } from '../../src/vouchers/schema.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import type { Harness } from '../payments/support.js';
import { batchWithPins, mainNano, newAccount, TEST_KEYS, voucherHarness } from './support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let h: Harness;
const GBP = 1_000_000_000;
const money = { amount: '2.50', currency: 'GBP' };
const deps = () => ({
  pool,
  schema,
  balances: h.balances,
  redis,
  keyPrefix: prefix,
  now: Date.now,
  keys: TEST_KEYS,
});

/**
 * Every statement sent by pool.query while `work` runs (the background's delivered mark left out),
 * and how many connections were taken beyond each query's own: the transactions.
 */
async function statementsOf(work: () => Promise<unknown>) {
  const texts: string[] = [];
  let connects = 0;
  const p = pool as unknown as { query: pg.Pool['query']; connect: pg.Pool['connect'] };
  const [query, connect] = [p.query, p.connect];
  p.query = ((q: string | { text: string }, ...rest: unknown[]) => {
    texts.push(typeof q === 'string' ? q : q.text);
    return (query as (...a: unknown[]) => unknown).call(pool, q, ...rest);
  }) as pg.Pool['query'];
  p.connect = ((...a: unknown[]) => {
    connects++;
    return (connect as (...a: unknown[]) => unknown).apply(pool, a);
  }) as pg.Pool['connect'];
  try {
    await work();
  } finally {
    p.query = query;
    p.connect = connect;
  }
  // The delivered mark is the background's, not the redemption's.
  return {
    statements: texts.filter((t) => !t.includes('SET value_pending = false FROM unnest')),
    transactions: connects - texts.length,
  };
}

beforeAll(async () => {
  h = await voucherHarness(pool, schema, redis, prefix);
  for (const id of ['fay', 'gus']) await newAccount(h.balances, 'acme', id, { type: 'prepaid' });
});

describe('a money redemption', () => {
  it('is one statement: redeemed, its event, then the credit and (soon) the delivered mark', async () => {
    const { batchId, pins } = await batchWithPins(h, 'acme', { reference: 'one-1', count: 1, value: money });
    const [serial, pin] = pins[0]!;
    const before = await mainNano(h.balances, 'acme', 'fay');
    const { statements, transactions } = await statementsOf(async () => {
      const res = await h.call('acme-billing', 'POST', '/v1/accounts/fay/vouchers/redeem', { pin });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ serial, status: 'redeemed', amount: '2.50', replayed: false });
    });
    expect({ statements: statements.length, transactions }).toEqual({ statements: 1, transactions: 0 });
    expect(await mainNano(h.balances, 'acme', 'fay')).toBe(before + 2.5 * GBP);
    await deliveredSettled(deps());
    const row = await pool.query(`SELECT status, value_pending FROM ${schema}.vouchers WHERE serial = $1`, [
      serial,
    ]);
    expect(row.rows[0]).toEqual({ status: 'redeemed', value_pending: false });
    const ev = await pool.query(`SELECT * FROM ${schema}.events WHERE id = $1`, [
      `voucher.redeemed:acme:${serial}`,
    ]);
    expect(ev.rows[0]).toMatchObject({ account_id: 'fay', tenant: 'acme', type: 'voucher.redeemed' });
    expect(ev.rows[0].payload).toEqual({
      serial,
      batchId,
      value: { type: 'money', amount: '2.50', currency: 'GBP' },
      reference: null,
      balanceId: 'main',
    });
  });
});

describe('a crash after the claiming statement, before the credit', () => {
  it('is repaired: credited once, the delivered mark cleared, the event not written twice', async () => {
    const { pins } = await batchWithPins(h, 'acme', { reference: 'one-2', count: 1, value: money });
    const [serial] = pins[0]!;
    const before = await mainNano(h.balances, 'acme', 'gus');
    // What the claim leaves when the engine dies before Redis answers.
    await pool.query(
      `UPDATE ${schema}.vouchers SET status = 'redeemed', value_pending = true, account_id = 'gus',
              claimed_at = now() - interval '2 minutes', redeemed_at = now() WHERE serial = $1`,
      [serial],
    );
    expect((await repairVouchers(deps())).redemptions).toBe(1);
    expect((await repairVouchers(deps())).redemptions).toBe(0);
    expect(await mainNano(h.balances, 'acme', 'gus')).toBe(before + 2.5 * GBP);
    const row = await pool.query(`SELECT value_pending FROM ${schema}.vouchers WHERE serial = $1`, [serial]);
    expect(row.rows[0].value_pending).toBe(false);
  });
});

describe('a batch made before value_json', () => {
  it('gets it when the schema is ensured again', async () => {
    const { batchId } = await batchWithPins(h, 'acme', { reference: 'one-3', count: 1, value: money });
    await pool.query(`UPDATE ${schema}.voucher_batches SET value_json = NULL WHERE id = $1`, [batchId]);
    await ensureVouchersSchema(pool, schema);
    const r = await pool.query(`SELECT value_json FROM ${schema}.voucher_batches WHERE id = $1`, [batchId]);
    expect(r.rows[0].value_json).toEqual({ type: 'money', amount: '2.50', currency: 'GBP' });
  });
});
