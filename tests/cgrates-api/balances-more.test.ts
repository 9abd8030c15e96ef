/**
 * SetBalance (v1, v2) on an existing balance and AddBalance with Overwrite, on `*topup_reset`'s path,
 * and GetCost of data, SMS and generic events (the price POST /v1/rating/price gives),
 * through POST /jsonrpc on the real Redis and PostgreSQL: the effect on GetAccount, a replay with the
 * same Reference moving nothing again, and refusals (a balance an open session holds part of, another
 * type, a negative Value) changing nothing.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../../src/config.js';
import { priceEvent } from '../../src/rating/price.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { dumpKeys } from '../support/redis-dump.js';
import { testRedis } from '../support/redis.js';
import { dumpTables } from './pg-dump.js';
import { rpcClient, type RpcAnswer } from './rpc.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const NOW = Date.parse('2026-11-20T10:00:00Z');
let app: FastifyInstance;
let rpc: ReturnType<typeof rpcClient>;
let tariff: Awaited<ReturnType<typeof testApp>>['tariff'];
const B = 'demo-billing';

beforeAll(async () => {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  ({ app, tariff } = await testApp({
    redis,
    prefix,
    keys: DEMO_KEYS,
    now: () => NOW,
    cgrates: { currency: 'GBP', now: () => NOW, store: { pool, schema } },
  }));
  rpc = rpcClient(app);
});
afterAll(() => app.close());

async function ok(method: string, arg: object) {
  const r = await rpc(B, method, arg);
  expect(r.error, `${method} ${r.raw}`).toBeNull();
  return r.result;
}

/** Runs a call that must be refused with `error` and checks Redis and PostgreSQL are untouched. */
async function refusedUnchanged(error: RegExp, run: () => Promise<RpcAnswer>) {
  const before = [await dumpKeys(redis, prefix), await dumpTables(pool, schema)];
  const a = await run();
  expect(a.result).toBeNull();
  expect(a.error).toMatch(error);
  expect([await dumpKeys(redis, prefix), await dumpTables(pool, schema)]).toEqual(before);
}

interface Bal {
  ID: string;
  Value: number;
  Weight: number;
  ExpirationDate: string;
  Categories: Record<string, boolean>;
}
const balancesOf = async (Account: string, type: string) =>
  ((await ok('APIerSv2.GetAccount', { Account })) as { BalanceMap: Record<string, Bal[]> }).BalanceMap[
    type
  ] ?? [];
const values = async (Account: string, type: string) =>
  Object.fromEntries((await balancesOf(Account, type)).map((b) => [b.ID, b.Value]));
const add = (Account: string, BalanceType: string, Value: number, ID: string) =>
  ok('APIerSv1.AddBalance', { Account, BalanceType, Value, Balance: { ID } });
const set = (method: string, Account: string, BalanceType: string, Value: number, over: object = {}) =>
  rpc(B, method, { Account, BalanceType, Value, Balance: { ID: 'main' }, ...over });
const withRef = (Reference: string) => ({ ActionExtraData: { Reference } });

