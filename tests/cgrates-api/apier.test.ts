/**
 * CGRateS's APIerSv1/v2 account and balance methods through POST /jsonrpc on the real Redis, with
 * requests shaped as CGRateS clients send them (apier/v1/accounts.go, apier/v2/accounts.go;
 * utils.AttrSetAccount, AttrGetAccount, AttrAddBalance, AttrSetBalance): the replies a CRM reads
 * back, money exact, idempotency by ActionExtraData.Reference, and refusals that change nothing.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../../src/config.js';
import { testApp } from '../support/app.js';
import { dumpKeys } from '../support/redis-dump.js';
import { testRedis } from '../support/redis.js';
import { rpcClient, type RpcAnswer } from './rpc.js';

const { redis, prefix } = testRedis();
const NOW = Date.parse('2026-11-20T10:00:00Z');
let app: FastifyInstance;
let rpc: ReturnType<typeof rpcClient>;
const B = 'demo-billing';

beforeAll(async () => {
  const keys = [
    ...DEMO_KEYS,
    { key: 'other-billing', role: 'billing' as const, tenant: 'other', name: 'other' },
  ];
  ({ app } = await testApp({
    redis,
    prefix,
    keys,
    now: () => NOW,
    cgrates: { currency: 'GBP', now: () => NOW },
  }));
  rpc = rpcClient(app);
});
afterAll(() => app.close());

const ok = (a: RpcAnswer) => {
  expect(a.error, a.raw).toBeNull();
  expect(a.status).toBe(200);
  return a.result;
};

const getAccount = (account: string, key = B) =>
  rpc(key, 'APIerSv2.GetAccount', { Tenant: 'acme', Account: account });

/** Runs a call that must be refused with `error` (a string or pattern) and checks Redis is untouched. */
async function refusedUnchanged(error: string | RegExp, run: () => Promise<RpcAnswer>) {
  const before = await dumpKeys(redis, prefix);
  const a = await run();
  expect(a.status).toBe(200);
  expect(a.result).toBeNull();
  if (typeof error === 'string') expect(a.error).toBe(error);
  else expect(a.error).toMatch(error);
  expect(await dumpKeys(redis, prefix)).toEqual(before);
}

/** The `*monetary` balance with that id, its Value as written on the wire. */
async function moneyOf(account: string, id: string): Promise<string> {
  const a = await getAccount(account);
  const acct = ok(a) as { BalanceMap: Record<string, { ID: string }[]> };
  const i = acct.BalanceMap['*monetary']!.findIndex((b) => b.ID === id);
  expect(i).toBeGreaterThanOrEqual(0);
  const values = [...a.raw.matchAll(/"Value":(-?[0-9.]+)/g)].map((m) => m[1]);
  // The money balances come first in the reply (BalanceMap key order): the i-th Value is this one.
  return values[i]!;
}

describe('APIerSv1.Ping and the envelope', () => {
  it('answers Pong with the request id', async () => {
    const a = await rpc(B, 'APIerSv1.Ping');
    expect(a).toMatchObject({ status: 200, result: 'Pong', error: null });
    expect(JSON.parse(a.raw)).toEqual({ id: a.id, result: 'Pong', error: null });
  });

  it('answers an unknown service or method as Go net/rpc does', async () => {
    expect((await rpc(B, 'NopeSv1.Ping')).error).toBe("rpc: can't find service NopeSv1.Ping");
    expect((await rpc(B, 'APIerSv1.Nope')).error).toBe("rpc: can't find method APIerSv1.Nope");
    expect((await rpc(B, 'Ping')).error).toBe('rpc: service/method request ill-formed: Ping');
  });

  it('refuses params that are not a one-element array of an object', async () => {
    expect((await rpc(B, 'APIerSv2.GetAccount', undefined, { Account: 'x' })).error).toBe(
      'json: cannot unmarshal object into Go value of type [1]interface {}',
    );
    expect((await rpc(B, 'APIerSv2.GetAccount', undefined, ['x'])).error).toBe(
      'json: cannot unmarshal string into Go value of type struct',
    );
  });
});

