/**
 * CDRsV2.GetCDRs / APIerSv2.GetCDRs / CountCDRs with utils.RPCCDRsFilter: what the engine charged
 * (here through SessionSv1.ProcessCDR, drained into PostgreSQL) as engine.ExternalCDR, filtered,
 * paginated, scoped to the tenant and, for a customer, their own account.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { goDurationString } from '../../src/cgrates-api/cdrs.js';
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