describe('SetBalance on an existing balance', () => {
  it('sets the Value up and down (v1 and v2); a replay with the same Reference moves nothing', async () => {
    await add('s1', '*monetary', 2, 'main');
    expect((await set('APIerSv1.SetBalance', 's1', '*monetary', 7.5, withRef('up'))).result).toBe('OK');
    expect(await values('s1', '*monetary')).toEqual({ main: 7.5 });
    expect((await set('APIerSv2.SetBalance', 's1', '*monetary', 1.25, withRef('down'))).result).toBe('OK');
    expect(await values('s1', '*monetary')).toEqual({ main: 1.25 });
    // Spent, then both calls again with their References: nothing moves.
    await add('s1', '*monetary', -0.25, 'main');
    for (const [v, ref] of [
      [7.5, 'up'],
      [1.25, 'down'],
    ] as const)
      expect((await set('APIerSv1.SetBalance', 's1', '*monetary', v, withRef(ref))).result).toBe('OK');
    expect(await values('s1', '*monetary')).toEqual({ main: 1 });
    // A new Reference sets it again.
    expect((await set('APIerSv1.SetBalance', 's1', '*monetary', 3, withRef('again'))).result).toBe('OK');
    expect(await values('s1', '*monetary')).toEqual({ main: 3 });
  });

  it('sets a unit balance and the settings the Balance names, keeping the others', async () => {
    await ok('APIerSv1.AddBalance', {
      Account: 's2',
      BalanceType: '*data',
      Value: 1000,
      Balance: { ID: 'main', Weight: 5, Categories: 'data' },
    });
    const to = { Balance: { ID: 'main', Weight: 20, ExpiryTime: '2027-01-01T00:00:00Z' } };
    expect((await set('APIerSv2.SetBalance', 's2', '*data', 500, { ...to, ...withRef('d') })).result).toBe(
      'OK',
    );
    const [b] = await balancesOf('s2', '*data');
    expect(b).toMatchObject({ ID: 'main', Value: 500, Weight: 20, ExpirationDate: '2027-01-01T00:00:00Z' });
    expect(b!.Categories).toEqual({ data: true });
  });

  it('creates a missing balance (and account) at the Value', async () => {
    expect((await set('APIerSv1.SetBalance', 's3', '*sms', 100, withRef('n'))).result).toBe('OK');
    expect(await values('s3', '*sms')).toEqual({ main: 100 });
    expect((await set('APIerSv1.SetBalance', 's3', '*sms', 100, withRef('n'))).result).toBe('OK');
    expect(await values('s3', '*sms')).toEqual({ main: 100 });
  });

  it('refuses, changing nothing: another type, a negative Value, SharedGroups', async () => {
    await add('s4', '*monetary', 2, 'main');
    await refusedUnchanged(/^UNSUPPORTED_FORMAT: balance main is not of type sms/, () =>
      set('APIerSv1.SetBalance', 's4', '*sms', 5),
    );
    await refusedUnchanged(/^NOT_IMPLEMENTED: a negative Value/, () =>
      set('APIerSv1.SetBalance', 's4', '*monetary', -1),
    );
    await refusedUnchanged(/^NOT_IMPLEMENTED: Balance.SharedGroups/, () =>
      set('APIerSv1.SetBalance', 's4', '*monetary', 1, { Balance: { ID: 'main', SharedGroups: 'g' } }),
    );
    await refusedUnchanged(/^NOT_IMPLEMENTED: Overwrite/, () =>
      set('APIerSv1.SetBalance', 's4', '*monetary', 1, { Overwrite: true }),
    );
  });

  it('does not lower a balance an open session holds part of (nothing changed); raising it is fine', async () => {
    await add('held2', '*monetary', 10, 'main');
    const init = await rpc('demo-network', 'SessionSv1.InitiateSession', {
      InitSession: true,
      ID: 'ev-held2',
      Event: {
        Account: 'held2',
        Destination: '+442071234567',
        OriginID: 'call-held2',
        OriginHost: 'fs1',
        ToR: '*voice',
        RequestType: '*prepaid',
        AnswerTime: '2026-11-20T10:00:00Z',
        Usage: 60e9,
      },
    });
    expect(init.error, init.raw).toBeNull();
    await refusedUnchanged(/^NOT_IMPLEMENTED: lowering balance main/, () =>
      set('APIerSv1.SetBalance', 'held2', '*monetary', 0.01, {
        ...withRef('low'),
        Balance: { ID: 'main', Weight: 9 },
      }),
    );
    expect((await set('APIerSv1.SetBalance', 'held2', '*monetary', 20, withRef('high'))).result).toBe('OK');
    expect(await values('held2', '*monetary')).toEqual({ main: 20 });
    // Removing it while the session holds part of it: refused as the caller's doing, not SERVER_ERROR.
    await refusedUnchanged(/^RESOURCE_UNAVAILABLE: RESERVATION_EXISTS/, () =>
      rpc('demo-billing', 'APIerSv1.RemoveBalances', {
        Account: 'held2',
        BalanceType: '*monetary',
        Balance: { ID: 'main' },
      }),
    );
  });
});

