/**
 * CGRateS action plans over /jsonrpc mapped onto the billing plans, on the real Redis and
 * PostgreSQL: SetActions + SetActionPlan, an account bound by SetAccount, GetActionPlan and
 * GetAccountActionPlan in CGRateS's shapes, the renewal done by the engine's plan renewal
 * (renewDue, driven by its as-of as the billing tests drive it) exactly once, *asap once,
 * refusals that store nothing, unbinding and removal, another tenant's key.
 */
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalanceStore } from '../../src/balances/store.js';
import { renewDue } from '../../src/billing/plans/renewals.js';
import { DEMO_KEYS } from '../../src/config.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import { rpcClient } from './rpc.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const NOW = Date.parse('2026-11-20T10:00:00Z'); // a Friday
const DEC1 = Date.parse('2026-12-01T00:00:00Z'); // the default zone is UTC
const GiB = 1073741824;
let app: FastifyInstance;
let balances: BalanceStore;
let rpc: ReturnType<typeof rpcClient>;
const B = 'demo-billing';
const OTHER = { key: 'other-billing', role: 'billing' as const, tenant: 'other', name: 'other tenant' };

beforeAll(async () => {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  ({ app, balances } = await testApp({
    redis,
    prefix,
    keys: [...DEMO_KEYS, OTHER],
    now: () => NOW,
    cgrates: { currency: 'GBP', now: () => NOW, store: { pool, schema } },
  }));
  rpc = rpcClient(app);
});
afterAll(() => app.close());

const renew = (asOf: number, account: string) =>
  renewDue({ pool, schema, balances, now: () => asOf }, 'acme', asOf, { accounts: [account] });

async function ok(method: string, arg: object, key = B) {
  const r = await rpc(key, method, arg);
  expect(r.error, r.raw).toBeNull();
  return r.result;
}

async function balanceMap(Account: string) {
  const a = (await ok('APIerSv2.GetAccount', { Account })) as {
    BalanceMap: Record<string, { ID: string; Value: number; ExpirationDate: string }[]>;
  };
  return a.BalanceMap;
}

const BUNDLE = [
  { Identifier: '*topup', BalanceId: 'data', BalanceType: '*data', Units: String(GiB), Weight: 20 },
  { Identifier: '*debit', BalanceType: '*monetary', Units: '5', Weight: 10 },
  { Identifier: '*log' },
];
const MONTHLY = {
  Id: 'AP_MONTHLY',
  ActionPlan: [
    { ActionsId: 'ACT_BUNDLE', MonthDays: '1', Time: '00:00:00', Weight: 10 },
    { ActionsId: 'ACT_BUNDLE', Time: '*asap', Weight: 20 },
  ],
};

