/**
 * Action profiles as an OmniCRM-style CRM uses them: APIerSv2.SetActions with utils.TPAction
 * entries (Units as a string in v2), APIerSv1.ExecuteAction to sell an add-on once per Reference,
 * GetActions / RemoveActions, on the real Redis and PostgreSQL, per tenant.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../../src/config.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import { rpcClient } from './rpc.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const NOW = Date.parse('2026-11-20T10:00:00Z');
let app: FastifyInstance;
let rpc: ReturnType<typeof rpcClient>;
const B = 'demo-billing';
const OTHER = { key: 'other-billing', role: 'billing' as const, tenant: 'other', name: 'other tenant' };

beforeAll(async () => {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  ({ app } = await testApp({
    redis,
    prefix,
    keys: [...DEMO_KEYS, OTHER],
    now: () => NOW,
    cgrates: { currency: 'GBP', now: () => NOW, store: { pool, schema } },
  }));
  rpc = rpcClient(app);
});
afterAll(() => app.close());

const ADDON = [
  {
    Identifier: '*topup',
    BalanceId: 'data-addon',
    BalanceType: '*data',
    Units: '1073741824',
    ExpiryTime: '+720h',
    BalanceWeight: '10',
    DestinationIds: '*any',
    Weight: 20,
  },
  { Identifier: '*topup', BalanceId: 'bonus', BalanceType: '*monetary', Units: '0.5', Weight: 10 },
  { Identifier: '*log', Weight: 0 },
];

async function balances(Account: string) {
  const a = await rpc(B, 'APIerSv2.GetAccount', { Account });
  expect(a.error, a.raw).toBeNull();
  return a.result as {
    Disabled: boolean;
    BalanceMap: Record<string, { ID: string; Value: number; ExpirationDate: string }[]>;
  };
}

describe('action profiles', () => {
  it('SetActions stores a profile once; Overwrite replaces it; GetActions answers engine.Action', async () => {
    const set = (Overwrite = false) =>
      rpc(B, 'APIerSv2.SetActions', { ActionsId: 'Action_data_1gb', Overwrite, Actions: ADDON });
    expect((await set()).result).toBe('OK');
    expect((await set()).error).toBe('EXISTS');
    expect((await set(true)).result).toBe('OK');
    const got = await rpc(B, 'APIerSv2.GetActions', { ActionIDs: ['Action_data_1gb'] });
    expect(got.error).toBeNull();
    const list = (got.result as Record<string, object[]>).Action_data_1gb!;
    expect(list).toHaveLength(3);
    expect(list[1]).toMatchObject({
      Id: 'Action_data_1gb',
      ActionType: '*topup',
      Weight: 10,
      Balance: { ID: 'bonus', Type: '*monetary', Value: { Static: 0.5 } },
    });
    expect(list[2]).toMatchObject({ ActionType: '*log', Balance: null });
  });

  it('ExecuteAction sells the add-on once per Reference, highest Weight first', async () => {
    await rpc(B, 'APIerSv2.SetAccount', { Account: 'crm1' });
    const sell = () =>
      rpc(B, 'APIerSv1.ExecuteAction', {
        Account: 'crm1',
        ActionsId: 'Action_data_1gb',
        Reference: 'order-1',
      });
    expect((await sell()).result).toBe('OK');
    expect((await sell()).result).toBe('OK');
    let b = await balances('crm1');
    expect(b.BalanceMap['*data']).toEqual([
      expect.objectContaining({
        ID: 'data-addon',
        Value: 1073741824,
        ExpirationDate: '2026-12-20T10:00:00Z',
      }),
    ]);
    expect(b.BalanceMap['*monetary']).toEqual([expect.objectContaining({ ID: 'bonus', Value: 0.5 })]);
    // Another order: the same add-on again tops the same balances up.
    await rpc(B, 'APIerSv1.ExecuteAction', {
      Account: 'crm1',
      ActionsId: 'Action_data_1gb',
      Reference: 'order-2',
    });
    b = await balances('crm1');
    expect(b.BalanceMap['*data']![0]!.Value).toBe(2 * 1073741824);
    expect(b.BalanceMap['*monetary']![0]!.Value).toBe(1);
  });

  it('*debit takes money; *disable_account and *enable_account switch the account', async () => {
    const def = (ActionsId: string, Actions: object[]) =>
      rpc(B, 'APIerSv2.SetActions', { ActionsId, Actions });
    expect(
      (await def('FEE', [{ Identifier: '*debit', BalanceType: '*monetary', Units: '0.25' }])).error,
    ).toBeNull();
    await def('BAR', [{ Identifier: '*disable_account' }]);
    await def('UNBAR', [{ Identifier: '*enable_account' }]);
    await rpc(B, 'APIerSv1.AddBalance', {
      Account: 'crm2',
      BalanceType: '*monetary',
      Value: 1,
      Balance: { ID: 'main' },
    });
    expect((await rpc(B, 'APIerSv1.ExecuteAction', { Account: 'crm2', ActionsId: 'FEE' })).result).toBe('OK');
    expect((await balances('crm2')).BalanceMap['*monetary']![0]!.Value).toBe(0.75);
    await rpc(B, 'APIerSv1.ExecuteAction', { Account: 'crm2', ActionsId: 'BAR' });
    expect((await balances('crm2')).Disabled).toBe(true);
    await rpc(B, 'APIerSv1.ExecuteAction', { Account: 'crm2', ActionsId: 'UNBAR' });
    expect((await balances('crm2')).Disabled).toBe(false);
  });

  it('a profile the facade cannot carry out is refused when set, and nothing is stored', async () => {
    const cases: [object, string | RegExp][] = [
      [{ Identifier: '*set_balance' }, 'NOT_IMPLEMENTED: action *set_balance'],
      [{ Identifier: '*topup', BalanceType: '*monetary', Units: '0.1234567891' }, /^NOT_CONVERTIBLE: /],
      [{ Identifier: '*topup', BalanceType: '*gold', Units: '1' }, 'UNSUPPORTED_FORMAT: BalanceType *gold'],
      [{ Identifier: '' }, 'MANDATORY_IE_MISSING: [Identifier]'],
    ];
    for (const [action, error] of cases) {
      const a = await rpc(B, 'APIerSv2.SetActions', { ActionsId: 'BAD', Actions: [ADDON[1], action] });
      if (typeof error === 'string') expect(a.error).toBe(error);
      else expect(a.error).toMatch(error);
    }
    expect((await rpc(B, 'APIerSv2.GetActions', { ActionIDs: ['BAD'] })).error).toBe('NOT_FOUND');
  });

  it('another tenant sees none of them; RemoveActions removes; executing a removed one is NOT_FOUND', async () => {
    expect((await rpc(OTHER.key, 'APIerSv2.GetActions', { ActionIDs: ['FEE'] })).error).toBe('NOT_FOUND');
    expect(
      (await rpc(OTHER.key, 'APIerSv1.ExecuteAction', { Account: 'crm2', ActionsId: 'FEE' })).error,
    ).toBe('NOT_FOUND');
    expect((await rpc(B, 'APIerSv2.RemoveActions', { ActionIDs: ['FEE'] })).result).toBe('OK');
    expect((await rpc(B, 'APIerSv1.ExecuteAction', { Account: 'crm2', ActionsId: 'FEE' })).error).toBe(
      'NOT_FOUND',
    );
    expect((await rpc(B, 'APIerSv1.ExecuteAction', { Account: 'nobody', ActionsId: 'BAR' })).error).toBe(
      'NOT_FOUND',
    );
  });
});
