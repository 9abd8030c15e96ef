/**
 * Every method of /jsonrpc (dispatch.ts's table, all of it) with its stores: the real Redis and
 * PostgreSQL, on an engine holding accounts, balances, action profiles, triggers, a threshold and an
 * action plan. Each call is a plausible one with hostile fields over it; whatever it is, the answer
 * is never a 500 nor SERVER_ERROR, and a refused call changes nothing, in Redis or PostgreSQL.
 * (hostile.test.ts runs without PostgreSQL, where these methods stop at NOT_IMPLEMENTED.)
 */
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { METHOD_NAMES } from '../../src/cgrates-api/dispatch.js';
import { ensureNotificationsSchema } from '../../src/notifications/schema.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { ensureWebhooksSchema } from '../../src/webhooks/schema.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { dumpKeys } from '../support/redis-dump.js';
import { testRedis } from '../support/redis.js';
import { rpcClient } from './rpc.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
/** An engine whose schema never had trigger tables (GetAccount must not make them). */
const bare = testPostgres();
const NOW = Date.parse('2026-11-20T10:00:00Z');
const B = 'demo-billing';
let app: FastifyInstance;
let rpc: ReturnType<typeof rpcClient>;

const TOPUP = [{ Identifier: '*topup', BalanceType: '*monetary', Units: '1', BalanceId: 'main', Weight: 10 }];
const DATA = [{ Identifier: '*topup', BalanceId: 'data', BalanceType: '*data', Units: '1024', Weight: 20 }];
const TRIGGER = {
  ThresholdType: '*min_balance',
  ThresholdValue: 1,
  BalanceType: '*monetary',
  ActionsID: 'ACT_LOG',
};
const EVENT = {
  Account: 'h1',
  OriginID: 'o1',
  OriginHost: 'hst',
  Destination: '+442071234567',
  Usage: '1m',
  ToR: '*voice',
  AnswerTime: '2026-11-20T10:00:00Z',
};

/** A plausible call of each method on the seeded engine; the property writes hostile fields over it. */
const PLAUSIBLE: Record<string, object> = {
  'APIerSv1.Ping': {},
  'APIerSv2.SetAccount': { Account: 'h3', ActionTriggerIDs: ['LOW'] },
  'APIerSv1.SetAccount': { Account: 'h3', ActionPlanIDs: ['AP1'] },
  'APIerSv2.GetAccount': { Account: 'h2' },
  'APIerSv1.GetAccount': { Account: 'h1' },
  'APIerSv2.GetAccounts': { AccountIDs: ['h1', 'h2'] },
  'APIerSv1.RemoveAccount': { Account: 'h3' },
  'APIerSv1.AddBalance': { Account: 'h1', BalanceType: '*monetary', Value: 1, Balance: { ID: 'main' } },
  'APIerSv1.DebitBalance': { Account: 'h1', BalanceType: '*monetary', Value: 1 },
  'APIerSv1.SetBalance': { Account: 'h1', BalanceType: '*monetary', Value: 5, Balance: { ID: 'b2' } },
  'APIerSv2.SetBalance': { Account: 'h1', BalanceType: '*data', Value: 1024, Balance: { ID: 'd1' } },
  'APIerSv1.RemoveBalances': { Account: 'h1', BalanceType: '*monetary', Balance: { ID: 'b2' } },
  'APIerSv1.GetCost': { Subject: 'h1', Destination: '+442071234567', AnswerTime: '*now', Usage: '1m' },
  'APIerSv1.GetMaxUsage': { Account: 'h1', Destination: '+442071234567', ToR: '*voice' },
  'APIerSv1.GetMaxSessionTime': {
    Account: 'h1',
    Destination: '+442071234567',
    TimeStart: '2026-11-20T10:00:00Z',
    TimeEnd: '2026-11-20T10:01:00Z',
  },
  'SessionSv1.AuthorizeEvent': { GetMaxUsage: true, Event: EVENT },
  'SessionSv1.InitiateSession': { InitSession: true, Event: EVENT },
  'SessionSv1.UpdateSession': { UpdateSession: true, Event: EVENT },
  'SessionSv1.TerminateSession': { TerminateSession: true, Event: EVENT },
  'SessionSv1.ProcessCDR': { Event: { ...EVENT, OriginID: 'c1' } },
  'SessionSv1.GetActiveSessions': { Filters: ['*string:~*req.Account:h1'] },
  'SessionSv1.ForceDisconnect': { Filters: ['*string:~*req.OriginID:o1'] },
  'APIerSv1.LoadTariffPlanFromFolder': { FolderPath: 'sample-cgrates', DryRun: true },
  'APIerSv2.SetActions': { ActionsId: 'ACT_NEW', Actions: TOPUP },
  'APIerSv2.GetActions': { ActionIDs: ['ACT_TOP'] },
  'APIerSv2.RemoveActions': { ActionIDs: ['ACT_NEW'] },
  'APIerSv1.ExecuteAction': { Account: 'h1', ActionsId: 'ACT_TOP', Reference: 'r1' },
  'APIerSv1.SetActionTrigger': { GroupID: 'LOW', UniqueID: 'u2', ActionTrigger: TRIGGER },
  'APIerSv1.GetActionTriggers': { GroupIDs: ['LOW'] },
  'APIerSv1.RemoveActionTrigger': { GroupID: 'LOW', UniqueID: 'u2' },
  'APIerSv1.AddAccountActionTriggers': { Account: 'h1', ActionTriggerIDs: ['LOW'] },
  'APIerSv1.SetAccountActionTriggers': {
    Account: 'h2',
    GroupID: 'LOW',
    UniqueID: 'u1',
    ActionTrigger: { ThresholdValue: 2 },
  },
  'APIerSv1.GetAccountActionTriggers': { Account: 'h2' },
  'APIerSv1.RemoveAccountActionTriggers': { Account: 'h1', GroupID: 'LOW' },
  'APIerSv1.SetThresholdProfile': { ID: 'TH2', FilterIDs: ['*lt:~*req.Units:3'], ActionIDs: ['ACT_LOG'] },
  'APIerSv1.GetThresholdProfile': { ID: 'TH1' },
  'APIerSv1.GetThresholdProfileIDs': {},
  'APIerSv1.RemoveThresholdProfile': { ID: 'TH2' },
  'CDRsV2.GetCDRs': { Accounts: ['h1'], Limit: 5 },
  'APIerSv2.GetCDRs': { Accounts: ['h1'], Limit: 5 },
  'APIerSv2.CountCDRs': { Accounts: ['h1'] },
  'APIerSv1.SetActionPlan': {
    Id: 'AP2',
    ActionPlan: [{ ActionsId: 'ACT_DATA', Time: '00:00:00', MonthDays: '1', Weight: 10 }],
  },
  'APIerSv1.GetActionPlan': { ID: 'AP1' },
  'APIerSv1.RemoveActionPlan': { ID: 'AP2' },
  'APIerSv1.GetAccountActionPlan': { Account: 'h1' },
};

