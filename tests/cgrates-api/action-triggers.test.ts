/**
 * CGRateS action triggers and threshold profiles through /jsonrpc, on the real Redis and PostgreSQL:
 * a `*min_balance` trigger bound to an account becomes a notification rule, the one detector
 * (src/notifications/detect.ts) fires it once per downward crossing — the event recorded and queued
 * for the webhook endpoint of the `*http_post` URL — and a top-up re-arms it. Shapes as
 * engine.ActionTrigger / engine.ThresholdProfile; what does not map is refused with nothing stored.
 */
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import type { BalanceStore } from '../../src/balances/store.js';
import { DEMO_KEYS } from '../../src/config.js';
import { ensureNotificationsSchema } from '../../src/notifications/schema.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { ensureWebhooksSchema } from '../../src/webhooks/schema.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import { detectAll } from './detect.js';
import { rpcClient } from './rpc.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const NOW = Date.parse('2026-11-20T10:00:00Z');
const B = 'demo-billing';
const OTHER = { key: 'other-billing', role: 'billing' as const, tenant: 'other', name: 'other tenant' };
const URL = 'https://crm.example/low-balance';
/** The detector waits for other files' long transactions on the shared server (detect.ts). */
const DETECTING = { timeout: 600_000 };
let app: FastifyInstance;
let balances: BalanceStore;
let rpc: ReturnType<typeof rpcClient>;
let endpointId: string;

beforeAll(async () => {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await ensureLedgerSchema(pool, schema);
  await ensureRecordsSchema(pool, schema);
  await ensureWebhooksSchema(pool, schema);
  await ensureNotificationsSchema(pool, schema);
  ({ app, balances } = await testApp({
    redis,
    prefix,
    keys: [...DEMO_KEYS, OTHER],
    now: () => NOW,
    cgrates: { currency: 'GBP', now: () => NOW, store: { pool, schema } },
  }));
  rpc = rpcClient(app);
  // The CRM's receiver, registered as a webhook endpoint of the tenant (POST /v1/webhooks).
  const r = await pool.query<{ id: string }>(
    `INSERT INTO ${schema}.webhook_endpoints (id, tenant, url, event_types, secret_enc)
     VALUES (gen_random_uuid(), 'acme', $1, ARRAY['balance.low', 'balance.exhausted'], '\\x00') RETURNING id`,
    [URL],
  );
  endpointId = r.rows[0]!.id;
});
afterAll(() => app.close());

/** The ledger drained and every row judged by the notification detector, as its job does. */
const detect = () => detectAll({ redis, prefix, pool, schema, balances });

async function events(account: string) {
  const r = await pool.query<{ id: string; type: string; payload: Record<string, unknown> }>(
    `SELECT id, type, payload FROM ${schema}.events WHERE tenant = 'acme' AND account_id = $1 ORDER BY sequence`,
    [account],
  );
  return r.rows;
}

async function ok(method: string, arg: object, key = B) {
  const a = await rpc(key, method, arg);
  expect(a.error, `${method}: ${a.raw}`).toBeNull();
  return a.result;
}