describe('accounts', () => {
  it('SetAccount creates once, GetAccount answers the CGRateS engine.Account shape', async () => {
    expect(ok(await rpc(B, 'APIerSv2.SetAccount', { Tenant: 'acme', Account: 'cgr1' }))).toBe('OK');
    expect(ok(await rpc(B, 'APIerSv2.SetAccount', { Tenant: 'acme', Account: 'cgr1' }))).toBe('OK');
    expect(ok(await getAccount('cgr1'))).toEqual({
      ID: 'acme:cgr1',
      BalanceMap: null, // Go's nil map: SetAccount creates none
      UnitCounters: null,
      ActionTriggers: null,
      AllowNegative: false,
      Disabled: false,
      UpdateTime: '0001-01-01T00:00:00Z',
    });
  });

  it('the Tenant defaults to the key’s; an unknown account is NOT_FOUND', async () => {
    expect(ok(await rpc(B, 'APIerSv2.SetAccount', { Account: 'cgr2' }))).toBe('OK');
    expect((ok(await rpc(B, 'APIerSv2.GetAccount', { Account: 'cgr2' })) as { ID: string }).ID).toBe(
      'acme:cgr2',
    );
    expect((await getAccount('nobody')).error).toBe('NOT_FOUND');
    // APIerSv1 names the same calls.
    expect(ok(await rpc(B, 'APIerSv1.SetAccount', { Account: 'cgr2v1' }))).toBe('OK');
    expect((ok(await rpc(B, 'APIerSv1.GetAccount', { Account: 'cgr2v1' })) as { ID: string }).ID).toBe(
      'acme:cgr2v1',
    );
  });

  it('GetAccounts lists the accounts named, paginated', async () => {
    await rpc(B, 'APIerSv2.SetAccount', { Account: 'cgr3' });
    const all = ok(await rpc(B, 'APIerSv2.GetAccounts', { AccountIDs: ['cgr1', 'cgr3', 'nobody'] })) as {
      ID: string;
    }[];
    expect(all.map((a) => a.ID)).toEqual(['acme:cgr1', 'acme:cgr3']);
    const page = ok(
      await rpc(B, 'APIerSv2.GetAccounts', { AccountIDs: ['cgr1', 'cgr3'], Offset: 1, Limit: 1 }),
    );
    expect((page as { ID: string }[]).map((a) => a.ID)).toEqual(['acme:cgr3']);
  });

  it('RemoveAccount: reads answer NOT_FOUND after; its id stays taken', async () => {
    await rpc(B, 'APIerSv2.SetAccount', { Account: 'gone' });
    expect(ok(await rpc(B, 'APIerSv1.RemoveAccount', { Tenant: 'acme', Account: 'gone' }))).toBe('OK');
    expect((await getAccount('gone')).error).toBe('NOT_FOUND');
    await refusedUnchanged('NOT_FOUND', () => rpc(B, 'APIerSv1.RemoveAccount', { Account: 'gone' }));
    await refusedUnchanged(/^NOT_IMPLEMENTED: re-creating a removed account/, () =>
      rpc(B, 'APIerSv1.AddBalance', { Account: 'gone', BalanceType: '*monetary', Value: 1 }),
    );
  });
});

