/**
 * GET /v1/voucher-batches: the tenant's batches oldest first in keyset pages (no batch repeated or
 * skipped), another tenant's never; a cursor it did not give is 400 with its cause; only billing
 * staff may list.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import type { Harness } from '../payments/support.js';
import { batchWithPins, voucherHarness } from './support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let h: Harness;
const money = { amount: '1.00', currency: 'GBP' };

beforeAll(async () => {
  h = await voucherHarness(pool, schema, redis, prefix);
});

describe('the list of batches', () => {
  it("pages the tenant's batches oldest first, and only the tenant's", async () => {
    const made: string[] = [];
    for (const ref of ['l-1', 'l-2', 'l-3'])
      made.push((await batchWithPins(h, 'acme', { reference: ref, count: 2, value: money })).batchId);
    await batchWithPins(h, 'globex', { reference: 'g-1', count: 1, value: money });
    const seen: string[] = [];
    let url = '/v1/voucher-batches?limit=2';
    for (let page = 0; page < 5; page++) {
      const res = await h.call('acme-billing', 'GET', url);
      expect(res.statusCode).toBe(200);
      const body = res.json<{
        batches: { batchId: string; vouchers: object }[];
        nextCursor: string | null;
      }>();
      expect(body.batches.length).toBeLessThanOrEqual(2);
      seen.push(...body.batches.map((b) => b.batchId));
      if (!body.nextCursor) break;
      url = `/v1/voucher-batches?limit=2&cursor=${body.nextCursor}`;
    }
    expect(seen).toEqual(made);
    const all = await h.call('acme-billing', 'GET', '/v1/voucher-batches');
    expect(all.json().batches[0]).toMatchObject({
      batchId: made[0],
      reference: 'l-1',
      count: 2,
      vouchers: { active: 2, redeemed: 0 },
    });
    const globex = await h.call('globex-billing', 'GET', '/v1/voucher-batches');
    expect(globex.json().batches.map((b: { reference: string }) => b.reference)).toEqual(['g-1']);
  });

  it('refuses a cursor it did not give (400 with the cause) and callers other than billing', async () => {
    const bad = await h.call('acme-billing', 'GET', '/v1/voucher-batches?cursor=bm9wZQ');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().invalidParams).toEqual([{ param: '/cursor', reason: 'not a cursor this list gave' }]);
    expect((await h.call('acme-billing', 'GET', '/v1/voucher-batches?limit=0')).statusCode).toBe(400);
    expect((await h.call('acme-alice', 'GET', '/v1/voucher-batches')).statusCode).toBe(403);
  });
});