/** The operator's method (the shared tariff); every other one as billing, who may call them all. */
const keyOf = (method: string) => (method === 'APIerSv1.LoadTariffPlanFromFolder' ? 'demo-operator' : B);

beforeAll(async () => {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await ensureLedgerSchema(pool, schema);
  await ensureRecordsSchema(pool, schema);
  await ensureCdrSchema(pool, schema);
  await ensureWebhooksSchema(pool, schema);
  await ensureNotificationsSchema(pool, schema);
  ({ app } = await testApp({
    redis,
    prefix,
    now: () => NOW,
    cgrates: { currency: 'GBP', now: () => NOW, store: { pool, schema }, tariffRoot: 'tariffs' },
  }));
  rpc = rpcClient(app);
  const seed: [string, object][] = [
    ['APIerSv2.SetActions', { ActionsId: 'ACT_TOP', Actions: TOPUP }],
    ['APIerSv2.SetActions', { ActionsId: 'ACT_LOG', Actions: [{ Identifier: '*log' }] }],
    ['APIerSv2.SetActions', { ActionsId: 'ACT_DATA', Actions: DATA }],
    ['APIerSv1.SetActionTrigger', { GroupID: 'LOW', UniqueID: 'u1', ActionTrigger: TRIGGER }],
    ['APIerSv1.SetThresholdProfile', { ID: 'TH1', FilterIDs: ['*lt:~*req.Units:3'], ActionIDs: ['ACT_LOG'] }],
    [
      'APIerSv1.SetActionPlan',
      { Id: 'AP1', ActionPlan: [{ ActionsId: 'ACT_DATA', Time: '00:00:00', MonthDays: '1', Weight: 10 }] },
    ],
    ['APIerSv2.SetAccount', { Account: 'h1' }],
    ['APIerSv1.AddBalance', { Account: 'h1', BalanceType: '*monetary', Value: 20, Balance: { ID: 'main' } }],
    ['APIerSv2.SetAccount', { Account: 'h2', ActionTriggerIDs: ['LOW'] }],
  ];
  for (const [m, arg] of seed) expect((await rpc(B, m, arg)).error, `${m} ${JSON.stringify(arg)}`).toBeNull();
});
afterAll(() => app.close());