describe('action plans on the plan renewal', () => {
  it('SetActionPlan stores a monthly plan once; GetActionPlan answers engine.ActionPlan', async () => {
    await ok('APIerSv2.SetActions', { ActionsId: 'ACT_BUNDLE', Actions: BUNDLE });
    expect(await ok('APIerSv1.SetActionPlan', MONTHLY)).toBe('OK');
    expect((await rpc(B, 'APIerSv1.SetActionPlan', MONTHLY)).error).toBe('EXISTS');
    // The same definition again with Overwrite changes nothing (its timings keep their uuids).
    const before = (await ok('APIerSv1.GetActionPlan', { ID: 'AP_MONTHLY' })) as object[];
    expect(await ok('APIerSv1.SetActionPlan', { ...MONTHLY, Overwrite: true })).toBe('OK');
    expect(await ok('APIerSv1.GetActionPlan', { ID: 'AP_MONTHLY' })).toEqual(before);
    expect(before).toEqual([
      {
        Id: 'AP_MONTHLY',
        AccountIDs: null,
        ActionTimings: [
          {
            Uuid: expect.stringMatching(/^[0-9a-f-]{36}$/),
            Timing: {
              Timing: {
                ID: '',
                Years: null,
                Months: null,
                MonthDays: [1],
                WeekDays: null,
                StartTime: '00:00:00',
                EndTime: '',
              },
              Rating: null,
              Weight: 0,
            },
            ActionsID: 'ACT_BUNDLE',
            ExtraData: null,
            Weight: 10,
          },
          expect.objectContaining({
            ActionsID: 'ACT_BUNDLE',
            Weight: 20,
            Timing: expect.objectContaining({ Timing: expect.objectContaining({ StartTime: '*asap' }) }),
          }),
        ],
      },
    ]);
  });

  it('SetAccount binds: the first month whole at once (*asap), renewals on the 1st exactly once', async () => {
    await ok('APIerSv1.AddBalance', {
      Account: 'ap1',
      BalanceType: '*monetary',
      Value: 20,
      Balance: { ID: 'main' },
    });
    const bind = () => ok('APIerSv2.SetAccount', { Account: 'ap1', ActionPlanIDs: ['AP_MONTHLY'] });
    expect(await bind()).toBe('OK');
    expect(await bind()).toBe('OK'); // a retry binds nothing twice and runs *asap once
    let map = await balanceMap('ap1');
    expect(map['*monetary']).toEqual([expect.objectContaining({ ID: 'main', Value: 15 })]);
    expect(map['*data']).toEqual([
      expect.objectContaining({ ID: 'plan.1.data', Value: GiB, ExpirationDate: '2026-12-01T00:00:00Z' }),
    ]);
    const [plan] = (await ok('APIerSv1.GetActionPlan', { ID: 'AP_MONTHLY' })) as { AccountIDs: object }[];
    expect(plan!.AccountIDs).toEqual({ 'acme:ap1': true });
    const timings = (await ok('APIerSv1.GetAccountActionPlan', { Account: 'ap1' })) as object[];
    expect(timings).toEqual([
      {
        ActionPlanId: 'AP_MONTHLY',
        Uuid: expect.any(String),
        ActionsId: 'ACT_BUNDLE',
        NextExecTime: '2026-12-01T00:00:00Z',
      },
      expect.objectContaining({ ActionsId: 'ACT_BUNDLE', NextExecTime: '0001-01-01T00:00:00Z' }),
    ]);

    expect(await renew(DEC1 - 1, 'ap1')).toMatchObject({ renewed: 0 });
    expect(await renew(DEC1, 'ap1')).toMatchObject({ renewed: 1, feesCharged: 1 });
    expect(await renew(DEC1, 'ap1')).toMatchObject({ renewed: 0, feesCharged: 0 }); // a rerun: nothing twice
    map = await balanceMap('ap1');
    expect(map['*monetary']![0]!.Value).toBe(10);
    // *topup adds to what is there: the unused GiB rolls over beside the new one.
    expect(map['*data']!.map((b) => [b.ID, b.Value, b.ExpirationDate])).toEqual([
      ['plan.1.data', GiB, '2027-01-01T00:00:00Z'],
      ['plan.1.data.ro1', GiB, expect.any(String)],
    ]);
    const next = (await ok('APIerSv1.GetAccountActionPlan', { Account: 'ap1' })) as {
      NextExecTime: string;
    }[];
    expect(next[0]!.NextExecTime).toBe('2027-01-01T00:00:00Z');
  });

  it('*asap alone runs its actions once per account, however often SetAccount is retried', async () => {
    await ok('APIerSv2.SetActions', {
      ActionsId: 'ACT_WELCOME',
      Actions: [{ Identifier: '*topup', BalanceId: 'welcome', BalanceType: '*monetary', Units: '1' }],
    });
    await ok('APIerSv1.SetActionPlan', {
      Id: 'AP_WELCOME',
      ActionPlan: [{ ActionsId: 'ACT_WELCOME', Time: '*asap', Weight: 10 }],
    });
    for (let i = 0; i < 3; i++)
      await ok('APIerSv2.SetAccount', { Account: 'ap2', ActionPlanIDs: ['AP_WELCOME'] });
    expect((await balanceMap('ap2'))['*monetary']).toEqual([
      expect.objectContaining({ ID: 'welcome', Value: 1 }),
    ]);
    // As APIerSv2.SetAccount: a plan of *asap timings only does not stay bound.
    expect(await ok('APIerSv1.GetAccountActionPlan', { Account: 'ap2' })).toEqual([]);
  });

  it('*topup_reset renews a weekly bundle to its amount (v1 SetAccount with ActionPlanID)', async () => {
    await ok('APIerSv2.SetActions', {
      ActionsId: 'ACT_SMS',
      Overwrite: true,
      Actions: [
        {
          Identifier: '*topup_reset',
          BalanceId: 'sms',
          BalanceType: '*sms',
          Units: '100',
          BalanceWeight: '10',
        },
      ],
    });
    await ok('APIerSv1.SetActionPlan', {
      Id: 'AP_WEEKLY',
      ActionPlan: [{ ActionsId: 'ACT_SMS', Time: '*weekly', Weight: 10 }],
    });
    const [plan] = (await ok('APIerSv1.GetActionPlan', { ID: 'AP_WEEKLY' })) as {
      ActionTimings: { Timing: { Timing: object } }[];
    }[];
    expect(plan!.ActionTimings[0]!.Timing.Timing).toMatchObject({
      ID: '*weekly',
      WeekDays: [5],
      MonthDays: [],
    });
    await ok('APIerSv1.SetAccount', { Account: 'ap3', ActionPlanID: 'AP_WEEKLY' });
    // Bound on the anchor day itself: that day starts a whole period, granted at once.
    const sms = async (Account: string) =>
      (await balanceMap(Account))['*sms']!.map((b) => [b.ID, b.Value, b.ExpirationDate]);
    expect(await sms('ap3')).toEqual([['plan.1.sms', 100, '2026-11-27T00:00:00Z']]);
    const fri = Date.parse('2026-11-27T00:00:00Z');
    expect(await renew(fri, 'ap3')).toMatchObject({ renewed: 1 });
    expect(await renew(fri, 'ap3')).toMatchObject({ renewed: 0 });
    // Reset: the amount again, nothing rolled over.
    expect(await sms('ap3')).toEqual([['plan.1.sms', 100, '2026-12-04T00:00:00Z']]);
    // Mondays (WeekDays 1), no *asap: nothing before the first Monday, as CGRateS runs it first then.
    await ok('APIerSv1.SetActionPlan', {
      Id: 'AP_MONDAYS',
      ActionPlan: [{ ActionsId: 'ACT_SMS', WeekDays: '1', Time: '00:00:00', Weight: 10 }],
    });
    await ok('APIerSv2.SetAccount', { Account: 'ap4', ActionPlanIDs: ['AP_MONDAYS'] });
    expect(await sms('ap4')).toEqual([['plan.1.sms', 0, '2026-11-23T00:00:00Z']]);
    expect(await renew(Date.parse('2026-11-23T00:00:00Z'), 'ap4')).toMatchObject({ renewed: 1 });
    expect(await sms('ap4')).toEqual([['plan.1.sms', 100, '2026-11-30T00:00:00Z']]);
  });

  it('a prepaid account that cannot pay the renewal turns unpaid, and renews once it can', async () => {
    await ok('APIerSv2.SetActions', {
      ActionsId: 'ACT_FEE',
      Actions: [
        { Identifier: '*topup', BalanceId: 'sms', BalanceType: '*sms', Units: '10' },
        { Identifier: '*debit', BalanceType: '*monetary', Units: '5' },
      ],
    });
    await ok('APIerSv1.SetActionPlan', {
      Id: 'AP_FEE',
      ActionPlan: [
        { ActionsId: 'ACT_FEE', MonthDays: '1', Time: '00:00:00', Weight: 10 },
        { ActionsId: 'ACT_FEE', Time: '*asap', Weight: 20 },
      ],
    });
    // No money yet: the first period cannot be paid, nothing is bound.
    expect((await rpc(B, 'APIerSv2.SetAccount', { Account: 'ap5', ActionPlanIDs: ['AP_FEE'] })).error).toBe(
      'INSUFFICIENT_CREDIT',
    );
    expect(await ok('APIerSv1.GetAccountActionPlan', { Account: 'ap5' })).toEqual([]);
    await ok('APIerSv1.AddBalance', {
      Account: 'ap5',
      BalanceType: '*monetary',
      Value: 5,
      Balance: { ID: 'main' },
    });
    await ok('APIerSv2.SetAccount', { Account: 'ap5', ActionPlanIDs: ['AP_FEE'] });
    expect((await balanceMap('ap5'))['*monetary']![0]!.Value).toBe(0);
    expect(await renew(DEC1, 'ap5')).toMatchObject({ renewed: 0, feesFailed: 1 });
    const status = await pool.query(`SELECT status FROM ${schema}.account_plans WHERE account_id = 'ap5'`);
    expect(status.rows).toEqual([{ status: 'unpaid' }]);
    expect(await ok('APIerSv1.GetAccountActionPlan', { Account: 'ap5' })).toHaveLength(2); // still bound
    await ok('APIerSv1.AddBalance', {
      Account: 'ap5',
      BalanceType: '*monetary',
      Value: 5,
      Balance: { ID: 'main' },
    });
    expect(await renew(DEC1 + 86_400_000, 'ap5')).toMatchObject({ renewed: 1, feesCharged: 1 });
    const map = await balanceMap('ap5');
    expect(map['*monetary']![0]!.Value).toBe(0);
    expect(map['*sms']!.find((b) => b.ID === 'plan.1.sms')).toMatchObject({
      Value: 10,
      ExpirationDate: '2027-01-01T00:00:00Z',
    });
  });

  it('refuses what no plan can carry, with CGRateS errors, and stores nothing', async () => {
    await ok('APIerSv2.SetActions', { ActionsId: 'ACT_BAR', Actions: [{ Identifier: '*disable_account' }] });
    await ok('APIerSv2.SetActions', {
      ActionsId: 'ACT_CREDIT',
      Actions: [{ Identifier: '*topup', BalanceType: '*monetary', Units: '3' }],
    });
    const set = (ActionPlan: object[]) => rpc(B, 'APIerSv1.SetActionPlan', { Id: 'AP_BAD', ActionPlan });
    const cases: [object[], string | RegExp][] = [
      [[{ ActionsId: 'ACT_BAR', Time: '*monthly', Weight: 1 }], /^NOT_IMPLEMENTED: \*disable_account/],
      [[{ ActionsId: 'ACT_CREDIT', Time: '*monthly', Weight: 1 }], /^NOT_IMPLEMENTED: \*topup of money/],
      [[{ ActionsId: 'ACT_BUNDLE', Time: '*yearly', Weight: 1 }], /^NOT_IMPLEMENTED: timing \*yearly/],
      [[{ ActionsId: 'ACT_BUNDLE', Time: '10:30:00', Weight: 1 }], /^NOT_IMPLEMENTED: Time 10:30:00/],
      [[{ ActionsId: 'ACT_BUNDLE', Time: 'noon', Weight: 1 }], 'UNSUPPORTED_FORMAT:noon'],
      [[{ ActionsId: 'NOPE', Time: '*asap', Weight: 1 }], 'BROKEN_REFERENCE:NOPE'],
      [[{ ActionsId: 'ACT_BUNDLE', Weight: 1 }], 'MANDATORY_IE_MISSING:Action:ACT_BUNDLE:[Time]'],
      [
        [
          { ActionsId: 'ACT_BUNDLE', Time: '*monthly', Weight: 1 },
          { ActionsId: 'ACT_BUNDLE', Time: '*weekly', Weight: 1 },
        ],
        /^NOT_IMPLEMENTED: more than one periodic timing/,
      ],
      [[], 'MANDATORY_IE_MISSING: [ActionPlan]'],
    ];
    for (const [plan, error] of cases) {
      const r = await set(plan);
      if (typeof error === 'string') expect(r.error).toBe(error);
      else expect(r.error).toMatch(error);
    }
    expect((await rpc(B, 'APIerSv1.SetActionPlan', { ActionPlan: [] })).error).toBe(
      'MANDATORY_IE_MISSING: [Id ActionPlan]',
    );
    expect((await rpc(B, 'APIerSv1.GetActionPlan', { ID: 'AP_BAD' })).error).toBe('NOT_FOUND');
    const catalog = await pool.query(`SELECT 1 FROM ${schema}.plans WHERE code = 'cgr-ap-AP_BAD'`);
    expect(catalog.rowCount).toBe(0);
    // An unknown plan on SetAccount: nothing is created.
    expect((await rpc(B, 'APIerSv2.SetAccount', { Account: 'ap9', ActionPlanIDs: ['NOPE'] })).error).toBe(
      'NOT_FOUND',
    );
    expect((await rpc(B, 'APIerSv2.GetAccount', { Account: 'ap9' })).error).toBe('NOT_FOUND');
  });

  it("another tenant's key neither sees nor binds the plans; other roles may not call them", async () => {
    expect((await rpc(OTHER.key, 'APIerSv1.GetActionPlan', { ID: 'AP_MONTHLY' })).error).toBe('NOT_FOUND');
    expect((await rpc(OTHER.key, 'APIerSv1.GetActionPlan', {})).result).toEqual([]);
    const bind = await rpc(OTHER.key, 'APIerSv2.SetAccount', {
      Account: 'x1',
      ActionPlanIDs: ['AP_MONTHLY'],
    });
    expect(bind.error).toBe('NOT_FOUND');
    expect((await rpc(OTHER.key, 'APIerSv2.GetAccount', { Account: 'x1' })).error).toBe('NOT_FOUND');
    expect(
      (await rpc(OTHER.key, 'APIerSv1.GetAccountActionPlan', { Tenant: 'acme', Account: 'ap1' })).error,
    ).toBe('UNAUTHORIZED_API');
    expect((await rpc('demo-network', 'APIerSv1.GetActionPlan', {})).error).toBe('UNAUTHORIZED_API');
    expect((await rpc(B, 'APIerSv1.GetAccountActionPlan', {})).error).toBe(
      'MANDATORY_IE_MISSING: [Account ]',
    );
  });

  it('ActionPlansOverwrite unbinds (the period runs out, no refund); RemoveActionPlan unbinds all', async () => {
    await ok('APIerSv2.SetAccount', { Account: 'ap1', ActionPlanIDs: [], ActionPlansOverwrite: true });
    expect(await ok('APIerSv1.GetAccountActionPlan', { Account: 'ap1' })).toEqual([]);
    const [plan] = (await ok('APIerSv1.GetActionPlan', { ID: 'AP_MONTHLY' })) as { AccountIDs: unknown }[];
    expect(plan!.AccountIDs).toBeNull();
    const jan1 = Date.parse('2027-01-01T00:00:00Z');
    expect(await renew(jan1, 'ap1')).toMatchObject({ renewed: 0, ended: 1 });
    expect((await balanceMap('ap1'))['*monetary']![0]!.Value).toBe(10);
    // Bound again: a new assignment (its own first period), then removed with the plan.
    await ok('APIerSv2.SetAccount', { Account: 'ap1', ActionPlanIDs: ['AP_MONTHLY'] });
    expect(await ok('APIerSv1.GetAccountActionPlan', { Account: 'ap1' })).toHaveLength(2);
    expect(await ok('APIerSv1.RemoveActionPlan', { ID: 'AP_MONTHLY' })).toBe('OK');
    expect((await rpc(B, 'APIerSv1.GetActionPlan', { ID: 'AP_MONTHLY' })).error).toBe('NOT_FOUND');
    expect((await rpc(B, 'APIerSv1.RemoveActionPlan', { ID: 'AP_MONTHLY' })).error).toBe('NOT_FOUND');
    expect((await rpc(B, 'APIerSv1.RemoveActionPlan', {})).error).toBe('MANDATORY_IE_MISSING: [ID]');
    expect(await ok('APIerSv1.GetAccountActionPlan', { Account: 'ap1' })).toEqual([]);
  });
});

