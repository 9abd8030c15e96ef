/**
 * Who may call /jsonrpc and what they see (never open, unlike a default cgr-engine), APIerSv1.GetCost
 * on the engine's pricing, money as strings on request, and Redis away as 503 with Retry-After.
 */
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../../src/config.js';
import { testApp } from '../support/app.js';
import { dumpKeys } from '../support/redis-dump.js';
import { testRedis } from '../support/redis.js';
import { rpcClient } from './rpc.js';

const { redis, prefix } = testRedis();
let app: FastifyInstance;
let rpc: ReturnType<typeof rpcClient>;
const OTHER = { key: 'other-billing', role: 'billing' as const, tenant: 'other', name: 'other tenant' };
const KEYS = [...DEMO_KEYS, OTHER];

beforeAll(async () => {
  ({ app } = await testApp({ redis, prefix, keys: KEYS, cgrates: { currency: 'GBP' } }));
  rpc = rpcClient(app);
  for (const Account of ['alice', 'bob'])
    await rpc('demo-billing', 'APIerSv1.AddBalance', { Account, BalanceType: '*monetary', Value: 10 });
});
afterAll(() => app.close());

describe('authentication', () => {
  it('without a key: 401, UNAUTHORIZED_API, nothing runs', async () => {
    const before = await dumpKeys(redis, prefix);
    const a = await rpc({}, 'APIerSv1.AddBalance', { Account: 'alice', BalanceType: '*monetary', Value: 1 });
    expect(a.status).toBe(401);
    expect(a.error).toBe('UNAUTHORIZED_API');
    expect(await dumpKeys(redis, prefix)).toEqual(before);
    expect((await rpc('not-a-key', 'APIerSv1.Ping')).status).toBe(401);
  });

  it('takes the key as Bearer, X-API-Key, or the password of basic auth (a CGRateS URL user:pass)', async () => {
    const basic = Buffer.from('crm:demo-billing').toString('base64');
    for (const headers of [{ 'x-api-key': 'demo-billing' }, { authorization: `Basic ${basic}` }] as Record<
      string,
      string
    >[])
      expect((await rpc(headers, 'APIerSv2.GetAccount', { Account: 'alice' })).error).toBeNull();
  });
});

describe('roles and tenants', () => {
  it('a network key prices but does not provision', async () => {
    expect((await rpc('demo-network', 'APIerSv1.Ping')).result).toBe('Pong');
    const a = await rpc('demo-network', 'APIerSv1.AddBalance', {
      Account: 'alice',
      BalanceType: '*monetary',
      Value: 1,
    });
    expect(a.error).toBe('UNAUTHORIZED_API');
    expect((await rpc('demo-network', 'APIerSv2.GetAccount', { Account: 'alice' })).error).toBe(
      'UNAUTHORIZED_API',
    );
  });

  it('a customer reads only their own account; another one is NOT_FOUND', async () => {
    const own = await rpc('demo-selfcare-alice', 'APIerSv2.GetAccount', { Account: 'alice' });
    expect(own.result).toMatchObject({ ID: 'acme:alice' });
    expect((await rpc('demo-selfcare-alice', 'APIerSv2.GetAccount', { Account: 'bob' })).error).toBe(
      'NOT_FOUND',
    );
    const add = { Account: 'alice', BalanceType: '*monetary', Value: 1 };
    expect((await rpc('demo-selfcare-alice', 'APIerSv1.AddBalance', add)).error).toBe('UNAUTHORIZED_API');
  });

  it('an operator key only pings', async () => {
    expect((await rpc('demo-operator', 'APIerSv1.Ping')).result).toBe('Pong');
    expect((await rpc('demo-operator', 'APIerSv2.GetAccount', { Account: 'alice' })).error).toBe(
      'UNAUTHORIZED_API',
    );
  });

  it("another tenant's accounts are invisible, and naming their tenant is refused", async () => {
    expect((await rpc(OTHER.key, 'APIerSv2.GetAccount', { Account: 'alice' })).error).toBe('NOT_FOUND');
    const named = await rpc(OTHER.key, 'APIerSv2.GetAccount', { Tenant: 'acme', Account: 'alice' });
    expect(named.error).toBe('UNAUTHORIZED_API');
    const before = await dumpKeys(redis, prefix);
    const debit = { Tenant: 'acme', Account: 'alice', BalanceType: '*monetary', Value: 1 };
    expect((await rpc(OTHER.key, 'APIerSv1.DebitBalance', debit)).error).toBe('UNAUTHORIZED_API');
    expect(await dumpKeys(redis, prefix)).toEqual(before);
  });
});

describe('APIerSv1.GetCost', () => {
  const cost = { Tenant: 'acme', Category: 'call', Subject: 'x', Destination: '+442071234567' };

  it('prices as POST /v1/rating/price does, Usage in nanoseconds, Cost exact', async () => {
    const a = await rpc('demo-network', 'APIerSv1.GetCost', {
      ...cost,
      AnswerTime: '2026-11-20T10:15:00Z',
      Usage: '95s',
    });
    expect(a.error).toBeNull();
    expect(a.result).toMatchObject({ StartTime: '2026-11-20T10:15:00Z', Usage: 95e9, Cost: 0.2084 });
    expect(a.raw).toContain('"Cost":0.2084');
    // A bare integer Usage is nanoseconds (utils.ParseDurationWithNanosecs).
    const ns = await rpc('demo-network', 'APIerSv1.GetCost', {
      ...cost,
      AnswerTime: '2026-11-20T10:15:00Z',
      Usage: '95000000000',
    });
    expect(ns.result).toMatchObject({ Cost: 0.2084 });
  });

  it('a number nobody prices and a bad Usage are CGRateS errors, not SERVER_ERROR', async () => {
    const none = await rpc('demo-network', 'APIerSv1.GetCost', { ...cost, Category: 'nothing', Usage: '1m' });
    expect(none.error).toBe('RATING_PLAN_NOT_FOUND');
    const bad = await rpc('demo-network', 'APIerSv1.GetCost', { ...cost, Usage: 'soon' });
    expect(bad.error).toBe('UNSUPPORTED_FORMAT: Usage: time: invalid duration "soon"');
    expect((await rpc('demo-network', 'APIerSv1.GetCost', { Subject: 'x' })).error).toBe(
      'MANDATORY_IE_MISSING: [Destination]',
    );
  });
});

describe('options and outages', () => {
  it('CGRATES_DECIMALS=string answers money as decimal strings', async () => {
    const { app: app2 } = await testApp({
      redis,
      prefix,
      keys: KEYS,
      cgrates: { currency: 'GBP', decimalsAsStrings: true },
    });
    const a = await rpcClient(app2)('demo-billing', 'APIerSv2.GetAccount', { Account: 'alice' });
    expect(a.raw).toContain('"Value":"10"');
    await app2.close();
  });

  it('Redis away: 503 with Retry-After, as every route answers it', async () => {
    const down = new Redis({
      port: 1,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    const { app: app3 } = await testApp({ redis: down, prefix, keys: KEYS, cgrates: { currency: 'GBP' } });
    const r = await app3.inject({
      method: 'POST',
      url: '/jsonrpc',
      headers: { authorization: 'Bearer demo-billing', 'content-type': 'application/json' },
      payload: { method: 'APIerSv2.GetAccount', params: [{ Account: 'alice' }], id: 1 },
    });
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.json()).toMatchObject({ cause: 'UNAVAILABLE' });
    await app3.close();
    down.disconnect();
  });
});
