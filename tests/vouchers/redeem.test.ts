/**
 * Redeeming vouchers over HTTP on the real stores: the credit once (replays answer the first answer),
 * exactly one winner when two accounts redeem one PIN at once, one identical refusal for a wrong,
 * used, expired, blocked or other-currency PIN, the 429 lockout after 5 failures (per account and
 * per API key) with Retry-After and its event, plan vouchers, a crash between PostgreSQL and Redis
 * repaired once, and tenancy (another tenant's account, a customer's other account: 404).
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { voucherKeys } from '../../src/vouchers/keys.js';
import { putPlan } from '../../src/billing/plans/catalog.js';
import { putProfile } from '../../src/billing/plans/profiles.js';
import { repairVouchers } from '../../src/vouchers/repair.js';
import { testPostgres } from '../support/postgres.js';
import { scanKeys, testRedis } from '../support/redis.js';
import type { Harness } from '../payments/support.js';
import { batchWithPins, mainNano, newAccount, snapshot, voucherHarness, VOUCHER_TABLES } from './support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let h: Harness;
const GBP = 1_000_000_000;
const money = { amount: '10.00', currency: 'GBP' };
const redeem = (key: string, account: string, body: object) =>
  h.call(key, 'POST', `/v1/accounts/${account}/vouchers/redeem`, body);
const events = async (type: string) =>
  (await pool.query(`SELECT * FROM ${schema}.events WHERE type = $1 ORDER BY occurred_at`, [type])).rows;

beforeAll(async () => {
  h = await voucherHarness(pool, schema, redis, prefix);
  for (const id of ['alice', 'bob', 'carl', 'dora', 'erin'])
    await newAccount(h.balances, 'acme', id, { type: 'prepaid' });
  await newAccount(h.balances, 'acme', 'euro', { type: 'prepaid', currency: 'EUR' });
  await newAccount(h.balances, 'globex', 'alice', { type: 'prepaid' });
});

// Each test starts with no failure counted (the counters would otherwise lock the shared keys out).
beforeEach(async () => {
  const keys = await scanKeys(redis, `${prefix}{vf*`);
  if (keys.length) await redis.del(...keys);
});

describe('a money voucher', () => {
  it("credits the customer's own account once; a retry answers the first answer", async () => {
    const { pins } = await batchWithPins(h, 'acme', { reference: 'm-1', count: 2, value: money });
    const [serial, pin] = pins[0]!;
    const res = await redeem('acme-alice', 'alice', { pin });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      serial,
      accountId: 'alice',
      status: 'redeemed',
      amount: '10.00',
      currency: 'GBP',
      replayed: false,
    });
    expect(await mainNano(h.balances, 'acme', 'alice')).toBe(10 * GBP);
    const again = await redeem('acme-alice', 'alice', { pin });
    expect(again.json()).toMatchObject({ serial, status: 'redeemed', replayed: true });
    expect(await mainNano(h.balances, 'acme', 'alice')).toBe(10 * GBP);
    const ev = await events('voucher.redeemed');
    expect(ev).toHaveLength(1);
    expect(ev[0]).toMatchObject({ account_id: 'alice', payload: { serial, value: { amount: '10.00' } } });
    const status = (await h.call('acme-billing', 'GET', `/v1/vouchers/${serial}`)).json();
    expect(status).toMatchObject({ status: 'redeemed', accountId: 'alice' });
    expect(JSON.stringify(status)).not.toContain(pin);
  });

  it('is idempotent by reference: the same reference with another PIN is 409 and changes nothing', async () => {
    const { pins } = await batchWithPins(h, 'acme', { reference: 'm-2', count: 2, value: money });
    const before = await mainNano(h.balances, 'acme', 'bob');
    const first = await redeem('acme-billing', 'bob', { pin: pins[0]![1], reference: 'crm-7' });
    expect(first.statusCode).toBe(200);
    expect(
      (await redeem('acme-billing', 'bob', { pin: pins[0]![1], reference: 'crm-7' })).json().replayed,
    ).toBe(true);
    const snap = await snapshot(pool, schema, VOUCHER_TABLES, redis, prefix);
    const other = await redeem('acme-billing', 'bob', { pin: pins[1]![1], reference: 'crm-7' });
    expect(other.statusCode).toBe(409);
    expect(other.json().cause).toBe('CONFLICT');
    expect(await snapshot(pool, schema, VOUCHER_TABLES, redis, prefix)).toEqual(snap);
    expect(await mainNano(h.balances, 'acme', 'bob')).toBe(before + 10 * GBP);
  });

  it('has exactly one winner when two accounts redeem one PIN at once', async () => {
    for (let round = 0; round < 5; round++) {
      const { pins } = await batchWithPins(h, 'acme', { reference: `race-${round}`, count: 1, value: money });
      const before =
        (await mainNano(h.balances, 'acme', 'carl')) + (await mainNano(h.balances, 'acme', 'dora'));
      const [a, b] = await Promise.all([
        redeem('acme-billing', 'carl', { pin: pins[0]![1] }),
        redeem('acme-billing', 'dora', { pin: pins[0]![1] }),
      ]);
      expect([a.statusCode, b.statusCode].sort()).toEqual([200, 422]);
      const after =
        (await mainNano(h.balances, 'acme', 'carl')) + (await mainNano(h.balances, 'acme', 'dora'));
      expect(after - before).toBe(10 * GBP);
    }
  });
});

describe('a PIN that does not redeem', () => {
  it('answers one identical refusal whether wrong, used, expired, blocked or of another currency', async () => {
    const { batchId, pins } = await batchWithPins(h, 'acme', { reference: 'same', count: 4, value: money });
    await redeem('acme-billing', 'bob', { pin: pins[0]![1] });
    await h.call('acme-billing', 'POST', `/v1/vouchers/${pins[1]![0]}/block`);
    const { batchId: oldBatch, pins: oldPins } = await batchWithPins(h, 'acme', {
      reference: 'old',
      count: 1,
      value: money,
    });
    await pool.query(
      `UPDATE ${schema}.voucher_batches SET valid_from = now() - interval '2 days', expires_at = now() - interval '1 day' WHERE id = $1`,
      [oldBatch],
    );
    const tries: [string, string][] = [
      ['erin', '0000000000000000'], // wrong
      ['erin', pins[0]![1]], // used by bob
      ['erin', pins[1]![1]], // blocked serial
      ['erin', oldPins[0]![1]], // expired batch
      ['euro', pins[2]![1]], // a GBP voucher on a EUR account
    ];
    const bodies = new Set<string>();
    for (const [account, pin] of tries) {
      const res = await redeem('acme-billing', account, { pin });
      expect(res.statusCode).toBe(422);
      expect(res.json().cause).toBe('VOUCHER_INVALID');
      bodies.add(res.body);
      const keys = await scanKeys(redis, `${prefix}{vf*`);
      if (keys.length) await redis.del(...keys);
    }
    expect(bodies.size).toBe(1);
    // A blocked batch refuses the same way; unblocked, its voucher redeems.
    await h.call('acme-billing', 'POST', `/v1/voucher-batches/${batchId}/block`);
    expect((await redeem('acme-billing', 'erin', { pin: pins[3]![1] })).body).toBe([...bodies][0]);
    await h.call('acme-billing', 'POST', `/v1/voucher-batches/${batchId}/unblock`);
    expect((await redeem('acme-billing', 'erin', { pin: pins[3]![1] })).statusCode).toBe(200);
  });

  it('locks the account out after 5 failures: 429 with Retry-After, even for a good PIN, and one lockout event', async () => {
    const { pins } = await batchWithPins(h, 'acme', { reference: 'lock', count: 1, value: money });
    const before = await mainNano(h.balances, 'acme', 'alice');
    for (let i = 0; i < 5; i++)
      expect((await redeem('acme-alice', 'alice', { pin: `999999999999999${i}` })).statusCode).toBe(422);
    const locked = await redeem('acme-alice', 'alice', { pin: pins[0]![1] });
    expect(locked.statusCode).toBe(429);
    expect(locked.json().cause).toBe('TOO_MANY_ATTEMPTS');
    const wait = Number(locked.headers['retry-after']);
    expect(wait).toBeGreaterThan(800);
    expect(wait).toBeLessThanOrEqual(900);
    expect(await mainNano(h.balances, 'acme', 'alice')).toBe(before);
    expect((await events('voucher.lockout')).filter((e) => e.account_id === 'alice')).toHaveLength(1);
    // Billing's own key is not locked by the customer's failures... but the account is.
    expect((await redeem('acme-billing', 'alice', { pin: pins[0]![1] })).statusCode).toBe(429);
    expect((await redeem('acme-billing', 'bob', { pin: pins[0]![1] })).statusCode).toBe(200);
  });

  it('locks an API key out after 5 failures over several accounts', async () => {
    for (const account of ['alice', 'bob', 'carl', 'dora', 'erin'])
      expect((await redeem('acme-billing', account, { pin: '1111111111111111' })).statusCode).toBe(422);
    const res = await redeem('acme-billing', 'euro', { pin: '1111111111111111' });
    expect(res.statusCode).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  it.each([
    ['15 digits', { pin: '123456789012345' }],
    ['letters', { pin: '12345678901234ab' }],
    ['no pin', {}],
    ['an unknown field', { pin: '1234567890123456', amount: '5' }],
  ])('%s -> 400 INVALID_REQUEST, nothing changed (no failure counted)', async (_n, body) => {
    const before = await snapshot(pool, schema, VOUCHER_TABLES, redis, prefix);
    const res = await redeem('acme-alice', 'alice', body);
    expect(res.statusCode).toBe(400);
    expect(res.json().cause).toBe('INVALID_REQUEST');
    expect(await snapshot(pool, schema, VOUCHER_TABLES, redis, prefix)).toEqual(before);
  });
});

describe('tenancy', () => {
  it("a customer's other account and another tenant's account are 404; another tenant's PIN is invalid", async () => {
    const { pins } = await batchWithPins(h, 'acme', { reference: 'ten', count: 1, value: money });
    const pin = pins[0]![1];
    const before = await snapshot(pool, schema, VOUCHER_TABLES, redis, prefix);
    for (const [key, account] of [
      ['acme-alice', 'bob'],
      ['globex-billing', 'bob'],
    ]) {
      const res = await redeem(key!, account!, { pin });
      expect(res.statusCode).toBe(404);
      expect(res.json().cause).toBe('ACCOUNT_NOT_FOUND');
    }
    expect(await snapshot(pool, schema, VOUCHER_TABLES, redis, prefix)).toEqual(before);
    // globex's own alice: the PIN is acme's, so for globex it does not exist.
    expect((await redeem('globex-alice', 'alice', { pin })).json().cause).toBe('VOUCHER_INVALID');
    expect(
      (await h.call('acme-network', 'POST', '/v1/accounts/alice/vouchers/redeem', { pin })).statusCode,
    ).toBe(403);
    expect((await redeem('acme-billing', 'bob', { pin })).statusCode).toBe(200);
  });
});

describe('POST /v1/me/vouchers/redeem', () => {
  it("redeems onto the customer's own account; other roles may not call it", async () => {
    const { pins } = await batchWithPins(h, 'acme', { reference: 'me-1', count: 1, value: money });
    const before = await mainNano(h.balances, 'acme', 'alice');
    const res = await h.call('acme-alice', 'POST', '/v1/me/vouchers/redeem', { pin: pins[0]![1] });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accountId: 'alice', amount: '10.00', currency: 'GBP' });
    expect(await mainNano(h.balances, 'acme', 'alice')).toBe(before + 10 * GBP);
    expect(
      (await h.call('acme-billing', 'POST', '/v1/me/vouchers/redeem', { pin: pins[0]![1] })).statusCode,
    ).toBe(403);
  });
});

describe('a plan voucher', () => {
  it('assigns the plan once, with its bundle', async () => {
    await putPlan(pool, schema, 'acme', 'promo', {
      period: 'month',
      prices: { GBP: '0.00' },
      bundles: [{ id: 'data', unit: 'data', amount: 1_000_000, renewal: 'reset' }],
    });
    await putProfile({ pool, schema, balances: h.balances, now: Date.now }, 'acme', 'erin', {
      billCycleDay: 1,
      timezone: 'UTC',
    });
    const { pins } = await batchWithPins(h, 'acme', {
      reference: 'plan-1',
      count: 1,
      value: { plan: 'promo' },
    });
    const res = await redeem('acme-billing', 'erin', { pin: pins[0]![1] });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'redeemed',
      plan: 'promo',
      version: 1,
      value: { type: 'plan' },
    });
    const again = await redeem('acme-billing', 'erin', { pin: pins[0]![1] });
    expect(again.json()).toMatchObject({ replayed: true, assignmentId: res.json().assignmentId });
    const plans = await pool.query(`SELECT * FROM ${schema}.account_plans WHERE account_id = 'erin'`);
    expect(plans.rows).toHaveLength(1);
    const view = await h.balances.getAccount('acme', 'erin');
    expect(view!.balances.filter((b) => b.unit === 'data')).toHaveLength(1);
  });
});

describe('a crash between PostgreSQL and Redis', () => {
  it('is repaired at start: the claimed voucher credited once and marked redeemed', async () => {
    const { pins } = await batchWithPins(h, 'acme', { reference: 'crash', count: 2, value: money });
    const before = await mainNano(h.balances, 'acme', 'dora');
    // Claimed, then the engine died before the credit (first) or after it (second).
    await pool.query(
      `UPDATE ${schema}.vouchers SET status = 'redeeming', account_id = 'dora', claimed_at = now() WHERE serial = ANY($1)`,
      [[pins[0]![0], pins[1]![0]]],
    );
    await h.balances.credit('acme', 'dora', {
      opId: `voucher:${pins[1]![0]}`,
      balanceId: 'main',
      amount: 10 * GBP,
      kind: 'topup',
    });
    const deps = {
      pool,
      schema,
      balances: h.balances,
      redis,
      keyPrefix: prefix,
      now: Date.now,
      keys: voucherKeys(randomBytes(32)),
    };
    // A claim younger than a minute is a redemption in flight: left alone.
    expect((await repairVouchers(deps)).redemptions).toBe(0);
    expect((await repairVouchers(deps, 0)).redemptions).toBe(2);
    expect((await repairVouchers(deps, 0)).redemptions).toBe(0);
    expect(await mainNano(h.balances, 'acme', 'dora')).toBe(before + 20 * GBP);
    const rows = await pool.query(`SELECT status FROM ${schema}.vouchers WHERE serial = ANY($1)`, [
      [pins[0]![0], pins[1]![0]],
    ]);
    expect(rows.rows.map((r) => r.status)).toEqual(['redeemed', 'redeemed']);
    const ev = (await events('voucher.redeemed')).filter(
      (e) => e.account_id === 'dora' && [pins[0]![0], pins[1]![0]].includes(e.payload.serial),
    );
    expect(ev).toHaveLength(2);
  });
});