const ruleCount = async () =>
  (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.notification_rules`)).rows[0]!.n;

const LOW_5 = {
  GroupID: 'LOW_5',
  UniqueID: 'u1',
  // As a CGRateS client sends it (a Balance sub-map and a Weight CGRateS ignores in the map).
  ActionTrigger: {
    ThresholdType: '*min_balance',
    ThresholdValue: 5,
    BalanceType: '*monetary',
    Balance: { ID: '*default', Value: 5 },
    Weight: 10,
    ActionsID: 'ACT_NOTIFY',
  },
};

describe('action triggers', () => {
  it('SetActionTrigger stores a template; GetActionTriggers answers engine.ActionTrigger', async () => {
    await ok('APIerSv2.SetActions', {
      ActionsId: 'ACT_NOTIFY',
      Actions: [
        { Identifier: '*http_post_async', ExtraParameters: URL, ExpiryTime: '*unlimited', Weight: 700 },
        { Identifier: '*log', Weight: 1200 },
      ],
    });
    expect(await ok('APIerSv1.SetActionTrigger', LOW_5)).toBe('OK');
    expect(await ok('APIerSv1.SetActionTrigger', LOW_5)).toBe('OK'); // the same UniqueID: one trigger
    const got = await rpc(B, 'APIerSv1.GetActionTriggers', { GroupIDs: ['LOW_5'] });
    expect(got.raw).toContain('"ThresholdValue":5,');
    expect(got.result).toEqual([
      {
        ID: 'LOW_5',
        UniqueID: 'u1',
        ThresholdType: '*min_balance',
        ThresholdValue: 5,
        Recurrent: false,
        MinSleep: 0,
        ExpirationDate: '0001-01-01T00:00:00Z',
        ActivationDate: '0001-01-01T00:00:00Z',
        Balance: {
          Uuid: null,
          ID: null,
          Type: '*monetary',
          Value: null,
          ExpirationDate: null,
          Weight: null,
          DestinationIDs: null,
          RatingSubject: null,
          Categories: null,
          SharedGroups: null,
          TimingIDs: null,
          Timings: null,
          Disabled: null,
          Factor: null,
          Blocker: null,
        },
        Weight: 0,
        ActionsID: 'ACT_NOTIFY',
        MinQueuedItems: 0,
        Executed: false,
        LastExecutionTime: '0001-01-01T00:00:00Z',
      },
    ]);
    expect((await rpc(B, 'APIerSv1.GetActionTriggers', { GroupIDs: ['NOPE'] })).error).toBe('NOT_FOUND');
  });

  it(
    'bound by SetAccount, fires once at or below the threshold, not again, and again after a top-up',
    DETECTING,
    async () => {
      await ok('APIerSv2.SetAccount', { Account: 't1', ActionTriggerIDs: ['LOW_5'] });
      await ok('APIerSv1.AddBalance', {
        Account: 't1',
        BalanceType: '*monetary',
        Value: 10,
        Balance: { ID: 'main' },
      });
      const debit = (Value: number) =>
        ok('APIerSv1.DebitBalance', { Account: 't1', BalanceType: '*monetary', Value });
      await debit(5); // lands on 5: CGRateS fires at <= ThresholdValue
      await detect();
      let list = await events('t1');
      expect(list.map((e) => [e.type, e.payload.rule, e.payload.value])).toEqual([
        ['balance.low', 'cgr-at:t1:LOW_5:u1', '5'],
      ]);
      const delivery = await pool.query(
        `SELECT status FROM ${schema}.webhook_deliveries WHERE event_id = $1 AND endpoint_id = $2`,
        [list[0]!.id, endpointId],
      );
      expect(delivery.rows).toEqual([{ status: 'pending' }]); // queued for the *http_post URL's endpoint
      const bound = (await ok('APIerSv1.GetAccountActionTriggers', { Account: 't1' })) as object[];
      expect(bound).toMatchObject([{ ID: 'LOW_5', UniqueID: 'u1', Executed: true }]);
      const account = (await ok('APIerSv2.GetAccount', { Account: 't1' })) as { ActionTriggers: unknown };
      expect(account.ActionTriggers).toEqual(bound); // engine.Account's own, Executed too

      await debit(1);
      await debit(1);
      await detect();
      expect(await events('t1')).toHaveLength(1); // still below: nothing more

      // Bound again (a retried SetAccount, AddAccountActionTriggers): one trigger, its state kept.
      await ok('APIerSv2.SetAccount', { Account: 't1', ActionTriggerIDs: ['LOW_5'] });
      await ok('APIerSv1.AddAccountActionTriggers', { Account: 't1', ActionTriggerIDs: ['LOW_5'] });
      expect(await ok('APIerSv1.GetAccountActionTriggers', { Account: 't1' })).toMatchObject([
        { Executed: true },
      ]);
      await detect();
      expect(await events('t1')).toHaveLength(1);

      await ok('APIerSv1.AddBalance', {
        Account: 't1',
        BalanceType: '*monetary',
        Value: 10,
        Balance: { ID: 'main' },
      });
      await detect();
      expect(await ok('APIerSv1.GetAccountActionTriggers', { Account: 't1' })).toMatchObject([
        { Executed: false },
      ]);
      await debit(9); // 13 → 4
      await detect();
      list = await events('t1');
      expect(list.map((e) => [e.type, e.payload.value])).toEqual([
        ['balance.low', '5'],
        ['balance.low', '4'],
      ]);
    },
  );

  it(
    '*min_balance 0 is balance.exhausted; SetAccountActionTriggers adds and updates on the account',
    DETECTING,
    async () => {
      await ok('APIerSv2.SetAccount', { Account: 't3' });
      const set = (v: number) =>
        ok('APIerSv1.SetAccountActionTriggers', {
          Account: 't3',
          GroupID: 'EMPTY',
          UniqueID: 'e1',
          ActionTrigger: {
            ThresholdType: '*min_balance',
            ThresholdValue: v,
            BalanceType: '*monetary',
            ActionsID: 'ACT_NOTIFY',
          },
        });
      await set(1);
      await set(0); // the same trigger, updated
      expect(await ok('APIerSv1.GetAccountActionTriggers', { Account: 't3' })).toMatchObject([
        { ID: 'EMPTY', UniqueID: 'e1', ThresholdValue: 0 },
      ]);
      await ok('APIerSv1.AddBalance', {
        Account: 't3',
        BalanceType: '*monetary',
        Value: 2,
        Balance: { ID: 'main' },
      });
      await ok('APIerSv1.DebitBalance', { Account: 't3', BalanceType: '*monetary', Value: 1 });
      await detect();
      expect(await events('t3')).toEqual([]);
      await ok('APIerSv1.DebitBalance', { Account: 't3', BalanceType: '*monetary', Value: 1 });
      await detect();
      expect((await events('t3')).map((e) => [e.type, e.payload.rule])).toEqual([
        ['balance.exhausted', 'cgr-at:t3:EMPTY:e1'],
      ]);
    },
  );

  it("GetAccount and GetAccounts answer the account's triggers as GetAccountActionTriggers does", async () => {
    await ok('APIerSv2.SetAccount', { Account: 't5', ActionTriggerIDs: ['LOW_5'] });
    await ok('APIerSv2.SetAccount', { Account: 't6' });
    const bound = await ok('APIerSv1.GetAccountActionTriggers', { Account: 't5' });
    expect(bound).toMatchObject([{ ID: 'LOW_5', UniqueID: 'u1', Executed: false }]);
    for (const m of ['APIerSv2.GetAccount', 'APIerSv1.GetAccount'])
      expect(await ok(m, { Account: 't5' })).toMatchObject({ ID: 'acme:t5', ActionTriggers: bound });
    expect(await ok('APIerSv2.GetAccounts', { AccountIDs: ['t6', 't5'] })).toMatchObject([
      { ID: 'acme:t6', ActionTriggers: null }, // none: null, as CGRateS marshals a nil slice
      { ID: 'acme:t5', ActionTriggers: bound },
    ]);
    await ok('APIerSv1.RemoveAccountActionTriggers', { Account: 't5' });
    expect(await ok('APIerSv2.GetAccount', { Account: 't5' })).toMatchObject({ ActionTriggers: null });
  });

  it('RemoveAccountActionTriggers removes the copies and their rules; RemoveActionTrigger the template', async () => {
    await ok('APIerSv2.SetAccount', { Account: 't4' });
    // v1's SetAccount names one group: the account's triggers become that group's.
    await ok('APIerSv1.SetActionTrigger', { ...LOW_5, GroupID: 'LOW_5_V1' });
    await ok('APIerSv1.SetAccount', { Account: 't4', ActionTriggersId: 'LOW_5_V1' });
    expect(await ok('APIerSv1.GetAccountActionTriggers', { Account: 't4' })).toMatchObject([
      { ID: 'LOW_5_V1' },
    ]);
    await ok('APIerSv1.AddAccountActionTriggers', { Account: 't4', ActionTriggerIDs: ['LOW_5'] });
    await ok('APIerSv1.RemoveAccountActionTriggers', { Account: 't4', GroupID: 'LOW_5_V1' });
    const before = await ruleCount();
    await ok('APIerSv1.RemoveAccountActionTriggers', { Account: 't4', GroupID: 'LOW_5' });
    expect(await ok('APIerSv1.GetAccountActionTriggers', { Account: 't4' })).toEqual([]);
    expect(await ruleCount()).toBe(before - 1);
    await ok('APIerSv1.SetActionTrigger', { ...LOW_5, GroupID: 'GONE' });
    await ok('APIerSv1.RemoveActionTrigger', { GroupID: 'GONE' });
    await ok('APIerSv1.RemoveActionTrigger', { GroupID: 'GONE' }); // again: OK
    expect((await rpc(B, 'APIerSv1.GetActionTriggers', { GroupIDs: ['GONE'] })).error).toBe('NOT_FOUND');
  });

  it('what does not map onto a rule is refused, nothing stored', async () => {
    await ok('APIerSv2.SetActions', {
      ActionsId: 'ACT_TOPUP',
      Actions: [{ Identifier: '*topup', BalanceType: '*monetary', Units: '5' }],
    });
    await ok('APIerSv2.SetActions', {
      ActionsId: 'ACT_NOWHERE',
      Actions: [{ Identifier: '*http_post', ExtraParameters: 'https://nowhere.example/x' }],
    });
    const at = (change: object) => ({ GroupID: 'BAD', ActionTrigger: { ...LOW_5.ActionTrigger, ...change } });
    const cases: [object, RegExp][] = [
      [at({ ThresholdType: '*max_balance' }), /^NOT_IMPLEMENTED: ThresholdType \*max_balance/],
      [at({ ThresholdType: '*max_event_counter' }), /^NOT_IMPLEMENTED/],
      [at({ BalanceType: '*voice' }), /^NOT_IMPLEMENTED: \*min_balance on \*voice/],
      [at({ BalanceID: 'main' }), /^NOT_IMPLEMENTED: BalanceID/],
      [at({ ThresholdValue: -1 }), /^NOT_IMPLEMENTED: a negative/],
      [at({ ThresholdValue: 0.1234567891234 }), /^NOT_CONVERTIBLE/],
      [at({ ActionsID: 'ACT_TOPUP' }), /^NOT_IMPLEMENTED: action \*topup/],
      [
        at({ ActionsID: 'ACT_NOWHERE' }),
        /^NOT_IMPLEMENTED: \*http_post to https:\/\/nowhere.example\/x: no enabled webhook endpoint/,
      ],
      [at({ ActionsID: 'ACT_MISSING' }), /^NOT_FOUND/],
      [
        { GroupID: 'BAD', ActionTrigger: { ThresholdType: '*min_balance' } },
        /^MANDATORY_IE_MISSING: \[ThresholdValue\]/,
      ],
      [{ ActionTrigger: LOW_5.ActionTrigger }, /^MANDATORY_IE_MISSING: \[GroupID\]/],
    ];
    const rules = await ruleCount();
    for (const [arg, error] of cases)
      expect((await rpc(B, 'APIerSv1.SetActionTrigger', arg)).error).toMatch(error);
    expect((await rpc(B, 'APIerSv1.GetActionTriggers', { GroupIDs: ['BAD'] })).error).toBe('NOT_FOUND');
    // Binding refused as a whole: an unknown group, and SetAccount creates no account then.
    const refused = await rpc(B, 'APIerSv2.SetAccount', {
      Account: 't9',
      ActionTriggerIDs: ['LOW_5', 'NOPE'],
    });
    expect(refused.error).toBe('NOT_FOUND: ActionTriggerIDs NOPE');
    expect((await rpc(B, 'APIerSv2.GetAccount', { Account: 't9' })).error).toBe('NOT_FOUND');
    expect(await ruleCount()).toBe(rules);
    // ExecuteAction's *http_post is its own event (cgrates.action_posted, actions-more.test.ts): the
    // endpoint subscribed to balance.low only does not take it, refused before doing anything.
    const exec = await rpc(B, 'APIerSv1.ExecuteAction', { Account: 't1', ActionsId: 'ACT_NOTIFY' });
    expect(exec.error).toMatch(
      /^NOT_IMPLEMENTED: \*http_post(_async)? to .* subscribed to cgrates\.action_posted/,
    );
  });

  it('another tenant neither sees nor binds them; other roles are refused', async () => {
    const o = 'other-billing';
    expect((await rpc(o, 'APIerSv1.GetActionTriggers', { GroupIDs: ['LOW_5'] })).error).toBe('NOT_FOUND');
    expect((await rpc(o, 'APIerSv1.SetActionTrigger', { ...LOW_5, Tenant: 'acme' })).error).toBe(
      'UNAUTHORIZED_API',
    );
    const bind = { Tenant: 'acme', Account: 't1', ActionTriggerIDs: ['LOW_5'] };
    expect((await rpc(o, 'APIerSv1.AddAccountActionTriggers', bind)).error).toBe('UNAUTHORIZED_API');
    expect((await rpc(o, 'APIerSv1.GetAccountActionTriggers', { Account: 't1' })).error).toBe('NOT_FOUND');
    expect((await rpc(o, 'APIerSv1.GetThresholdProfile', { Tenant: 'acme', ID: 'THD_LOW' })).error).toBe(
      'UNAUTHORIZED_API',
    );
    for (const key of ['demo-network', 'demo-selfcare-alice', 'demo-operator'])
      expect((await rpc(key, 'APIerSv1.SetActionTrigger', LOW_5)).error).toBe('UNAUTHORIZED_API');
  });
});

describe('threshold profiles', () => {
  const THD = {
    Tenant: 'acme',
    ID: 'THD_LOW',
    FilterIDs: ['*string:~*req.Account:t2', '*string:~*req.EventType:BalanceUpdate', '*lt:~*req.Units:3'],
    ActivationInterval: null,
    MaxHits: -1,
    MinHits: 1,
    MinSleep: 0,
    Blocker: false,
    Weight: 10,
    ActionIDs: ['ACT_NOTIFY'],
    Async: true,
  };

  it(
    'a low-balance profile fires once below its Units filter; Get answers it; Remove removes its rule',
    DETECTING,
    async () => {
      expect(await ok('APIerSv1.SetThresholdProfile', THD)).toBe('OK');
      expect(await ok('APIerSv1.SetThresholdProfile', THD)).toBe('OK');
      expect(await ok('APIerSv1.GetThresholdProfile', { Tenant: 'acme', ID: 'THD_LOW' })).toEqual(THD);
      await ok('APIerSv2.SetAccount', { Account: 't2' });
      await ok('APIerSv1.AddBalance', {
        Account: 't2',
        BalanceType: '*monetary',
        Value: 5,
        Balance: { ID: 'main' },
      });
      await ok('APIerSv1.DebitBalance', { Account: 't2', BalanceType: '*monetary', Value: 2 }); // 3: not below 3
      await detect();
      expect(await events('t2')).toEqual([]);
      for (let i = 0; i < 3; i++)
        await ok('APIerSv1.DebitBalance', { Account: 't2', BalanceType: '*monetary', Value: 0.5 });
      await detect();
      expect((await events('t2')).map((e) => [e.type, e.payload.rule, e.payload.value])).toEqual([
        ['balance.low', 'cgr-th:THD_LOW', '2.5'],
      ]);
      await ok('APIerSv1.SetThresholdProfile', { ...THD, ID: 'THD_ALL', FilterIDs: ['*lte:~*req.Units:0'] });
      expect(await ok('APIerSv1.GetThresholdProfileIDs', { Tenant: 'acme' })).toEqual(['THD_ALL', 'THD_LOW']);
      expect(await ok('APIerSv1.GetThresholdProfileIDs', { Offset: 1, Limit: 1 })).toEqual(['THD_LOW']);
      expect((await rpc('other-billing', 'APIerSv1.GetThresholdProfileIDs', {})).error).toBe('NOT_FOUND');
      await ok('APIerSv1.RemoveThresholdProfile', { ID: 'THD_ALL' });
      const rules = await ruleCount();
      expect(await ok('APIerSv1.RemoveThresholdProfile', { Tenant: 'acme', ID: 'THD_LOW' })).toBe('OK');
      expect(await ruleCount()).toBe(rules - 1);
      expect((await rpc(B, 'APIerSv1.GetThresholdProfile', { ID: 'THD_LOW' })).error).toBe('NOT_FOUND');
      expect((await rpc(B, 'APIerSv1.RemoveThresholdProfile', { ID: 'THD_LOW' })).error).toBe('NOT_FOUND');
    },
  );

  it('what does not map is refused, nothing stored', async () => {
    const cases: [object, RegExp][] = [
      [{ FilterIDs: ['FLTR_LOW'] }, /^NOT_IMPLEMENTED: filter "FLTR_LOW": only inline filters/],
      [{ FilterIDs: ['*gte:~*req.Units:3'] }, /^NOT_IMPLEMENTED: filter/],
      [
        { FilterIDs: ['*string:~*req.Account:t2|t3', '*lt:~*req.Units:3'] },
        /^NOT_IMPLEMENTED: filter .*several values/,
      ],
      [{ FilterIDs: ['*string:~*req.Account:t2'] }, /^NOT_IMPLEMENTED: a profile without/],
      [{ Blocker: true }, /^NOT_IMPLEMENTED: Blocker/],
      [{ MaxHits: 5 }, /^NOT_IMPLEMENTED: MaxHits 5/],
      [{ MinHits: 3 }, /^NOT_IMPLEMENTED: MinHits 3/],
      [
        { ActivationInterval: { ActivationTime: '2026-01-01T00:00:00Z' } },
        /^NOT_IMPLEMENTED: ActivationInterval/,
      ],
      [{ ActionIDs: ['ACT_TOPUP'] }, /^NOT_IMPLEMENTED: action \*topup/],
      [{ MinSleep: '1s' }, /^json: cannot unmarshal string into Go struct field ThresholdWithCache.MinSleep/],
      [{ ID: '' }, /^MANDATORY_IE_MISSING: \[ID\]/],
    ];
    const rules = await ruleCount();
    for (const [change, error] of cases)
      expect(
        (await rpc(B, 'APIerSv1.SetThresholdProfile', { ...THD, ID: 'THD_BAD', ...change })).error,
      ).toMatch(error);
    expect((await rpc(B, 'APIerSv1.GetThresholdProfile', { ID: 'THD_BAD' })).error).toBe('NOT_FOUND');
    expect(await ruleCount()).toBe(rules);
  });
});

describe('hostile requests to these methods', () => {
  const METHODS = [
    'APIerSv1.SetActionTrigger',
    'APIerSv1.GetActionTriggers',
    'APIerSv1.RemoveActionTrigger',
    'APIerSv1.AddAccountActionTriggers',
    'APIerSv1.SetAccountActionTriggers',
    'APIerSv1.GetAccountActionTriggers',
    'APIerSv1.RemoveAccountActionTriggers',
    'APIerSv1.SetThresholdProfile',
    'APIerSv1.GetThresholdProfile',
    'APIerSv1.RemoveThresholdProfile',
    'APIerSv2.SetAccount',
  ];
  const text = fc.oneof(
    fc.string(),
    fc.constantFrom('t1', 'LOW_5', 'u1', 'a\u0000b', 'x y', '{t}', 'a:b', 'ACT_NOTIFY'),
  );
  const value = fc.oneof(
    text,
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constantFrom('*min_balance', '*monetary', '*voice', '1e400', '-1', '10s', '*lt:~*req.Units:3'),
    fc.array(text),
    fc.dictionary(
      fc.constantFrom(
        'ThresholdType',
        'ThresholdValue',
        'BalanceType',
        'ActionsID',
        'MinSleep',
        'Recurrent',
        'BalanceID',
      ),
      fc.oneof(
        text,
        fc.double(),
        fc.boolean(),
        fc.constant(null),
        fc.constantFrom('*min_balance', '*monetary', 'ACT_NOTIFY'),
      ),
    ),
  );
  const FIELDS = [
    'Tenant',
    'Account',
    'GroupID',
    'UniqueID',
    'ActionTrigger',
    'ActionTriggerIDs',
    'GroupIDs',
  ].concat([
    'ID',
    'FilterIDs',
    'ActionIDs',
    'MaxHits',
    'MinHits',
    'MinSleep',
    'ActionTriggerOverwrite',
    'Executed',
  ]);

  it('text PostgreSQL cannot hold (a NUL) is refused as bad input', async () => {
    const nul = 'a\u0000b';
    const calls: [string, object][] = [
      ['APIerSv1.SetActionTrigger', { ...LOW_5, GroupID: nul }],
      ['APIerSv1.SetActionTrigger', { ...LOW_5, ActionTrigger: { ...LOW_5.ActionTrigger, ActionsID: nul } }],
      ['APIerSv1.GetActionTriggers', { GroupIDs: [nul] }],
      ['APIerSv1.RemoveActionTrigger', { GroupID: nul }],
      ['APIerSv1.AddAccountActionTriggers', { Account: 't1', ActionTriggerIDs: [nul] }],
      ['APIerSv1.RemoveAccountActionTriggers', { Account: 't1', GroupID: nul }],
      ['APIerSv1.SetThresholdProfile', { ID: nul, FilterIDs: ['*lt:~*req.Units:3'] }],
      ['APIerSv1.SetThresholdProfile', { ID: 'T', FilterIDs: ['*lt:~*req.Units:3'], ActionIDs: [nul] }],
      [
        'APIerSv1.SetThresholdProfile',
        { ID: 'T', FilterIDs: ['*lt:~*req.Units:3', `*string:~*req.Account:${nul}`] },
      ],
      ['APIerSv1.GetThresholdProfile', { ID: nul }],
      ['APIerSv1.RemoveThresholdProfile', { ID: nul }],
    ];
    for (const [m, arg] of calls)
      expect((await rpc(B, m, arg)).error, m).toMatch(/^UNSUPPORTED_FORMAT|^NOT_FOUND/);
  });

  it('never a 500, never SERVER_ERROR', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...METHODS),
        fc.dictionary(fc.constantFrom(...FIELDS), value),
        async (m, arg) => {
          const r = await rpc(B, m, arg);
          expect([200, 400], r.raw).toContain(r.status);
          if (r.status === 200)
            expect(String(r.error ?? ''), `${m} ${JSON.stringify(arg)}`).not.toMatch(/^SERVER_ERROR/);
        },
      ),
      { numRuns: 300 },
    );
  });
});
