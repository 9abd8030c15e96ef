/**
 * SessionSv1.GetActiveSessions and ForceDisconnect with utils.SessionFilter: the engine's open
 * sessions as sessions.ExternalSession, per tenant, filtered by inline rules; a forced disconnect
 * ends matching sessions through the engine's terminate (what was reported charged, reservations
 * released, the same money as a switch's own terminate), once.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../../src/config.js';
import { testApp } from '../support/app.js';
import { testRedis } from '../support/redis.js';
import { EXTERNAL_SESSION, shapeErrors } from './cgr-shapes.js';
import { rpcClient } from './rpc.js';

const { redis, prefix } = testRedis();
const NOW = Date.parse('2026-11-20T10:15:00Z');
let app: FastifyInstance;
let rpc: ReturnType<typeof rpcClient>;
const B = 'demo-billing';
const N = 'demo-network';
const OTHER_N = { key: 'other-network', role: 'network' as const, tenant: 'other', name: 'other network' };

beforeAll(async () => {
  ({ app } = await testApp({
    redis,
    prefix,
    keys: [...DEMO_KEYS, OTHER_N],
    now: () => NOW,
    cgrates: { currency: 'GBP', now: () => NOW },
  }));
  rpc = rpcClient(app);
  for (const Account of ['as-a', 'as-b', 'as-c'])
    await rpc(B, 'APIerSv1.AddBalance', {
      Account,
      BalanceType: '*monetary',
      Value: 10,
      Balance: { ID: 'main' },
    });
  await start('as-a', 'call-a1', 'fs1');
  await start('as-a', 'call-a2', '');
  await start('as-b', 'call-b1', 'fs2');
});
afterAll(() => app.close());

const event = (Account: string, OriginID: string, OriginHost: string, more: object = {}) => ({
  Account,
  Destination: '+442071234567',
  OriginID,
  ...(OriginHost ? { OriginHost } : {}),
  ToR: '*voice',
  RequestType: '*prepaid',
  AnswerTime: '2026-11-20T10:15:00Z',
  ...more,
});

async function start(Account: string, id: string, host: string) {
  const r = await rpc(N, 'SessionSv1.InitiateSession', {
    InitSession: true,
    Event: event(Account, id, host, { Usage: '60s' }),
  });
  expect(r.error, r.raw).toBeNull();
}

async function money(Account: string): Promise<number> {
  const a = await rpc(B, 'APIerSv2.GetAccount', { Account });
  return (a.result as { BalanceMap: Record<string, { Value: number }[]> }).BalanceMap['*monetary']![0]!.Value;
}

type Ext = Record<string, unknown>;
const active = async (arg: object = {}, key = N) => rpc(key, 'SessionSv1.GetActiveSessions', arg);

describe('SessionSv1.GetActiveSessions', () => {
  it('lists the tenant open sessions as ExternalSession, in OriginID order', async () => {
    const r = await active();
    expect(r.error, r.raw).toBeNull();
    const list = r.result as Ext[];
    expect(shapeErrors(list, [EXTERNAL_SESSION])).toEqual([]);
    expect(list.map((s) => [s.OriginID, s.OriginHost, s.Account])).toEqual([
      ['call-a1', 'fs1', 'as-a'],
      ['call-a2', '', 'as-a'],
      ['call-b1', 'fs2', 'as-b'],
    ]);
    expect(list[0]).toMatchObject({
      CGRID: createHash('sha1').update('call-a1fs1').digest('hex'),
      RunID: '*default',
      ToR: '*voice',
      Tenant: 'acme',
      RequestType: '*prepaid',
      SetupTime: '2026-11-20T10:15:00Z',
      AnswerTime: '2026-11-20T10:15:00Z',
      Usage: 0,
      NextAutoDebit: '0001-01-01T00:00:00Z',
    });
  });

  it('filters by inline rules (all must pass) and Limit; billing may read too', async () => {
    const ids = async (arg: object, key = N) =>
      ((await active(arg, key)).result as Ext[]).map((s) => s.OriginID);
    expect(await ids({ Filters: ['*string:~*req.Account:as-a'] })).toEqual(['call-a1', 'call-a2']);
    expect(await ids({ Filters: ['*string:~Account:as-a', '*exists:~*req.OriginHost:'] })).toEqual([
      'call-a1',
    ]);
    expect(await ids({ Filters: ['*prefix:~*req.OriginID:call-b;call-a2'] })).toEqual(['call-a2', 'call-b1']);
    expect(await ids({ Filters: ['*notstring:~*req.Account:as-a'] })).toEqual(['call-b1']);
    expect(await ids({ Limit: 2 })).toEqual(['call-a1', 'call-a2']);
    expect(await ids({ Tenant: 'acme', Limit: 1 }, B)).toEqual(['call-a1']);
  });

  it('none matching is NOT_FOUND; other tenants see none of these; refusals are CGRateS errors', async () => {
    expect((await active({ Filters: ['*string:~*req.Account:nobody'] })).error).toBe('NOT_FOUND');
    expect((await active({}, OTHER_N.key)).error).toBe('NOT_FOUND');
    expect((await active({ Tenant: 'other' })).error).toBe('UNAUTHORIZED_API');
    expect((await active({}, 'demo-selfcare-alice')).error).toBe('UNAUTHORIZED_API');
    expect((await active({ Filters: ['*gt:~*req.Usage:10'] })).error).toBe(
      'NOT_IMPLEMENTED: filter type *gt',
    );
    expect((await active({ Filters: ['FLTR_ACC'] })).error).toMatch(/^NOT_IMPLEMENTED: filter profiles/);
    expect((await active({ Filters: ['*string:Account'] })).error).toBe(
      'UNSUPPORTED_FORMAT: Filters: *string:Account',
    );
    expect((await active({ Limit: '1' })).error).toBe(
      'json: cannot unmarshal string into Go struct field SessionFilter.Limit of type int',
    );
  });
});

describe('SessionSv1.ForceDisconnect', () => {
  it('ends the matching session as a terminate would: what was reported is charged, once', async () => {
    // The same call on as-c, ended by the switch itself, for the money to compare with.
    await start('as-c', 'call-c1', 'fs1');
    const used = (acct: string, id: string) =>
      rpc(N, 'SessionSv1.UpdateSession', {
        UpdateSession: true,
        Event: event(acct, id, 'fs1', { Usage: '60s', LastUsed: '50s' }),
      });
    expect((await used('as-a', 'call-a1')).error).toBeNull();
    expect((await used('as-c', 'call-c1')).error).toBeNull();
    const seen = ((await active({ Filters: ['*string:~*req.OriginID:call-a1'] })).result as Ext[])[0]!;
    expect(seen.Usage).toBe(50e9);
    const end = await rpc(N, 'SessionSv1.TerminateSession', {
      TerminateSession: true,
      Event: event('as-c', 'call-c1', 'fs1', { Usage: '50s' }),
    });
    expect(end.result).toBe('OK');

    const force = () => rpc(N, 'SessionSv1.ForceDisconnect', { Filters: ['*string:~*req.OriginID:call-a1'] });
    expect((await force()).result).toBe('OK');
    expect(await money('as-a')).toBe(await money('as-c'));
    expect(await money('as-a')).toBeLessThan(10);
    // Gone from the list, the reservation released: the engine's own view says closed.
    const native = await app.inject({
      method: 'GET',
      url: '/v1/sessions/call-a1@fs1',
      headers: { authorization: `Bearer ${N}` },
    });
    expect(native.json()).toMatchObject({ state: 'closed', groups: { '100': { reservationId: null } } });
    const before = await money('as-a');
    expect((await force()).error).toBe('NOT_FOUND');
    expect(await money('as-a')).toBe(before);
    // The switch's next update learns the session is over.
    expect((await used('as-a', 'call-a1')).error).toBe('NOT_FOUND');
  });

  it('ends every session that matches; another tenant ends none of ours', async () => {
    expect((await rpc(OTHER_N.key, 'SessionSv1.ForceDisconnect', {})).error).toBe('NOT_FOUND');
    expect(
      (await rpc(B, 'SessionSv1.ForceDisconnect', { Filters: ['*string:~*req.Account:as-a;as-b'] })).result,
    ).toBe('OK');
    expect((await active()).error).toBe('NOT_FOUND');
    // Nothing was reported on these: nothing charged.
    expect(await money('as-b')).toBe(10);
  });
});
