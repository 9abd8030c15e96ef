/**
 * PostgreSQL or Redis not answering: every voucher route answers 503 UNAVAILABLE with Retry-After
 * (never a 500, never a hang), here with a pool and a Redis client on a port nothing listens on.
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import { KEYS, newAccount } from '../payments/support.js';

const { redis, prefix } = testRedis();
const { pool: live, schema } = testPostgres();
const deadPool = new pg.Pool({ host: '127.0.0.1', port: 1, user: 'postgres', connectionTimeoutMillis: 500 });
deadPool.on('error', () => {});
const deadRedis = new Redis({
  port: 1,
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
});
deadRedis.on('error', () => {});
afterAll(async () => {
  await deadPool.end();
  deadRedis.disconnect();
});

const BATCH = {
  reference: 'o-1',
  count: 1,
  value: { amount: '1.00', currency: 'GBP' },
  expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
};
const ID = '00000000-0000-4000-8000-000000000000';

describe('an outage', () => {
  it('of PostgreSQL: 503 UNAVAILABLE with Retry-After on every route', async () => {
    const { app, balances } = await testApp({
      redis,
      prefix,
      keys: KEYS,
      vouchers: { pool: deadPool, schema },
    });
    await newAccount(balances, 'acme', 'alice', { type: 'prepaid' });
    const calls: [string, string, object?][] = [
      ['POST', '/v1/voucher-batches', BATCH],
      ['GET', `/v1/voucher-batches/${ID}`],
      ['GET', `/v1/voucher-batches/${ID}/pins.csv`],
      ['POST', `/v1/voucher-batches/${ID}/block`],
      ['GET', '/v1/vouchers/ABCDEFGH-0000001'],
      ['POST', '/v1/accounts/alice/vouchers/redeem', { pin: '1234567812345678' }],
    ];
    for (const [method, url, payload] of calls) {
      const res = await app.inject({
        method: method as 'GET',
        url,
        headers: { authorization: 'Bearer acme-billing' },
        ...(payload ? { payload } : {}),
      });
      expect(res.statusCode, url).toBe(503);
      expect(res.json().cause).toBe('UNAVAILABLE');
      expect(res.headers['retry-after']).toBeDefined();
    }
    await app.close();
  });

  it('of Redis: a redemption is 503 UNAVAILABLE with Retry-After', async () => {
    const { app } = await testApp({ redis: deadRedis, prefix, keys: KEYS, vouchers: { pool: live, schema } });
    const res = await app.inject({
      method: 'POST',
      url: '/v1/accounts/alice/vouchers/redeem',
      headers: { authorization: 'Bearer acme-alice' },
      payload: { pin: '1234567812345678' },
    });
    expect(res.statusCode).toBe(503);
    expect(res.json().cause).toBe('UNAVAILABLE');
    expect(res.headers['retry-after']).toBeDefined();
    await app.close();
  });
});