describe('AddBalance with Overwrite', () => {
  it('sets the balance to the Value instead of adding; once per Reference', async () => {
    await add('o1', '*voice', 60e9, 'main');
    const over = { Overwrite: true, ...withRef('ow') };
    expect((await set('APIerSv1.AddBalance', 'o1', '*voice', 300e9, over)).result).toBe('OK');
    expect(await values('o1', '*voice')).toEqual({ main: 300e9 });
    await ok('APIerSv1.AddBalance', {
      Account: 'o1',
      BalanceType: '*voice',
      Value: 10e9,
      Balance: { ID: 'main' },
    });
    expect((await set('APIerSv1.AddBalance', 'o1', '*voice', 300e9, over)).result).toBe('OK');
    expect(await values('o1', '*voice')).toEqual({ main: 310e9 });
    expect((await set('APIerSv1.AddBalance', 'o1', '*voice', 0, { Overwrite: true })).result).toBe('OK');
    expect(await values('o1', '*voice')).toEqual({ main: 0 });
    await refusedUnchanged(/^NOT_IMPLEMENTED: a negative Value/, () =>
      set('APIerSv1.AddBalance', 'o1', '*voice', -1, { Overwrite: true }),
    );
  });
});

describe('a Reference reused with another body', () => {
  it('SetBalance (v1, v2): EXISTS, nothing changed; the same body again is OK', async () => {
    const first = { ...withRef('once'), Balance: { ID: 'main', Weight: 10, ExpiryTime: '+720h' } };
    expect((await set('APIerSv1.SetBalance', 'x1', '*monetary', 5, first)).result).toBe('OK');
    await add('x1', '*monetary', -1, 'main');
    const others: [string, number, object][] = [
      ['APIerSv1.SetBalance', 6, first],
      ['APIerSv2.SetBalance', 6, first],
      ['APIerSv1.SetBalance', 5, { ...first, Balance: { ID: 'main', Weight: 11, ExpiryTime: '+720h' } }],
      ['APIerSv1.SetBalance', 5, { ...first, Balance: { ID: 'main', Weight: 10 } }],
      ['APIerSv1.SetBalance', 5, { ...first, Balance: { ID: 'other', Weight: 10, ExpiryTime: '+720h' } }],
    ];
    for (const [method, v, over] of others)
      await refusedUnchanged(/^EXISTS: the Reference was used for another request/, () =>
        set(method, 'x1', '*monetary', v, over),
      );
    await refusedUnchanged(/^EXISTS/, () => set('APIerSv1.SetBalance', 'x1', '*sms', 5, first));
    // The same body (v1 or v2, a relative expiry as sent): its first answer, nothing moved.
    for (const method of ['APIerSv1.SetBalance', 'APIerSv2.SetBalance'])
      expect((await set(method, 'x1', '*monetary', 5, first)).result).toBe('OK');
    expect(await values('x1', '*monetary')).toEqual({ main: 4 });
  });

  it('two SetBalance bodies racing under one Reference: exactly one sets, the other is EXISTS', async () => {
    const accounts = Array.from({ length: 20 }, (_, i) => `xr${i}`);
    const pairs = await Promise.all(
      accounts.map((a) =>
        Promise.all([5, 7].map((v) => set('APIerSv1.SetBalance', a, '*monetary', v, withRef('race')))),
      ),
    );
    for (const [i, pair] of pairs.entries()) {
      const won = pair.findIndex((r) => r.result === 'OK');
      expect(pair.filter((r) => r.result === 'OK')).toHaveLength(1);
      expect(pair[1 - won]!.error).toMatch(/^EXISTS: the Reference was used for another request/);
      expect(await values(accounts[i]!, '*monetary')).toEqual({ main: [5, 7][won] });
    }
  });

  it('a refused SetBalance under a Reference leaves no claim: another body may use it', async () => {
    await add('xf', '*monetary', 2, 'main');
    await refusedUnchanged(/^UNSUPPORTED_FORMAT: balance main is not of type sms/, () =>
      set('APIerSv1.SetBalance', 'xf', '*sms', 5, withRef('free')),
    );
    expect((await set('APIerSv1.SetBalance', 'xf', '*monetary', 5, withRef('free'))).result).toBe('OK');
    expect(await values('xf', '*monetary')).toEqual({ main: 5 });
  });

  it('AddBalance with Overwrite: EXISTS, nothing changed', async () => {
    const over = { Overwrite: true, ...withRef('ow-x') };
    expect((await set('APIerSv1.AddBalance', 'x2', '*voice', 300e9, over)).result).toBe('OK');
    await refusedUnchanged(/^EXISTS: the Reference was used for another request/, () =>
      set('APIerSv1.AddBalance', 'x2', '*voice', 200e9, over),
    );
    expect((await set('APIerSv1.AddBalance', 'x2', '*voice', 300e9, over)).result).toBe('OK');
    expect(await values('x2', '*voice')).toEqual({ main: 300e9 });
  });

  it('a profile named as the balance calls once were shares no runs with them', async () => {
    for (const id of ['cgr:setbalance', 'cgr:addbalance'])
      await ok('APIerSv2.SetActions', {
        ActionsId: id,
        Actions: [{ Identifier: '*topup', BalanceId: 'main', BalanceType: '*monetary', Units: '1' }],
      });
    // The balance call first, then the profile under the same Reference: the profile runs.
    expect((await set('APIerSv1.SetBalance', 'x3', '*monetary', 5, withRef('shared'))).result).toBe('OK');
    expect(
      (
        await rpc(B, 'APIerSv1.ExecuteAction', {
          Account: 'x3',
          ActionsId: 'cgr:setbalance',
          Reference: 'shared',
        })
      ).result,
    ).toBe('OK');
    expect(await values('x3', '*monetary')).toEqual({ main: 6 });
    // The profile first, then the balance call: the balance is set.
    expect(
      (
        await rpc(B, 'APIerSv1.ExecuteAction', {
          Account: 'x3',
          ActionsId: 'cgr:addbalance',
          Reference: 'ow',
        })
      ).result,
    ).toBe('OK');
    expect(await values('x3', '*monetary')).toEqual({ main: 7 });
    const over = { Overwrite: true, ...withRef('ow') };
    expect((await set('APIerSv1.AddBalance', 'x3', '*monetary', 2, over)).result).toBe('OK');
    expect(await values('x3', '*monetary')).toEqual({ main: 2 });
    // SetBalance and AddBalance's Overwrite: their own namespaces too.
    expect((await set('APIerSv1.SetBalance', 'x3', '*monetary', 3, withRef('ow'))).result).toBe('OK');
    expect(await values('x3', '*monetary')).toEqual({ main: 3 });
  });
});