/** Every row of every table of the test's schema, as a digest per non-empty table. */
async function rows(): Promise<Record<string, string>> {
  const tables = await pool.query<{ t: string }>(
    `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`,
    [schema],
  );
  const parts = tables.rows.map(
    ({ t }) =>
      `SELECT '${t}' AS t, count(*)::int AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM ${schema}."${t}" x`,
  );
  const r = await pool.query<{ t: string; n: number; h: string }>(parts.join(' UNION ALL '));
  return Object.fromEntries(r.rows.filter((x) => x.n > 0).map((x) => [x.t, `${x.n}:${x.h}`]));
}

const state = async () => ({ redis: await dumpKeys(redis, prefix), pg: await rows() });

const text = fc.oneof(
  fc.string(),
  fc.constantFrom(
    'h1',
    'h2',
    'h9',
    'main',
    'LOW',
    'u1',
    'ACT_TOP',
    'ACT_LOG',
    'TH1',
    'AP1',
    'a\u0000b',
    'a:b',
    '*',
  ),
);
const value = fc.oneof(
  text,
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(
    '*monetary',
    '*voice',
    '*data',
    '*min_balance',
    '+720h',
    '1m',
    '-1',
    '1e400',
    '*now',
    '*monthly',
  ),
  fc.array(text, { maxLength: 3 }),
  fc.array(fc.dictionary(fc.constantFrom('Identifier', 'ActionsId', 'Time', 'Units', 'BalanceType'), text), {
    maxLength: 2,
  }),
  fc.dictionary(
    fc.constantFrom(
      'ID',
      'Account',
      'OriginID',
      'Usage',
      'ThresholdValue',
      'ThresholdType',
      'ExpiryTime',
      'Weight',
    ),
    fc.jsonValue({ maxDepth: 2 }),
  ),
);
const FIELDS = [
  ...new Set([
    ...Object.values(PLAUSIBLE).flatMap((a) => Object.keys(a)),
    'Tenant',
    'Overwrite',
    'ToR',
    'Offset',
    'Limit',
    'Reference',
    'ActionTriggerOverwrite',
    'ActionPlansOverwrite',
    'Executed',
    'ActivationDate',
    'ExtraOptions',
    'Tenants',
    'Categories',
  ]),
];

describe('hostile requests to every method, with its stores', () => {
  it('the property calls every method dispatch.ts serves', () => {
    expect(Object.keys(PLAUSIBLE).sort()).toEqual([...METHOD_NAMES].sort());
  });

  it('never a 500, never SERVER_ERROR; a refused call changes nothing', { timeout: 600_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...METHOD_NAMES),
        fc.boolean(),
        fc.dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 3 }),
        async (method, plausible, hostile) => {
          const arg = { ...(plausible ? PLAUSIBLE[method] : {}), ...hostile };
          const before = await state();
          const r = await rpc(keyOf(method), method, arg);
          const call = `${method} ${JSON.stringify(arg)}: ${r.raw}`;
          // 400: the app's JSON reader refuses a `__proto__` key before any route (problem+json).
          expect([200, 400], call).toContain(r.status);
          expect(String(r.error ?? ''), call).not.toMatch(/^SERVER_ERROR/);
          if (r.status !== 200 || r.error !== null) expect(await state(), call).toEqual(before);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('GetAccount where no trigger was ever set', () => {
  it('answers ActionTriggers null and creates no table', async () => {
    await bare.pool.query(`CREATE SCHEMA IF NOT EXISTS ${bare.schema}`);
    await ensureLedgerSchema(bare.pool, bare.schema);
    const { app: other } = await testApp({
      redis,
      prefix: `${prefix}bare:`,
      cgrates: { currency: 'GBP', store: bare },
    });
    try {
      const call = rpcClient(other);
      expect((await call(B, 'APIerSv2.SetAccount', { Account: 'b1' })).error).toBeNull();
      for (const m of ['APIerSv2.GetAccount', 'APIerSv1.GetAccount'])
        expect((await call(B, m, { Account: 'b1' })).result).toMatchObject({ ActionTriggers: null });
      expect((await call(B, 'APIerSv2.GetAccounts', { AccountIDs: ['b1'] })).result).toMatchObject([
        { ActionTriggers: null },
      ]);
      const t = await bare.pool.query('SELECT to_regclass($1) AS t', [`${bare.schema}.cgr_account_triggers`]);
      expect(t.rows).toEqual([{ t: null }]);
    } finally {
      await other.close();
    }
  });
});