describe('balances', () => {
  it('AddBalance adds a *monetary balance, then tops it up; Value is exact on the wire', async () => {
    const add = (Value: number) =>
      rpc(B, 'APIerSv1.AddBalance', {
        Tenant: 'acme',
        Account: 'money1',
        BalanceType: '*monetary',
        Value,
        Balance: { ID: 'main', Weight: 10 },
      });
    expect(ok(await add(10.1))).toBe('OK'); // a missing account is created, as CGRateS does
    expect(ok(await add(0.2))).toBe('OK');
    // 10.1 + 0.2 in float64 is 10.299999999999999; the engine holds 10.3 exactly.
    expect(await moneyOf('money1', 'main')).toBe('10.3');
    const acct = ok(await getAccount('money1')) as { BalanceMap: Record<string, unknown[]> };
    expect(acct.BalanceMap['*monetary']![0]).toEqual({
      Uuid: 'main',
      ID: 'main',
      Value: 10.3,
      ExpirationDate: '0001-01-01T00:00:00Z',
      Weight: 10,
      DestinationIDs: {},
      RatingSubject: '',
      Categories: {},
      SharedGroups: {},
      Timings: null,
      TimingIDs: {},
      Disabled: false,
      Factor: null,
      Blocker: false,
    });
  });

  it('a *voice bundle with destinations and a +720h expiry, in nanoseconds', async () => {
    const r = await rpc(B, 'APIerSv1.AddBalance', {
      Account: 'voice1',
      BalanceType: '*voice',
      Value: 3600e9,
      Balance: { ID: 'uk-minutes', ExpiryTime: '+720h', DestinationIDs: 'UK_MOBILE;UK_FIXED', Weight: 20 },
    });
    expect(ok(r)).toBe('OK');
    const acct = ok(await getAccount('voice1')) as { BalanceMap: Record<string, unknown[]> };
    expect(acct.BalanceMap['*voice']).toEqual([
      expect.objectContaining({
        ID: 'uk-minutes',
        Value: 3600e9,
        ExpirationDate: new Date(NOW + 720 * 3600e3).toISOString().replace('.000Z', 'Z'),
        DestinationIDs: { UK_MOBILE: true, UK_FIXED: true },
        Weight: 20,
      }),
    ]);
  });

  it('with a Reference, a retried AddBalance credits once, and another body under it is EXISTS', async () => {
    const add = (Value: number, ExpiryTime = '') =>
      rpc(B, 'APIerSv1.AddBalance', {
        Account: 'idem1',
        BalanceType: '*monetary',
        Value,
        Balance: { ID: 'main', ExpiryTime },
        ActionExtraData: { Reference: 'stripe-pi-1' },
      });
    expect(ok(await add(5))).toBe('OK');
    expect(ok(await add(5))).toBe('OK');
    expect(await moneyOf('idem1', 'main')).toBe('5');
    await refusedUnchanged(/^EXISTS: /, () => add(6));
    // A second top-up (the balance exists now) under a new Reference, retried.
    const topUp = () =>
      rpc(B, 'APIerSv1.AddBalance', {
        Account: 'idem1',
        BalanceType: '*monetary',
        Value: 2.5,
        Balance: { ID: 'main' },
        ActionExtraData: { Reference: 'stripe-pi-2' },
      });
    expect(ok(await topUp())).toBe('OK');
    expect(ok(await topUp())).toBe('OK');
    expect(await moneyOf('idem1', 'main')).toBe('7.5');
  });

  it('a retried creating AddBalance with a relative expiry credits once', async () => {
    const add = () =>
      rpc(B, 'APIerSv1.AddBalance', {
        Account: 'idem2',
        BalanceType: '*data',
        Value: 1073741824,
        Balance: { ID: 'gb', ExpiryTime: '+720h' },
        ActionExtraData: { Reference: 'addon-42' },
      });
    expect(ok(await add())).toBe('OK');
    expect(ok(await add())).toBe('OK');
    const acct = ok(await getAccount('idem2')) as { BalanceMap: Record<string, { Value: number }[]> };
    expect(acct.BalanceMap['*data']!.map((b) => b.Value)).toEqual([1073741824]);
  });

  it('without a Reference, a repeated AddBalance credits twice (as CGRateS does)', async () => {
    const add = () => rpc(B, 'APIerSv1.AddBalance', { Account: 'twice', BalanceType: '*monetary', Value: 1 });
    ok(await add());
    ok(await add());
    expect(await moneyOf('twice', '*default')).toBe('2');
  });

  it('DebitBalance takes money off; more than the account has is INSUFFICIENT_CREDIT, nothing moved', async () => {
    await rpc(B, 'APIerSv1.AddBalance', {
      Account: 'debit1',
      BalanceType: '*monetary',
      Value: 3,
      Balance: { ID: 'main' },
    });
    const debit = (Value: number) =>
      rpc(B, 'APIerSv1.DebitBalance', {
        Account: 'debit1',
        BalanceType: '*monetary',
        Value,
        Balance: { ID: 'main' },
      });
    expect(ok(await debit(0.75))).toBe('OK');
    expect(await moneyOf('debit1', 'main')).toBe('2.25');
    await refusedUnchanged('INSUFFICIENT_CREDIT', () => debit(5));
    await refusedUnchanged('NOT_FOUND', () =>
      rpc(B, 'APIerSv1.DebitBalance', { Account: 'nobody', BalanceType: '*monetary', Value: 1 }),
    );
  });

  it('SetBalance creates a balance; RemoveBalances removes it', async () => {
    const set = { Account: 'set1', BalanceType: '*sms', Value: 100, Balance: { ID: 'sms-pack' } };
    expect(ok(await rpc(B, 'APIerSv1.SetBalance', set))).toBe('OK');
    expect(ok(await rpc(B, 'APIerSv2.SetBalance', set))).toBe('OK'); // the same value again: nothing to do
    let acct = ok(await getAccount('set1')) as { BalanceMap: Record<string, { Value: number }[]> };
    expect(acct.BalanceMap['*sms']![0]!.Value).toBe(100);
    expect(ok(await rpc(B, 'APIerSv1.SetBalance', { ...set, Value: 50 }))).toBe('OK'); // balances-more.test.ts
    const remove = { Account: 'set1', BalanceType: '*sms', Balance: { ID: 'sms-pack' } };
    expect(ok(await rpc(B, 'APIerSv1.RemoveBalances', remove))).toBe('OK');
    acct = ok(await getAccount('set1')) as { BalanceMap: Record<string, { Value: number }[]> };
    expect(acct.BalanceMap).toBeNull(); // CGRateS keeps the type's emptied list: {"*sms": []}
    await refusedUnchanged('NOT_FOUND', () => rpc(B, 'APIerSv1.RemoveBalances', remove));
  });
});