describe('hostile action-plan requests', () => {
  it('never a 500, never SERVER_ERROR', { timeout: 120_000 }, async () => {
    const id = fc.oneof(
      fc.string(),
      fc.constantFrom('AP_MONTHLY', 'AP_WEEKLY', '*', '', 'a:b', '\u0000', ' x'),
    );
    const timing = fc.record(
      {
        ActionsId: fc.oneof(id, fc.constantFrom('ACT_BUNDLE', 'ACT_SMS')),
        Time: fc.oneof(fc.string(), fc.constantFrom('*asap', '*monthly', '*weekly', '00:00:00', '99:99:99')),
        MonthDays: fc.oneof(fc.string(), fc.constantFrom('1', '-1', '32', '1;2', '*any')),
        WeekDays: fc.oneof(fc.string(), fc.constantFrom('0', '7', '1;2')),
        Years: fc.constantFrom('', '2027'),
        Weight: fc.oneof(fc.double(), fc.integer(), fc.string()),
      },
      { requiredKeys: [] },
    );
    const arg = fc.record(
      {
        Id: id,
        ID: id,
        Tenant: fc.constantFrom('', 'acme', 'other'),
        Account: id,
        ActionPlan: fc.oneof(fc.array(timing, { maxLength: 3 }), fc.string(), fc.constant(null)),
        ActionPlanIDs: fc.oneof(fc.array(id, { maxLength: 2 }), fc.string(), fc.constant(null)),
        ActionPlanID: id,
        Overwrite: fc.oneof(fc.boolean(), fc.string()),
        ActionPlansOverwrite: fc.oneof(fc.boolean(), fc.integer()),
      },
      { requiredKeys: [] },
    );
    const method = fc.constantFrom(
      'APIerSv1.SetActionPlan',
      'APIerSv1.GetActionPlan',
      'APIerSv1.RemoveActionPlan',
      'APIerSv1.GetAccountActionPlan',
      'APIerSv2.SetAccount',
      'APIerSv1.SetAccount',
    );
    await fc.assert(
      fc.asyncProperty(method, arg, async (m, a) => {
        const r = await rpc(B, m, a);
        expect(r.status, r.raw).toBe(200);
        expect(r.error ?? '', r.raw).not.toMatch(/^SERVER_ERROR/);
      }),
      { numRuns: 300 },
    );
  });
});
