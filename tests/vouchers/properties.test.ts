/**
 * Properties: a batch's PINs drawn from any offset are the same PINs (the one download and the
 * generation agree), always 16 digits; and, on the real stores, however redemptions of random
 * vouchers by random accounts interleave, each voucher pays out at most once and the money the
 * accounts gained is exactly the value of the vouchers marked redeemed.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { pinsAt } from '../../src/vouchers/pins.js';
import { testPostgres } from '../support/postgres.js';
import { scanKeys, testRedis } from '../support/redis.js';
import type { Harness } from '../payments/support.js';
import { batchWithPins, mainNano, newAccount, voucherHarness } from './support.js';

describe('PINs from a seed', () => {
  it('are the same from any offset, and 16 digits', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.nat(5000),
        fc.integer({ min: 1, max: 300 }),
        (seed, from, n) => {
          const key = Buffer.from(seed);
          const whole = pinsAt(key, 0, from + n);
          expect(pinsAt(key, from, n)).toEqual(whole.slice(from));
          for (const pin of whole) expect(pin).toMatch(/^\d{16}$/);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('differ between seeds', () => {
    expect(pinsAt(randomBytes(32), 0, 100)).not.toEqual(pinsAt(randomBytes(32), 0, 100));
  });
});

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let h: Harness;
const ACCOUNTS = ['p0', 'p1', 'p2'];

beforeAll(async () => {
  h = await voucherHarness(pool, schema, redis, prefix);
  for (const id of ACCOUNTS) await newAccount(h.balances, 'acme', id, { type: 'prepaid' });
});

describe('concurrent redemptions', () => {
  it('pay each voucher at most once: money gained = value of the vouchers redeemed', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 99_999 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(fc.nat(2), fc.nat(20)), { minLength: 1, maxLength: 8 }),
        async (amountsMinor, attempts) => {
          run++;
          const stale = await scanKeys(redis, `${prefix}{vf*`);
          if (stale.length) await redis.del(...stale);
          const vouchers: { serial: string; pin: string; nano: number }[] = [];
          for (const [i, minor] of amountsMinor.entries()) {
            const amount = `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`;
            const { pins } = await batchWithPins(h, 'acme', {
              reference: `prop-${run}-${i}`,
              count: 2,
              value: { amount, currency: 'GBP' },
            });
            for (const [serial, pin] of pins) vouchers.push({ serial, pin, nano: minor * 10_000_000 });
          }
          const before = await Promise.all(ACCOUNTS.map((a) => mainNano(h.balances, 'acme', a)));
          const answers = await Promise.all(
            attempts.map(([a, v]) =>
              h.call('acme-billing', 'POST', `/v1/accounts/${ACCOUNTS[a]}/vouchers/redeem`, {
                pin: vouchers[v % vouchers.length]!.pin,
              }),
            ),
          );
          for (const r of answers) expect([200, 422, 429]).toContain(r.statusCode);
          const after = await Promise.all(ACCOUNTS.map((a) => mainNano(h.balances, 'acme', a)));
          const gained = after.reduce((s, x, i) => s + x - before[i]!, 0);
          const r = await pool.query<{ serial: string; account_id: string }>(
            `SELECT serial, account_id FROM ${schema}.vouchers WHERE serial = ANY($1) AND status = 'redeemed'`,
            [vouchers.map((v) => v.serial)],
          );
          const paid = r.rows.reduce((s, row) => s + vouchers.find((v) => v.serial === row.serial)!.nano, 0);
          expect(gained).toBe(paid);
          // Every 200 names a redeemed voucher, and its account is the one it was redeemed onto.
          for (const res of answers.filter((x) => x.statusCode === 200)) {
            const row = r.rows.find((x) => x.serial === res.json().serial);
            expect(row?.account_id).toBe(res.json().accountId);
          }
        },
      ),
      { numRuns: 8 },
    );
  });
});