describe('bad input: a CGRateS error string, never SERVER_ERROR, nothing changed', () => {
  const add = (over: object) => () =>
    rpc(B, 'APIerSv1.AddBalance', { Account: 'bad1', BalanceType: '*monetary', Value: 1, ...over });

  it.each([
    ['no Account', { Account: '' }, 'MANDATORY_IE_MISSING: [Account]'],
    [
      'neither Account nor BalanceType',
      { Account: '', BalanceType: '' },
      'MANDATORY_IE_MISSING: [Account BalanceType]',
    ],
    [
      'a string Value',
      { Value: '10' },
      'json: cannot unmarshal string into Go struct field AttrAddBalance.Value of type float64',
    ],
    ['10 decimals', { Value: 0.0000000001 }, /^NOT_CONVERTIBLE: Value 1e-10 has more than 9 decimals/],
    ['too large', { Value: 1e10 }, /^NOT_CONVERTIBLE: Value 10000000000 is too large/],
    ['an unknown BalanceType', { BalanceType: '*gold' }, 'UNSUPPORTED_FORMAT: BalanceType *gold'],
    ['a bad expiry', { Balance: { ExpiryTime: 'tomorrow' } }, 'UNSUPPORTED_FORMAT: ExpiryTime: tomorrow'],
    [
      'a bad duration',
      { Balance: { ExpiryTime: '+3 days' } },
      /^UNSUPPORTED_FORMAT: ExpiryTime: time: invalid duration/,
    ],
    [
      'a Weight string',
      { Balance: { Weight: 'x' } },
      /cannot unmarshal string into Go struct field Balance.Weight of type float64/,
    ],
    ['Overwrite with a negative Value', { Overwrite: true, Value: -1 }, /^NOT_IMPLEMENTED: a negative Value/],
    ['a tenant the key does not own', { Tenant: 'other' }, 'UNAUTHORIZED_API'],
  ])('%s', async (_what, over, error) => {
    await refusedUnchanged(error, add(over));
  });

  it('a Value written with 20 decimals on the wire is refused, never rounded', async () => {
    const payload =
      '{"method":"APIerSv1.AddBalance","params":[{"Account":"bad1","BalanceType":"*monetary",' +
      '"Value":0.12345678901234567890}],"id":7}';
    await refusedUnchanged(
      /^NOT_CONVERTIBLE: Value 0\.12345678901234568 has more than 9 decimals/,
      async () => {
        const r = await app.inject({
          method: 'POST',
          url: '/jsonrpc',
          headers: { authorization: `Bearer ${B}`, 'content-type': 'application/json' },
          payload,
        });
        return { status: r.statusCode, raw: r.body, ...(r.json() as Omit<RpcAnswer, 'status' | 'raw'>) };
      },
    );
  });

  it('a SetAccount feature not offered is NOT_IMPLEMENTED, and creates nothing', async () => {
    await refusedUnchanged(/^NOT_IMPLEMENTED: /, () =>
      rpc(B, 'APIerSv2.SetAccount', { Account: 'bad2', ActionPlanIDs: ['PACKAGE_1'] }),
    );
    await refusedUnchanged(/^NOT_IMPLEMENTED: /, () =>
      rpc(B, 'APIerSv2.SetAccount', { Account: 'bad2', ExtraOptions: { AllowNegative: true } }),
    );
  });
});
