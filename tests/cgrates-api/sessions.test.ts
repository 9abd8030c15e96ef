/**
 * SessionSv1 through /jsonrpc onto the engine's sessions and events, with the argument shapes of
 * CGRateS's sessions/sessions.go (V1AuthorizeArgs, V1InitSessionArgs, V1UpdateSessionArgs,
 * V1TerminateSessionArgs: flags beside an embedded utils.CGREvent {Tenant, ID, Event}): a call
 * charged as POST /v1/rating/price prices it, retries by RequestNumber and CDR OriginID once.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../support/app.js';
import { testRedis } from '../support/redis.js';
import { rpcClient } from './rpc.js';

const { redis, prefix } = testRedis();
const NOW = Date.parse('2026-11-20T10:15:00Z');
let app: FastifyInstance;
let rpc: ReturnType<typeof rpcClient>;
const N = 'demo-network';

beforeAll(async () => {
  ({ app } = await testApp({ redis, prefix, now: () => NOW, cgrates: { currency: 'GBP', now: () => NOW } }));
  rpc = rpcClient(app);
});
afterAll(() => app.close());

const fund = (Account: string, Value: number) =>
  rpc('demo-billing', 'APIerSv1.AddBalance', {
    Account,
    BalanceType: '*monetary',
    Value,
    Balance: { ID: 'main' },
  });

async function money(Account: string): Promise<number> {
  const a = await rpc('demo-billing', 'APIerSv2.GetAccount', { Account });
  return (a.result as { BalanceMap: Record<string, { Value: number }[]> }).BalanceMap['*monetary']![0]!.Value;
}

const event = (Account: string, OriginID: string, more: object = {}) => ({
  Account,
  Destination: '+442071234567',
  OriginID,
  OriginHost: 'fs1',
  ToR: '*voice',
  RequestType: '*prepaid',
  AnswerTime: '2026-11-20T10:15:00Z',
  ...more,
});

describe('a call through SessionSv1', () => {
  it('initiate grants, update charges LastUsed, terminate settles the whole call at the tariff price', async () => {
    expect((await fund('sess1', 10)).error).toBeNull();
    const init = await rpc(N, 'SessionSv1.InitiateSession', {
      InitSession: true,
      Tenant: 'acme',
      ID: 'ev-1',
      Event: event('sess1', 'call-1', { Usage: 60e9 }),
    });
    expect(init.error, init.raw).toBeNull();
    expect(init.result).toMatchObject({ MaxUsage: 60e9 });
    const upd = await rpc(N, 'SessionSv1.UpdateSession', {
      UpdateSession: true,
      Event: event('sess1', 'call-1', { Usage: '1m', LastUsed: '50s' }),
    });
    expect(upd.error, upd.raw).toBeNull();
    expect(upd.result).toMatchObject({ MaxUsage: 60e9 });
    const end = await rpc(N, 'SessionSv1.TerminateSession', {
      TerminateSession: true,
      Event: event('sess1', 'call-1', { Usage: '95s' }),
    });
    expect(end.error, end.raw).toBeNull();
    expect(end.result).toBe('OK');
    // 95 s to UK_FIXED at peak: 0.2084, as the price enquiry says (tests/http/app.test.ts).
    expect(await money('sess1')).toBe(9.7916);
    // The session is over: a terminate again (no RequestNumber) finds none and charges nothing.
    const again = await rpc(N, 'SessionSv1.TerminateSession', {
      TerminateSession: true,
      Event: event('sess1', 'call-1', { Usage: '95s' }),
    });
    expect(again.error).toBe('NOT_FOUND');
    expect(await money('sess1')).toBe(9.7916);
  });

  it('with RequestNumber in the event, a retried update and terminate charge once', async () => {
    await fund('sess2', 10);
    await rpc(N, 'SessionSv1.InitiateSession', {
      InitSession: true,
      Event: event('sess2', 'call-2', { Usage: '60s' }),
    });
    const update = () =>
      rpc(N, 'SessionSv1.UpdateSession', {
        UpdateSession: true,
        Event: event('sess2', 'call-2', { Usage: '60s', LastUsed: '60s', RequestNumber: 1 }),
      });
    expect((await update()).result).toMatchObject({ MaxUsage: 60e9 });
    expect((await update()).result).toMatchObject({ MaxUsage: 60e9 });
    const terminate = () =>
      rpc(N, 'SessionSv1.TerminateSession', {
        TerminateSession: true,
        Event: event('sess2', 'call-2', { LastUsed: '35s', RequestNumber: 2 }),
      });
    expect((await terminate()).result).toBe('OK');
    expect((await terminate()).result).toBe('OK');
    expect(await money('sess2')).toBe(9.7916);
  });

  it('an account without money: initiate is INSUFFICIENT_CREDIT and opens nothing', async () => {
    await rpc('demo-billing', 'APIerSv2.SetAccount', { Account: 'broke' });
    const init = await rpc(N, 'SessionSv1.InitiateSession', {
      InitSession: true,
      Event: event('broke', 'call-3', { Usage: '60s' }),
    });
    expect(init.error).toBe('INSUFFICIENT_CREDIT');
    const upd = await rpc(N, 'SessionSv1.UpdateSession', {
      UpdateSession: true,
      Event: event('broke', 'call-3'),
    });
    expect(upd.error).toBe('NOT_FOUND');
  });

  it('an unknown Account is ACCOUNT_NOT_FOUND; no OriginID is MANDATORY_IE_MISSING', async () => {
    const init = await rpc(N, 'SessionSv1.InitiateSession', {
      InitSession: true,
      Event: event('nobody', 'call-4', { Usage: '60s' }),
    });
    expect(init.error).toBe('ACCOUNT_NOT_FOUND');
    const bad = await rpc(N, 'SessionSv1.InitiateSession', {
      InitSession: true,
      Event: { Account: 'sess1' },
    });
    expect(bad.error).toBe('MANDATORY_IE_MISSING: [OriginID]');
  });
});

describe('AuthorizeEvent and ProcessCDR', () => {
  it('AuthorizeEvent: MaxUsage is the usage asked when the balances pay it, else 0; nothing moves', async () => {
    await fund('auth1', 1);
    const ok = await rpc(N, 'SessionSv1.AuthorizeEvent', {
      GetMaxUsage: true,
      Event: event('auth1', 'a-1', { Usage: '5m' }),
    });
    expect(ok.result).toMatchObject({ MaxUsage: 300e9 });
    const tooLong = await rpc(N, 'SessionSv1.AuthorizeEvent', {
      GetMaxUsage: true,
      Event: event('auth1', 'a-2', { Usage: '48h' }),
    });
    expect(tooLong.result).toMatchObject({ MaxUsage: 0 });
    expect(await money('auth1')).toBe(1);
  });

  it('GetMaxUsage: the seconds the money pays at the tariff, in nanoseconds; nothing moves', async () => {
    await fund('max1', 1);
    const rec = {
      ToR: '*voice',
      Account: 'max1',
      Destination: '+442071234567',
      AnswerTime: '2026-11-20T10:15:00Z',
    };
    // 5p to connect and 10p a minute (the first minute whole): £1 pays 60 s + 0.85 / (0.10 / 60 s) = 570 s.
    const a = await rpc(N, 'APIerSv1.GetMaxUsage', { ...rec, Usage: '3h' });
    expect(a.error, a.raw).toBeNull();
    expect(a.result).toBe(570e9);
    expect((await rpc(N, 'APIerSv1.GetMaxUsage', { ...rec, Usage: '2m' })).result).toBe(120e9);
    const cd = {
      Account: 'max1',
      Destination: '+442071234567',
      TimeStart: '2026-11-20T10:15:00Z',
      TimeEnd: '2026-11-20T13:15:00Z',
    };
    expect((await rpc(N, 'APIerSv1.GetMaxSessionTime', cd)).result).toBe(570e9);
    expect(await money('max1')).toBe(1);
    expect((await rpc(N, 'APIerSv1.GetMaxUsage', { ...rec, Account: 'nobody' })).error).toBe('NOT_FOUND');
  });

  it('ProcessCDR charges a CDR once per OriginID', async () => {
    await fund('cdr1', 10);
    const cdr = () =>
      rpc(N, 'SessionSv1.ProcessCDR', { Tenant: 'acme', Event: event('cdr1', 'cdr-1', { Usage: '95s' }) });
    expect((await cdr()).result).toBe('OK');
    expect((await cdr()).result).toBe('OK');
    expect(await money('cdr1')).toBe(9.7916);
    const other = await rpc(N, 'SessionSv1.ProcessCDR', { Event: event('cdr1', 'cdr-1', { Usage: '96s' }) });
    expect(other.error).toMatch(/^EXISTS: /);
    expect(await money('cdr1')).toBe(9.7916);
  });

  it('a customer key may not charge', async () => {
    const a = await rpc('demo-selfcare-alice', 'SessionSv1.ProcessCDR', {
      Event: event('alice', 'cdr-9', { Usage: '1s' }),
    });
    expect(a.error).toBe('UNAUTHORIZED_API');
  });
});
