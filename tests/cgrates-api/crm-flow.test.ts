/**
 * Issue 15's proof: a whole CRM flow through CGRateS's JSON-RPC API only, as an OmniCRM-style CRM
 * drives it, once over HTTP POST /jsonrpc and once over the plain TCP listener: create an account,
 * top up, define actions, renew a bundle by an action plan, sell an add-on, charge calls through
 * SessionSv1.*, read the account and CDRs, and a low-balance trigger that fires once. Every reply is
 * checked against CGRateS's shape (cgr-shapes.ts), not only its values.
 *
 * Steps other helpers add are marked `// STEP:`; each transport uses an account of its own.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { createBalanceStore } from '../../src/balances/store.js';
import { renewDue } from '../../src/billing/plans/renewals.js';
import { ensureNotificationsSchema } from '../../src/notifications/schema.js';
import { drainOutboxes } from '../../src/storage/outbox.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { ensureWebhooksSchema } from '../../src/webhooks/schema.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import {
  ACCOUNT,
  ACTIONS_MAP,
  EXTERNAL_CDR,
  EXTERNAL_SESSION,
  SESSION_REPLY,
  shapeErrors,
  type Spec,
} from './cgr-shapes.js';
import { detectAll } from './detect.js';
import { httpTransport, tcpTransport, type Reply, type Transport } from './transports.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const NOW = Date.parse('2026-11-20T10:15:00Z');
const B = 'demo-billing';
const N = 'demo-network';
let app: FastifyInstance;

beforeAll(async () => {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await ensureLedgerSchema(pool, schema);
  await ensureRecordsSchema(pool, schema);
  await ensureCdrSchema(pool, schema);
  await ensureWebhooksSchema(pool, schema); // the events a trigger records
  await ensureNotificationsSchema(pool, schema);
  ({ app } = await testApp({
    redis,
    prefix,
    now: () => NOW,
    cgrates: { currency: 'GBP', now: () => NOW, store: { pool, schema }, tcpPort: 0 },
  }));
  await app.ready();
});
afterAll(() => app.close());

/** The reply's result, after checking it has no error and fits CGRateS's shape. */
function ok(r: Reply, spec: Spec): unknown {
  expect(r.error, JSON.stringify(r)).toBeNull();
  expect(shapeErrors(r.result, spec)).toEqual([]);
  return r.result;
}

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
];

const transports: [string, () => Promise<Transport>][] = [
  ['HTTP /jsonrpc', async () => httpTransport(app)],
  ['TCP', () => tcpTransport(app.cgratesTcpPort())],
];

