/**
 * CDRsV2.GetCDRs / APIerSv2.GetCDRs / CountCDRs with utils.RPCCDRsFilter: what the engine charged
 * (here through SessionSv1.ProcessCDR, drained into PostgreSQL) as engine.ExternalCDR, filtered,
 * paginated, scoped to the tenant and, for a customer, their own account.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { goDurationString } from '../../src/cgrates-api/cdrs.js';
import { goTime, goTimeText } from '../../src/cgrates-api/go-time.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { drainOutboxes } from '../../src/storage/outbox.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import { rpcClient } from './rpc.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let app: FastifyInstance;
let rpc: ReturnType<typeof rpcClient>;
const B = 'demo-billing';

const cdr = (Account: string, OriginID: string, Usage: string, Destination = '+442071234567') => ({
  Event: { Account, OriginID, Destination, ToR: '*voice', AnswerTime: '2026-11-20T10:15:00Z', Usage },
});

beforeAll(async () => {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await ensureLedgerSchema(pool, schema);
  await ensureRecordsSchema(pool, schema);
  await ensureCdrSchema(pool, schema);
  ({ app } = await testApp({ redis, prefix, cgrates: { currency: 'GBP', store: { pool, schema } } }));
  rpc = rpcClient(app);
  for (const Account of ['alice', 'bob'])
    await rpc(B, 'APIerSv1.AddBalance', {
      Account,
      BalanceType: '*monetary',
      Value: 10,
      Balance: { ID: 'main' },
    });
  for (const [account, id, usage] of [
    ['alice', 'c1', '95s'],
    ['alice', 'c2', '30s'],
    ['bob', 'c3', '60s'],
  ] as const)
    expect((await rpc('demo-network', 'SessionSv1.ProcessCDR', cdr(account, id, usage))).result).toBe('OK');
  await drainOutboxes({ redis, pool, schema, keyPrefix: prefix });
});
afterAll(() => app.close());

describe('reading CDRs', () => {
  it('GetCDRs answers engine.ExternalCDR, filtered by account, in answer-time order', async () => {
    const a = await rpc(B, 'CDRsV2.GetCDRs', { Accounts: ['alice'], ToRs: ['*voice'] });
    expect(a.error, a.raw).toBeNull();
    const list = a.result as Record<string, unknown>[];
    expect(list.map((c) => c.Usage)).toEqual(['1m35s', '30s']);
    expect(list[0]).toMatchObject({
      ToR: '*voice',
      Tenant: 'acme',
      Account: 'alice',
      Destination: 'UK_FIXED', // a record holds the tariff's destination, not the number
      AnswerTime: '2026-11-20T10:15:00Z',
      Cost: 0.2084,
      Source: '*sessions',
    });
  });

  it('CountCDRs and pagination; the same through APIerSv2.GetCDRs', async () => {
    expect((await rpc(B, 'APIerSv2.CountCDRs', {})).result).toBe(3);
    expect((await rpc(B, 'APIerSv2.CountCDRs', { Accounts: ['bob'] })).result).toBe(1);
    const page = await rpc(B, 'APIerSv2.GetCDRs', { Limit: 1, Offset: 2 });
    expect((page.result as { Account: string }[]).map((c) => c.Account)).toEqual(['bob']);
    const none = await rpc(B, 'APIerSv2.GetCDRs', { AnswerTimeStart: '2026-11-21T00:00:00Z' });
    expect(none.error).toBe('NOT_FOUND');
  });

  it('a customer reads only their own CDRs; another tenant is refused; unheld filters are NOT_IMPLEMENTED', async () => {
    const own = await rpc('demo-selfcare-alice', 'CDRsV2.GetCDRs', { Accounts: ['alice'] });
    expect((own.result as unknown[]).length).toBe(2);
    expect((await rpc('demo-selfcare-alice', 'CDRsV2.GetCDRs', { Accounts: ['bob'] })).error).toBe(
      'UNAUTHORIZED_API',
    );
    expect((await rpc('demo-selfcare-alice', 'CDRsV2.GetCDRs', {})).error).toBe('UNAUTHORIZED_API');
    expect((await rpc(B, 'CDRsV2.GetCDRs', { Tenants: ['other'] })).error).toBe('UNAUTHORIZED_API');
    expect((await rpc(B, 'CDRsV2.GetCDRs', { MinCost: 1 })).error).toBe(
      'NOT_IMPLEMENTED: CDR filters MinCost',
    );
  });
});

type Cdr = { CGRID: string; Account: string; Usage: string; Cost: number; OrderID?: number };
const list = async (arg: object) => {
  const r = await rpc(B, 'APIerSv2.GetCDRs', arg);
  expect(r.error, r.raw).toBeNull();
  return r.result as Cdr[];
};

describe('the filters and orders CGRateS clients send', () => {
  it("the Ruby gem's call (OrderBy OrderID, empty ExtraArgs, null Limit, empty OriginIDs) lists every CDR", async () => {
    const all = await list({ Tenants: [], OrderBy: 'OrderID', ExtraArgs: {}, Limit: null, OriginIDs: [] });
    expect(all.map((c) => c.Usage).sort()).toEqual(['1m0s', '1m35s', '30s']);
    expect(all[0]).not.toHaveProperty('OrderID'); // no sequence to take it from (docs/CGRATES-COMPAT.md)
    const back = await list({ OrderBy: 'OrderID;desc' });
    expect(back.map((c) => c.CGRID)).toEqual(all.map((c) => c.CGRID).reverse());
  });

  it('OrderBy Usage, Cost and AnswerTime, ";desc" reversing; another field is refused', async () => {
    expect((await list({ OrderBy: 'Usage;desc' })).map((c) => c.Usage)).toEqual(['1m35s', '1m0s', '30s']);
    expect((await list({ OrderBy: 'Usage' })).map((c) => c.Usage)).toEqual(['30s', '1m0s', '1m35s']);
    const byCost = (await list({ OrderBy: 'Cost' })).map((c) => c.Cost);
    expect(byCost).toEqual([...byCost].sort((x, y) => x - y));
    const desc = (await list({ OrderBy: 'AnswerTime;desc' })).map((c) => c.CGRID);
    expect(desc).toEqual((await list({ OrderBy: 'AnswerTime' })).map((c) => c.CGRID).reverse());
    expect((await rpc(B, 'APIerSv2.GetCDRs', { OrderBy: 'Destination' })).error).toMatch(
      /^UNSUPPORTED_FORMAT: OrderBy Destination/,
    );
  });

  it('ExtraArgs: MinCost/MaxCost as CGRateS compares them, OrderIDStart 1 keeps all, the rest refused', async () => {
    const costs = (await list({ OrderBy: 'Cost' })).map((c) => c.Cost);
    expect(costs).toEqual([0.15, 0.15, 0.2084]);
    expect((await list({ ExtraArgs: { MinCost: 0.2084 } })).map((c) => c.Cost)).toEqual([0.2084]);
    expect((await list({ ExtraArgs: { MaxCost: 0.2084 } })).map((c) => c.Cost)).toEqual([0.15, 0.15]);
    expect((await list({ ExtraArgs: { MinCost: 0.15, MaxCost: 0.2 } })).length).toBe(2);
    expect((await list({ ExtraArgs: { MinCost: '0', MaxCost: -1 } })).length).toBe(3); // "skip errors"
    expect((await rpc(B, 'APIerSv2.GetCDRs', { ExtraArgs: { MaxCost: -1 } })).error).toBe('NOT_FOUND'); // unrated
    expect((await rpc(B, 'APIerSv2.CountCDRs', { ExtraArgs: { MaxCost: -1 } })).result).toBe(0);
    expect((await list({ ExtraArgs: { OrderIDStart: 1 }, Limit: 2 })).length).toBe(2);
    expect((await rpc(B, 'APIerSv2.GetCDRs', { ExtraArgs: { OrderIDStart: 2 } })).error).toMatch(
      /^NOT_IMPLEMENTED: CDR filters ExtraArgs.OrderIDStart/,
    );
    expect((await rpc(B, 'APIerSv2.GetCDRs', { ExtraArgs: { OrderIDEnd: 9 } })).error).toBe(
      'NOT_IMPLEMENTED: CDR filters ExtraArgs.OrderIDEnd',
    );
    expect((await rpc(B, 'APIerSv2.GetCDRs', { ExtraArgs: { MinCost: 'x' } })).error).toMatch(
      /^NOT_CONVERTIBLE/,
    );
  });

  it('CGRIDs, OriginIDs, NotAccounts, Subjects, MinUsage/MaxUsage, Sources and RunIDs', async () => {
    const [one] = await list({ Accounts: ['bob'] });
    expect((await list({ CGRIDs: [one!.CGRID] })).map((c) => c.Account)).toEqual(['bob']);
    expect((await list({ OriginIDs: [one!.CGRID] })).map((c) => c.Account)).toEqual(['bob']);
    expect((await list({ NotAccounts: ['alice'] })).map((c) => c.Account)).toEqual(['bob']);
    expect((await list({ Subjects: ['alice'] })).map((c) => c.Account)).toEqual(['alice', 'alice']);
    expect((await list({ MinUsage: '1m0s', OrderBy: 'Usage' })).map((c) => c.Usage)).toEqual([
      '1m0s',
      '1m35s',
    ]);
    expect((await list({ MaxUsage: '60000000000' })).map((c) => c.Usage)).toEqual(['30s']);
    expect((await list({ Sources: ['*sessions'], RunIDs: ['*default'] })).length).toBe(3);
    expect((await rpc(B, 'APIerSv2.GetCDRs', { Sources: ['*cdr_file'] })).error).toBe('NOT_FOUND');
    expect((await rpc(B, 'APIerSv2.CountCDRs', { RunIDs: ['*rerate'] })).result).toBe(0);
    expect((await rpc(B, 'APIerSv2.GetCDRs', { RequestTypes: ['*prepaid'] })).error).toBe(
      'NOT_IMPLEMENTED: CDR filters RequestTypes',
    );
  });
});

describe('Go time.Time and nil maps in other answers', () => {
  it("GetCost's StartTime as Go writes it; an account without balances has BalanceMap null", async () => {
    const cost = await rpc(B, 'APIerSv1.GetCost', {
      Subject: 'alice',
      Destination: '+442071234567',
      AnswerTime: '2026-11-20T10:15:00.000+00:00',
      Usage: '1m0s',
    });
    expect(cost.error, cost.raw).toBeNull();
    expect((cost.result as { StartTime: string }).StartTime).toBe('2026-11-20T10:15:00Z');
    expect((await rpc(B, 'APIerSv2.SetAccount', { Account: 'empty' })).result).toBe('OK');
    const acct = await rpc(B, 'APIerSv2.GetAccount', { Account: 'empty' });
    expect((acct.result as { BalanceMap: unknown }).BalanceMap).toBeNull();
  });

  it.each([
    [Date.UTC(2026, 10, 20, 10, 15), '2026-11-20T10:15:00Z'],
    [Date.UTC(2026, 10, 20, 10, 15, 0, 500), '2026-11-20T10:15:00.5Z'],
    ['2026-11-20T10:15:00.120+02:00', '2026-11-20T10:15:00.12+02:00'],
    ['2026-11-20T10:15:00.000-00:00', '2026-11-20T10:15:00Z'],
  ])('goTime/goTimeText %s is %s', (t, s) => {
    expect(typeof t === 'number' ? goTime(t) : goTimeText(t)).toBe(s);
  });
});

describe('goDurationString', () => {
  it.each([
    [0, '0s'],
    [95e9, '1m35s'],
    [1.5e9, '1.5s'],
    [3600e9, '1h0m0s'],
    [5e6, '5ms'],
  ])('%s ns is %s', (ns, s) => {
    expect(goDurationString(ns)).toBe(s);
  });
});