describe('GetCost beyond voice', () => {
  const at = '2026-11-20T10:15:00Z';
  const native = (tor: string, category: string, destination: string, usage: number) => {
    const out = priceEvent(tariff.current(), {
      tenant: 'acme',
      category,
      subject: '447700900001',
      destination,
      answerTime: at,
      usage,
      tor,
    });
    if (!out.ok) throw new Error(out.error.message);
    return Number(out.price.cost);
  };
  const cost = (over: object) =>
    rpc('demo-network', 'APIerSv1.GetCost', {
      Tenant: 'acme',
      Subject: '447700900001',
      AnswerTime: at,
      ...over,
    });

  it('prices *data (bytes) and *sms (messages) as the native price does; ToR top-level or in APIOpts', async () => {
    const data = await cost({ Category: 'data', ToR: '*data', Usage: '52428800' });
    expect(data.error, data.raw).toBeNull();
    expect(data.result).toMatchObject({ Usage: 52428800, Cost: native('data', 'data', '', 52428800) });
    const sms = await cost({
      Category: 'sms',
      Destination: '+447911123456',
      Usage: '3',
      APIOpts: { ToR: '*sms' },
    });
    expect(sms.error, sms.raw).toBeNull();
    expect(sms.result).toMatchObject({ Usage: 3, Cost: native('sms', 'sms', '+447911123456', 3) });
    expect((sms.result as { Cost: number }).Cost).toBeGreaterThan(0);
  });

  it('refuses a duration Usage for data, an unknown ToR, and an SMS without Destination', async () => {
    expect((await cost({ Category: 'data', ToR: '*data', Usage: '1m' })).error).toMatch(
      /^UNSUPPORTED_FORMAT: Usage: a whole number of bytes/,
    );
    expect((await cost({ Category: 'data', ToR: '*video', Usage: '1' })).error).toBe(
      'UNSUPPORTED_FORMAT: ToR *video',
    );
    expect((await cost({ Category: 'sms', ToR: '*sms', Usage: '1' })).error).toBe(
      'MANDATORY_IE_MISSING: [Destination]',
    );
  });
});