describe.each(transports)('a CRM flow over %s', (name, open) => {
  const Account = `crm-${name.startsWith('TCP') ? 'tcp' : 'http'}`;
  const ActionsId = `Action_data_1gb_${Account}`;
  let t: Transport;
  const call = (key: string, method: string, arg?: object) => t.call(key, method, arg);
  const event = (OriginID: string, more: object = {}) => ({
    Account,
    Destination: '+442071234567',
    OriginID: `${Account}-${OriginID}`,
    OriginHost: 'fs1',
    ToR: '*voice',
    RequestType: '*prepaid',
    AnswerTime: '2026-11-20T10:15:00Z',
    ...more,
  });
  const account = async () =>
    ok(await call(B, 'APIerSv2.GetAccount', { Tenant: 'acme', Account }), ACCOUNT) as {
      BalanceMap: Record<string, { ID: string; Value: number }[]>;
    };
  const money = async () =>
    ((await account()).BalanceMap['*monetary'] ?? []).reduce((sum, b) => sum + Math.round(b.Value * 1e4), 0) /
    1e4;

  beforeAll(async () => {
    t = await open();
  });
  afterAll(() => t.close());

  it('pings, creates the account and tops it up', async () => {
    expect(ok(await call(B, 'APIerSv1.Ping'), 'string')).toBe('Pong');
    expect(ok(await call(B, 'APIerSv2.SetAccount', { Tenant: 'acme', Account }), 'string')).toBe('OK');
    const topup = { Tenant: 'acme', Account, BalanceType: '*monetary', Value: 20, Balance: { ID: 'main' } };
    expect(ok(await call(B, 'APIerSv1.AddBalance', topup), 'string')).toBe('OK');
    const a = await account();
    expect(a).toMatchObject({
      ID: `acme:${Account}`,
      BalanceMap: { '*monetary': [{ ID: 'main', Value: 20 }] },
    });
  });

  it('defines the add-on actions and reads them back', async () => {
    const set = await call(B, 'APIerSv2.SetActions', { ActionsId, Actions: ADDON });
    expect(ok(set, 'string')).toBe('OK');
    const got = ok(await call(B, 'APIerSv2.GetActions', { ActionIDs: [ActionsId] }), ACTIONS_MAP);
    expect((got as Record<string, unknown[]>)[ActionsId]).toHaveLength(2);
  });

  it('renews a monthly bundle by an action plan: SetActionPlan, SetAccount, the plan renewal', async () => {
    // engine.ActionPlan and apier/v1 AccountActionTiming (engine/action_plan.go, apier/v1/accounts.go).
    const list = 'null|array';
    const TIMING = {
      ID: 'string',
      Years: list,
      Months: list,
      MonthDays: list,
      WeekDays: list,
      StartTime: 'string',
      EndTime: 'string',
    };
    const ACTION_PLAN = {
      Id: 'string',
      AccountIDs: { '*': 'boolean' },
      ActionTimings: [
        {
          Uuid: 'string',
          Timing: { Timing: TIMING, Rating: 'null', Weight: 'number' },
          ActionsID: 'string',
          ExtraData: 'null',
          Weight: 'number',
        },
      ],
    };
    const AT = { ActionPlanId: 'string', Uuid: 'string', ActionsId: 'string', NextExecTime: 'string' };
    const bundle = `Bundle_sms_${Account}`;
    const Id = `AP_monthly_${Account}`;
    const Actions = [
      { Identifier: '*topup', BalanceId: 'sms', BalanceType: '*sms', Units: '100', Weight: 10 },
    ];
    expect(ok(await call(B, 'APIerSv2.SetActions', { ActionsId: bundle, Actions }), 'string')).toBe('OK');
    const ActionPlan = [
      { ActionsId: bundle, Time: '*monthly', Weight: 10 },
      { ActionsId: bundle, Time: '*asap', Weight: 20 },
    ];
    expect(ok(await call(B, 'APIerSv1.SetActionPlan', { Id, ActionPlan }), 'string')).toBe('OK');
    const bind = { Tenant: 'acme', Account, ActionPlanIDs: [Id] };
    expect(ok(await call(B, 'APIerSv2.SetAccount', bind), 'string')).toBe('OK');
    expect(ok(await call(B, 'APIerSv2.SetAccount', bind), 'string')).toBe('OK'); // a CRM's retry
    const [plan] = ok(await call(B, 'APIerSv1.GetActionPlan', { ID: Id }), [ACTION_PLAN]) as object[];
    expect(plan).toMatchObject({ AccountIDs: { [`acme:${Account}`]: true } });
    const timings = ok(await call(B, 'APIerSv1.GetAccountActionPlan', { Tenant: 'acme', Account }), [AT]);
    // *monthly: the day of month the plan was set (the 20th), at the account's midnight (UTC).
    expect(timings).toContainEqual(
      expect.objectContaining({ ActionPlanId: Id, NextExecTime: '2026-12-20T00:00:00Z' }),
    );
    const sms = async () => (await account()).BalanceMap['*sms']!.map((b) => [b.ID, b.Value]);
    expect(await sms()).toEqual([['plan.1.sms', 100]]);
    // The engine's one plan renewal (the billing run calls it) at the period end; run twice: once.
    const asOf = Date.parse('2026-12-20T00:00:00Z');
    const balances = createBalanceStore({ redis, keyPrefix: prefix, now: () => NOW });
    const renew = () =>
      renewDue({ pool, schema, balances, now: () => asOf }, 'acme', asOf, { accounts: [Account] });
    expect(await renew()).toMatchObject({ renewed: 1 });
    expect(await renew()).toMatchObject({ renewed: 0 });
    // *topup adds to what is left: the unused 100 roll over beside the new 100.
    expect(await sms()).toEqual([
      ['plan.1.sms', 100],
      ['plan.1.sms.ro1', 100],
    ]);
    expect(await money()).toBe(20);
  });

  it('sells the add-on once per Reference', async () => {
    const sell = { Tenant: 'acme', Account, ActionsId, Reference: `${Account}-order-1` };
    expect(ok(await call(B, 'APIerSv1.ExecuteAction', sell), 'string')).toBe('OK');
    expect(ok(await call(B, 'APIerSv1.ExecuteAction', sell), 'string')).toBe('OK'); // a CRM's retry
    const a = await account();
    expect(a.BalanceMap['*data']).toEqual([expect.objectContaining({ ID: 'data-addon', Value: 1073741824 })]);
    expect(await money()).toBe(20.5);
  });

  it('charges a call through SessionSv1 authorize, initiate, update, terminate', async () => {
    const auth = await call(N, 'SessionSv1.AuthorizeEvent', {
      GetMaxUsage: true,
      Tenant: 'acme',
      Event: event('call-1', { Usage: '60s' }),
    });
    expect(ok(auth, SESSION_REPLY)).toMatchObject({ MaxUsage: 60e9 });
    const init = await call(N, 'SessionSv1.InitiateSession', {
      InitSession: true,
      Tenant: 'acme',
      Event: event('call-1', { Usage: 60e9 }),
    });
    expect(ok(init, SESSION_REPLY)).toMatchObject({ MaxUsage: 60e9 });
    const active = await call(N, 'SessionSv1.GetActiveSessions', {
      Filters: [`*string:~*req.OriginID:${Account}-call-1`],
    });
    expect(ok(active, [EXTERNAL_SESSION])).toHaveLength(1);
    const upd = await call(N, 'SessionSv1.UpdateSession', {
      UpdateSession: true,
      Tenant: 'acme',
      Event: event('call-1', { Usage: '1m', LastUsed: '50s' }),
    });
    expect(ok(upd, SESSION_REPLY)).toMatchObject({ MaxUsage: 60e9 });
    const end = await call(N, 'SessionSv1.TerminateSession', {
      TerminateSession: true,
      Tenant: 'acme',
      Event: event('call-1', { Usage: '95s' }),
    });
    expect(ok(end, 'string')).toBe('OK');
    // 95 s to UK_FIXED at peak is 0.2084 (tests/cgrates-api/sessions.test.ts).
    expect(await money()).toBe(20.2916);
  });

  it('charges a rated CDR once through SessionSv1.ProcessCDR', async () => {
    const cdr = { Tenant: 'acme', Event: event('cdr-1', { Usage: '95s' }) };
    expect(ok(await call(N, 'SessionSv1.ProcessCDR', cdr), 'string')).toBe('OK');
    expect(ok(await call(N, 'SessionSv1.ProcessCDR', cdr), 'string')).toBe('OK'); // the switch's retry
    expect(await money()).toBe(20.0832);
  });

  it('reads the CDRs a CRM invoices from', async () => {
    await drainOutboxes({ redis, pool, schema, keyPrefix: prefix });
    const cdrs = ok(await call(B, 'CDRsV2.GetCDRs', { Accounts: [Account] }), [EXTERNAL_CDR]) as {
      Cost: number;
      Usage: string;
    }[];
    expect(cdrs.map((c) => c.Cost)).toEqual([0.2084, 0.2084]);
    // The closed session's record and the ProcessCDR event's both hold 95 (seconds: one unit in
    // rated_records), read back as the Go duration.
    expect(cdrs.map((c) => c.Usage)).toEqual(['1m35s', '1m35s']);
    expect(ok(await call(B, 'APIerSv2.CountCDRs', { Accounts: [Account] }), 'number')).toBe(2);
  });

  // The detector waits for other files' long transactions on the shared server (detect.ts).
  it(
    'warns once on low balance: a *min_balance trigger bound to the account fires once',
    { timeout: 600_000 },
    async () => {
      // engine.ActionTrigger (engine/action_trigger.go) with its BalanceFilter (engine/balance_filter.go).
      const FILTER = 'null|string|number|boolean|object';
      const BALANCE_FILTER = Object.fromEntries(
        ['Uuid', 'ID', 'Type', 'Value', 'ExpirationDate', 'Weight', 'DestinationIDs', 'RatingSubject']
          .concat(['Categories', 'SharedGroups', 'TimingIDs', 'Timings', 'Disabled', 'Factor', 'Blocker'])
          .map((k) => [k, FILTER]),
      );
      const ACTION_TRIGGER = {
        ID: 'string',
        UniqueID: 'string',
        ThresholdType: 'string',
        ThresholdValue: 'number',
        Recurrent: 'boolean',
        MinSleep: 'number',
        ExpirationDate: 'string',
        ActivationDate: 'string',
        Balance: BALANCE_FILTER,
        Weight: 'number',
        ActionsID: 'string',
        MinQueuedItems: 'number',
        Executed: 'boolean',
        LastExecutionTime: 'string',
      };
      const notify = `Action_low_${Account}`;
      const GroupID = `AT_low_20_${Account}`;
      expect(
        ok(
          await call(B, 'APIerSv2.SetActions', { ActionsId: notify, Actions: [{ Identifier: '*log' }] }),
          'string',
        ),
      ).toBe('OK');
      const trigger = {
        GroupID,
        UniqueID: 'low-20',
        ActionTrigger: {
          ThresholdType: '*min_balance',
          ThresholdValue: 20,
          BalanceType: '*monetary',
          ActionsID: notify,
        },
      };
      expect(ok(await call(B, 'APIerSv1.SetActionTrigger', trigger), 'string')).toBe('OK');
      ok(await call(B, 'APIerSv1.GetActionTriggers', { GroupIDs: [GroupID] }), [ACTION_TRIGGER]);
      const bind = { Tenant: 'acme', Account, ActionTriggerIDs: [GroupID] };
      const balances = createBalanceStore({ redis, keyPrefix: prefix, now: () => NOW });
      const lows = async () => {
        // The engine's notification detector, as its job runs it each second, over the drained ledger.
        await detectAll({ redis, prefix, pool, schema, balances });
        const r = await pool.query<{ type: string; payload: { rule: string; value: string } }>(
          `SELECT type, payload FROM ${schema}.events WHERE tenant = 'acme' AND account_id = $1 ORDER BY sequence`,
          [Account],
        );
        return r.rows.map((e) => [e.type, e.payload.rule, e.payload.value]);
      };
      await lows(); // the detector is up to date (it judges what moves after a rule is set)
      expect(ok(await call(B, 'APIerSv1.AddAccountActionTriggers', bind), 'string')).toBe('OK');
      for (const id of ['cdr-2', 'cdr-3']) {
        const cdr = { Tenant: 'acme', Event: event(id, { Usage: '95s' }) };
        expect(ok(await call(N, 'SessionSv1.ProcessCDR', cdr), 'string')).toBe('OK');
        // 19.8748, then 19.6664: fired on the first crossing only.
        // The first charge empties the bonus (0.0832) and takes main from 20 to 19.8748: each *monetary
        // balance is judged on its own, as CGRateS does; the second (main 19.6664) fires nothing.
        expect(await lows()).toEqual([
          ['balance.low', `cgr-at:${Account}:${GroupID}:low-20`, '0'],
          ['balance.low', `cgr-at:${Account}:${GroupID}:low-20`, '19.8748'],
        ]);
      }
      const bound = ok(await call(B, 'APIerSv1.GetAccountActionTriggers', { Tenant: 'acme', Account }), [
        ACTION_TRIGGER,
      ]);
      expect(bound).toMatchObject([{ ID: GroupID, UniqueID: 'low-20', ThresholdValue: 20, Executed: true }]);
    },
  );
});
