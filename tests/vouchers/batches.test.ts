/**
 * Voucher batches over HTTP on the real stores: a batch made once per reference, its PINs 16 digits
 * and downloadable exactly once (then 410), only their keyed hashes stored (no PIN anywhere in
 * PostgreSQL), a large batch generated in the background, block/unblock of a batch and a serial,
 * bad input refused with its cause and nothing written, and another tenant's batch 404.
 */
import { createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import type { Harness } from '../payments/support.js';
import { repairVouchers } from '../../src/vouchers/repair.js';
import {
  batchWithPins,
  IN_A_YEAR,
  newAccount,
  snapshot,
  TEST_KEYS,
  voucherHarness,
  VOUCHER_TABLES,
} from './support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let h: Harness;

beforeAll(async () => {
  h = await voucherHarness(pool, schema, redis, prefix);
});

const money = { amount: '10.00', currency: 'GBP' };

describe('a batch', () => {
  it('is made once per reference, with one 16-digit PIN per serial, downloadable once', async () => {
    const body = { reference: 'b-1', count: 25, value: money, expiresAt: IN_A_YEAR };
    const made = await h.call('acme-billing', 'POST', '/v1/voucher-batches', body);
    expect(made.statusCode).toBe(201);
    const b = made.json();
    expect(b).toMatchObject({
      status: 'active',
      count: 25,
      value: { type: 'money', amount: '10.00', currency: 'GBP' },
    });
    expect(b.vouchers).toEqual({ active: 25, redeeming: 0, redeemed: 0, blocked: 0 });
    const again = await h.call('acme-billing', 'POST', '/v1/voucher-batches', body);
    expect(again.json()).toMatchObject({ batchId: b.batchId, replayed: true });
    const other = await h.call('acme-billing', 'POST', '/v1/voucher-batches', { ...body, count: 26 });
    expect(other.statusCode).toBe(409);
    expect(other.json().cause).toBe('CONFLICT');

    const csv = await h.call('acme-billing', 'GET', `/v1/voucher-batches/${b.batchId}/pins.csv`);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.body.trim().split('\n');
    expect(lines[0]).toBe('serial,pin');
    const pins = lines.slice(1).map((l) => l.split(','));
    expect(pins).toHaveLength(25);
    expect(pins[0]![0]).toBe(b.serials.first);
    expect(pins[24]![0]).toBe(b.serials.last);
    for (const [, pin] of pins) expect(pin).toMatch(/^\d{16}$/);
    expect(new Set(pins.map((p) => p[1])).size).toBe(25);

    const second = await h.call('acme-billing', 'GET', `/v1/voucher-batches/${b.batchId}/pins.csv`);
    expect(second.statusCode).toBe(410);
    expect(second.json().cause).toBe('GONE');
    expect(
      (await h.call('acme-billing', 'GET', `/v1/voucher-batches/${b.batchId}`)).json().pinsDownloadedAt,
    ).not.toBeNull();

    // PostgreSQL holds no PIN and no seed any more: only 32-byte keyed hashes.
    const dump = JSON.stringify(
      (
        await pool.query(
          `SELECT to_jsonb(v) FROM ${schema}.vouchers v UNION ALL SELECT to_jsonb(b) FROM ${schema}.voucher_batches b`,
        )
      ).rows,
    );
    for (const [, pin] of pins) expect(dump).not.toContain(pin);
    const seeds = await pool.query(`SELECT pin_seed FROM ${schema}.voucher_batches WHERE id = $1`, [
      b.batchId,
    ]);
    expect(seeds.rows[0].pin_seed).toBeNull();
    const hashes = await pool.query<{ pin_hash: Buffer }>(
      `SELECT pin_hash FROM ${schema}.vouchers WHERE batch_id = $1`,
      [b.batchId],
    );
    expect(hashes.rows.every((r) => r.pin_hash.length === 32)).toBe(true);
  });

  it('answers the same PIN hash only under the same key: another key hashes it otherwise', () => {
    const a = createHmac('sha256', Buffer.alloc(32, 1)).update('acme|1234567812345678').digest();
    const b = createHmac('sha256', Buffer.alloc(32, 2)).update('acme|1234567812345678').digest();
    expect(a.equals(b)).toBe(false);
  });

  it('can be blocked and unblocked, as can one serial; a redeemed voucher cannot', async () => {
    const { batchId, pins } = await batchWithPins(h, 'acme', { reference: 'blk', count: 3, value: money });
    const blocked = await h.call('acme-billing', 'POST', `/v1/voucher-batches/${batchId}/block`);
    expect(blocked.json().status).toBe('blocked');
    expect((await h.call('acme-billing', 'GET', `/v1/vouchers/${pins[0]![0]}`)).json().status).toBe(
      'blocked',
    );
    await h.call('acme-billing', 'POST', `/v1/voucher-batches/${batchId}/unblock`);
    const one = await h.call('acme-billing', 'POST', `/v1/vouchers/${pins[1]![0]}/block`);
    expect(one.json()).toMatchObject({ serial: pins[1]![0], status: 'blocked' });
    expect(JSON.stringify(one.json())).not.toContain(pins[1]![1]);
    expect((await h.call('acme-billing', 'GET', `/v1/voucher-batches/${batchId}`)).json().vouchers).toEqual({
      active: 2,
      redeeming: 0,
      redeemed: 0,
      blocked: 1,
    });
    expect((await h.call('acme-billing', 'POST', `/v1/vouchers/${pins[1]![0]}/unblock`)).json().status).toBe(
      'active',
    );
  });
});

describe('bad input', () => {
  const good = { reference: 'bad', count: 1, value: money, expiresAt: IN_A_YEAR };
  const cases: [string, Record<string, unknown>, number, string, string][] = [
    ['count 0', { count: 0 }, 400, 'INVALID_REQUEST', '/count'],
    ['count 1,000,001', { count: 1_000_001 }, 400, 'INVALID_REQUEST', '/count'],
    ['an expired batch', { expiresAt: '2020-01-01T00:00:00Z' }, 400, 'INVALID_REQUEST', '/expiresAt'],
    [
      'valid after it expires',
      { validFrom: IN_A_YEAR, expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
      400,
      'INVALID_REQUEST',
      '/expiresAt',
    ],
    ['a zero amount', { value: { amount: '0', currency: 'GBP' } }, 400, 'INVALID_REQUEST', '/value/amount'],
    [
      'too many decimals',
      { value: { amount: '1.001', currency: 'GBP' } },
      400,
      'INVALID_REQUEST',
      '/value/amount',
    ],
    ['an unknown plan', { value: { plan: 'nope' } }, 404, 'PLAN_NOT_FOUND', ''],
  ];
  it.each(cases)('%s -> %s %s, nothing written', async (_name, change, status, cause, param) => {
    const before = await snapshot(pool, schema, VOUCHER_TABLES, redis, prefix);
    const res = await h.call('acme-billing', 'POST', '/v1/voucher-batches', { ...good, ...change });
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.json().cause).toBe(cause);
    if (param) expect(JSON.stringify(res.json().invalidParams)).toContain(param);
    expect(await snapshot(pool, schema, VOUCHER_TABLES, redis, prefix)).toEqual(before);
  });
});

describe('tenancy and roles', () => {
  it("another tenant's batch and serial are 404; network and self-care keys are 403", async () => {
    const { batchId, pins } = await batchWithPins(h, 'acme', { reference: 't-1', count: 1, value: money });
    for (const [method, url] of [
      ['GET', `/v1/voucher-batches/${batchId}`],
      ['GET', `/v1/voucher-batches/${batchId}/pins.csv`],
      ['POST', `/v1/voucher-batches/${batchId}/block`],
      ['GET', `/v1/vouchers/${pins[0]![0]}`],
      ['POST', `/v1/vouchers/${pins[0]![0]}/block`],
    ] as const) {
      const res = await h.call('globex-billing', method, url);
      expect(res.statusCode, url).toBe(404);
      for (const key of ['acme-network', 'acme-alice'])
        expect((await h.call(key, method, url)).statusCode, `${key} ${url}`).toBe(403);
    }
    expect((await h.call('acme-billing', 'GET', `/v1/vouchers/${pins[0]![0]}`)).json().status).toBe('active');
  });
});

describe('a large batch', () => {
  it('of more than 10,000 is generated in the background: 202 generating, then active', async () => {
    const made = await h.call('acme-billing', 'POST', '/v1/voucher-batches', {
      reference: 'big',
      count: 20_000,
      value: money,
      expiresAt: IN_A_YEAR,
    });
    expect(made.statusCode).toBe(202);
    const id = made.json().batchId;
    const early = await h.call('acme-billing', 'GET', `/v1/voucher-batches/${id}/pins.csv`);
    // Either still generating (409, nothing taken) or done already on a fast box.
    if (early.statusCode === 409) expect(early.json().cause).toBe('VOUCHER_BATCH_GENERATING');
    else expect(early.statusCode).toBe(200);
    let status = 'generating';
    while (status === 'generating') {
      await new Promise((ok) => setTimeout(ok, 100));
      status = (await h.call('acme-billing', 'GET', `/v1/voucher-batches/${id}`)).json().status;
    }
    expect(status).toBe('active');
    const n = await pool.query(`SELECT count(*)::int AS n FROM ${schema}.vouchers WHERE batch_id = $1`, [id]);
    expect(n.rows[0].n).toBe(20_000);
  });
});

describe('a batch a stopped engine left generating', () => {
  it('is generated again by the repair, with the PINs its seed gives', async () => {
    const made = await h.call('acme-billing', 'POST', '/v1/voucher-batches', {
      reference: 'crashed',
      count: 5,
      value: money,
      expiresAt: IN_A_YEAR,
    });
    const id = made.json().batchId;
    // As if the generating transaction had never committed.
    await pool.query(`DELETE FROM ${schema}.vouchers WHERE batch_id = $1`, [id]);
    await pool.query(`UPDATE ${schema}.voucher_batches SET status = 'generating' WHERE id = $1`, [id]);
    const deps = {
      pool,
      schema,
      balances: h.balances,
      redis,
      keyPrefix: prefix,
      now: Date.now,
      keys: TEST_KEYS,
    };
    expect((await repairVouchers(deps)).batches).toBe(1);
    expect((await h.call('acme-billing', 'GET', `/v1/voucher-batches/${id}`)).json()).toMatchObject({
      status: 'active',
      vouchers: { active: 5 },
    });
    const csv = await h.call('acme-billing', 'GET', `/v1/voucher-batches/${id}/pins.csv`);
    const pin = csv.body.trim().split('\n')[3]!.split(',')[1];
    await newAccount(h.balances, 'acme', 'rita', { type: 'prepaid' });
    const res = await h.call('acme-billing', 'POST', '/v1/accounts/rita/vouchers/redeem', { pin });
    expect(res.statusCode).toBe(200);
    expect((await repairVouchers(deps)).batches).toBe(0);
  });
});
