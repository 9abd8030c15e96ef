/**
 * The action types beyond top-up and debit (engine/action.go's topupResetAction, debitResetAction,
 * resetAccountAction, setExpiryAction, allow/denyNegativeAction) through SetActions and
 * ExecuteAction, on the real Redis and PostgreSQL: each type's effect on GetAccount, a replay with
 * the same Reference moves nothing again, a profile refused for the account writes nothing,
 * `*http_post` as an event for the tenant's webhook endpoint of its URL, and ids with a NUL refused
 * before any query by every method.
 */
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalanceStore } from '../../src/balances/store.js';
import { DEMO_KEYS } from '../../src/config.js';
import { ensureCgratesSchema } from '../../src/cgrates-api/actions-store.js';
import { runKey } from '../../src/cgrates-api/run-once.js';
import { ensureWebhooksSchema } from '../../src/webhooks/schema.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { dumpKeys } from '../support/redis-dump.js';
import { testRedis } from '../support/redis.js';
import { dumpTables } from './pg-dump.js';
import { rpcClient } from './rpc.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const NOW = Date.parse('2026-11-20T10:00:00Z');
let app: FastifyInstance;
let store: BalanceStore;
let rpc: ReturnType<typeof rpcClient>;
const B = 'demo-billing';

beforeAll(async () => {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await ensureWebhooksSchema(pool, schema);
  ({ app, balances: store } = await testApp({
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

type Map = Record<string, { ID: string; Value: number; ExpirationDate: string }[]>;
const balanceMap = async (Account: string) =>
  ((await ok('APIerSv2.GetAccount', { Account })) as { BalanceMap: Map }).BalanceMap;
const values = async (Account: string, type: string) =>
  Object.fromEntries(((await balanceMap(Account))[type] ?? []).map((b) => [b.ID, b.Value]));

const setActions = (ActionsId: string, Actions: object[]) =>
  ok('APIerSv2.SetActions', { ActionsId, Actions, Overwrite: true });
const exec = (Account: string, ActionsId: string, Reference?: string) =>
  rpc(B, 'APIerSv1.ExecuteAction', { Account, ActionsId, ...(Reference ? { Reference } : {}) });
const add = (Account: string, BalanceType: string, Value: number, ID: string) =>
  ok('APIerSv1.AddBalance', { Account, BalanceType, Value, Balance: { ID } });

describe('more action types', () => {
  it('*topup_reset sets the balance to the Units (creating it), up or down; a replay moves nothing', async () => {
    await setActions('RST5', [
      { Identifier: '*topup_reset', BalanceId: 'main', BalanceType: '*monetary', Units: '5' },
      { Identifier: '*topup_reset', BalanceId: 'sms', BalanceType: '*sms', Units: '100', Weight: 10 },
    ]);
    await add('r1', '*monetary', 2, 'main');
    await add('r2', '*monetary', 8.5, 'main');
    await add('r2', '*sms', 130, 'sms');
    for (const acct of ['r1', 'r2']) expect((await exec(acct, 'RST5', 'p1')).result).toBe('OK');
    expect(await values('r1', '*monetary')).toEqual({ main: 5 });
    expect(await values('r1', '*sms')).toEqual({ sms: 100 });
    expect(await values('r2', '*monetary')).toEqual({ main: 5 });
    expect(await values('r2', '*sms')).toEqual({ sms: 100 });
    // Spent, then the same Reference again: nothing moves; a new Reference resets again.
    await add('r2', '*monetary', -1.25, 'main');
    expect((await exec('r2', 'RST5', 'p1')).result).toBe('OK');
    expect(await values('r2', '*monetary')).toEqual({ main: 3.75 });
    expect((await exec('r2', 'RST5', 'p2')).result).toBe('OK');
    expect(await values('r2', '*monetary')).toEqual({ main: 5 });
  });

  it('*debit_reset sets the balance to zero; with Units it is refused when set, nothing stored', async () => {
    await setActions('ZERO', [{ Identifier: '*debit_reset', BalanceId: 'bonus', BalanceType: '*monetary' }]);
    await add('d1', '*monetary', 3, 'bonus');
    await add('d1', '*monetary', 1, 'main');
    expect((await exec('d1', 'ZERO', 'z1')).result).toBe('OK');
    expect(await values('d1', '*monetary')).toEqual({ bonus: 0, main: 1 });
    const r = await rpc(B, 'APIerSv2.SetActions', {
      ActionsId: 'NEG',
      Actions: [{ Identifier: '*debit_reset', BalanceType: '*monetary', Units: '1' }],
    });
    expect(r.error).toMatch(/^NOT_IMPLEMENTED: \*debit_reset with Units/);
    expect((await rpc(B, 'APIerSv2.GetActions', { ActionIDs: ['NEG'] })).error).toBe('NOT_FOUND');
  });

  it('*reset_account zeroes every balance once per Reference', async () => {
    await setActions('WIPE', [{ Identifier: '*reset_account' }]);
    await add('w1', '*monetary', 3, 'main');
    await add('w1', '*sms', 10, 'sms');
    expect((await exec('w1', 'WIPE', 'w')).result).toBe('OK');
    expect(await values('w1', '*monetary')).toEqual({ main: 0 });
    expect(await values('w1', '*sms')).toEqual({ sms: 0 });
    await add('w1', '*monetary', 2, 'main');
    await add('w1', '*data', 1000, 'data');
    expect((await exec('w1', 'WIPE', 'w')).result).toBe('OK');
    expect(await values('w1', '*monetary')).toEqual({ main: 2 });
    expect(await values('w1', '*data')).toEqual({ data: 1000 });
  });

  it('*set_expiry sets the expiry of the balances of the type (or the one named)', async () => {
    await setActions('EXP', [
      { Identifier: '*set_expiry', BalanceType: '*data', ExpiryTime: '2027-01-01T00:00:00Z' },
      { Identifier: '*set_expiry', BalanceType: '*monetary', BalanceId: 'b', ExpiryTime: '+24h' },
    ]);
    await add('e1', '*data', 10, 'd1');
    await add('e1', '*data', 20, 'd2');
    await add('e1', '*monetary', 1, 'a');
    await add('e1', '*monetary', 1, 'b');
    expect((await exec('e1', 'EXP', 'x')).result).toBe('OK');
    expect((await exec('e1', 'EXP', 'x')).result).toBe('OK');
    const m = await balanceMap('e1');
    expect(m['*data']!.map((b) => b.ExpirationDate)).toEqual([
      '2027-01-01T00:00:00Z',
      '2027-01-01T00:00:00Z',
    ]);
    const money = Object.fromEntries(m['*monetary']!.map((b) => [b.ID, b.ExpirationDate]));
    expect(money.b).toBe('2026-11-21T10:00:00Z');
    expect(money.a).toBe('0001-01-01T00:00:00Z');
  });

  it('*deny_negative sets a postpaid credit limit to 0; *allow_negative on a prepaid account writes nothing', async () => {
    const r = await store.createAccount(
      {
        tenant: 'acme',
        id: 'post1',
        type: 'postpaid',
        currency: 'GBP',
        subject: 'post1',
        creditLimitNano: 10e9,
      },
      'test:post1',
    );
    expect(r.code).toBe('OK');
    await setActions('DENY', [{ Identifier: '*deny_negative' }]);
    await setActions('ALLOW', [
      { Identifier: '*topup', BalanceId: 'main', BalanceType: '*monetary', Units: '1', Weight: 20 },
      { Identifier: '*allow_negative' },
    ]);
    expect((await exec('post1', 'DENY', 'n1')).result).toBe('OK');
    expect((await store.getAccount('acme', 'post1'))!.account.creditLimitNano).toBe(0);
    expect((await exec('post1', 'ALLOW', 'n2')).result).toBe('OK');
    expect(await values('post1', '*monetary')).toEqual({ main: 1 });
    await add('pre1', '*monetary', 2, 'main');
    expect((await exec('pre1', 'ALLOW', 'n3')).error).toMatch(
      /^NOT_IMPLEMENTED: \*allow_negative on a prepaid/,
    );
    expect(await values('pre1', '*monetary')).toEqual({ main: 2 });
    expect((await exec('pre1', 'DENY')).result).toBe('OK');
  });

  it('a reset does not lower a balance an open session holds part of; raising it is fine', async () => {
    await add('held1', '*monetary', 10, 'main');
    const init = await rpc('demo-network', 'SessionSv1.InitiateSession', {
      InitSession: true,
      ID: 'ev-held',
      Event: {
        Account: 'held1',
        Destination: '+442071234567',
        OriginID: 'call-held',
        OriginHost: 'fs1',
        ToR: '*voice',
        RequestType: '*prepaid',
        AnswerTime: '2026-11-20T10:00:00Z',
        Usage: 60e9,
      },
    });
    expect(init.error, init.raw).toBeNull();
    await setActions('LOWER', [
      { Identifier: '*topup', BalanceId: 'extra', BalanceType: '*monetary', Units: '1', Weight: 20 },
      { Identifier: '*topup_reset', BalanceId: 'main', BalanceType: '*monetary', Units: '0.01' },
    ]);
    expect((await exec('held1', 'LOWER', 'l')).error).toMatch(/^NOT_IMPLEMENTED: lowering balance main/);
    expect(await values('held1', '*monetary')).toEqual({ main: 10 });
    await setActions('RAISE', [
      { Identifier: '*topup_reset', BalanceId: 'main', BalanceType: '*monetary', Units: '20' },
    ]);
    expect((await exec('held1', 'RAISE', 'r')).result).toBe('OK');
    expect(await values('held1', '*monetary')).toEqual({ main: 20 });
  });

  it('*http_post is an event for the webhook endpoint of its URL, once per Reference', async () => {
    const url = 'https://crm.example/hooks/cgr';
    const ep = await pool.query<{ id: string }>(
      `INSERT INTO ${schema}.webhook_endpoints (id, tenant, url, event_types, secret_enc)
       VALUES (gen_random_uuid(), 'acme', $1, ARRAY['cgrates.action_posted'], '\\x00') RETURNING id`,
      [url],
    );
    await setActions('POST', [
      { Identifier: '*topup', BalanceId: 'main', BalanceType: '*monetary', Units: '1.5', Weight: 20 },
      { Identifier: '*http_post', ExtraParameters: url },
    ]);
    await setActions('POST_ELSEWHERE', [
      { Identifier: '*topup', BalanceId: 'main', BalanceType: '*monetary', Units: '1', Weight: 20 },
      { Identifier: '*http_post_async', ExtraParameters: 'https://elsewhere.example/x' },
    ]);
    await add('h1', '*monetary', 1, 'main');
    expect((await exec('h1', 'POST', 'h')).result).toBe('OK');
    expect((await exec('h1', 'POST', 'h')).result).toBe('OK');
    const events = await pool.query<{ id: string; payload: { actionType: string; balances: object[] } }>(
      `SELECT id, payload FROM ${schema}.events WHERE tenant = 'acme' AND account_id = 'h1' AND type = 'cgrates.action_posted'`,
    );
    expect(events.rows).toHaveLength(1);
    expect(events.rows[0]!.payload).toMatchObject({
      actionType: '*http_post',
      url,
      balances: [{ id: 'main', unit: 'money', value: '2.5', expiresAt: null, shared: false }],
    });
    const queued = await pool.query(
      `SELECT status FROM ${schema}.webhook_deliveries WHERE event_id = $1 AND endpoint_id = $2`,
      [events.rows[0]!.id, ep.rows[0]!.id],
    );
    expect(queued.rows).toEqual([{ status: 'pending' }]);
    // A URL that is no endpoint of the tenant: refused before the top-up.
    expect((await exec('h1', 'POST_ELSEWHERE', 'e')).error).toMatch(
      /^NOT_IMPLEMENTED: \*http_post_async to https:\/\/elsewhere.example\/x: no enabled webhook endpoint/,
    );
    expect(await values('h1', '*monetary')).toEqual({ main: 2.5 });
  });

  it('a NUL in any id is refused before any query, by every method', async () => {
    const nul = 'a\u0000b';
    const calls: [string, object][] = [
      ['APIerSv2.GetActions', { ActionIDs: [nul] }],
      ['APIerSv2.SetActions', { ActionsId: nul, Actions: [{ Identifier: '*log' }] }],
      ['APIerSv2.RemoveActions', { ActionIDs: [nul] }],
      ['APIerSv1.ExecuteAction', { Account: nul, ActionsId: 'WIPE' }],
      ['APIerSv1.ExecuteAction', { Account: 'w1', ActionsId: 'WIPE', Reference: nul }],
      ['APIerSv2.GetAccount', { Account: nul }],
      ['APIerSv1.GetActionPlan', { ID: nul }],
      ['APIerSv1.AddBalance', { Account: 'w1', BalanceType: '*monetary', Value: 1, Balance: { ID: nul } }],
      ['SessionSv1.ProcessCDR', { Event: { [`Extra${nul}`]: 'x' } }],
    ];
    for (const [m, arg] of calls)
      expect((await rpc(B, m, arg)).error, m).toMatch(/^UNSUPPORTED_FORMAT: argument.*NUL character/);
    expect(await values('w1', '*monetary')).toEqual({ main: 2 });
  });

  it('hostile profiles and runs: never a 500, never SERVER_ERROR', { timeout: 120_000 }, async () => {
    const str = fc.oneof(
      fc.string(),
      fc.constantFrom('', 'main', '*default', 'a\u0000', '+24h', '*unlimited'),
    );
    const action = fc.record(
      {
        Identifier: fc.constantFrom(
          '*topup_reset',
          '*debit_reset',
          '*reset_account',
          '*set_expiry',
          '*allow_negative',
          '*deny_negative',
          '*http_post',
          '*topup',
          '*nope',
        ),
        BalanceId: str,
        BalanceType: fc.constantFrom('*monetary', '*data', '*sms', '*gold', ''),
        Units: fc.oneof(fc.string(), fc.double(), fc.constantFrom('0', '1', '9007199254740993', '-1', '0.5')),
        ExpiryTime: fc.oneof(str, fc.constantFrom('2027-01-01T00:00:00Z', '*now')),
        ExtraParameters: fc.oneof(str, fc.constant('https://crm.example/hooks/cgr')),
        Weight: fc.oneof(fc.double(), fc.integer()),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(action, { maxLength: 3 }), str, async (Actions, Reference) => {
        const set = await rpc(B, 'APIerSv2.SetActions', { ActionsId: 'FUZZ', Overwrite: true, Actions });
        expect(set.status, set.raw).toBe(200);
        expect(set.error ?? '', set.raw).not.toMatch(/^SERVER_ERROR/);
        for (const Account of ['post1', 'r2', 'nobody']) {
          const r = await rpc(B, 'APIerSv1.ExecuteAction', { Account, ActionsId: 'FUZZ', Reference });
          expect(r.status, r.raw).toBe(200);
          expect(r.error ?? '', `${JSON.stringify(Actions)} ${r.raw}`).not.toMatch(/^SERVER_ERROR/);
        }
      }),
      { numRuns: 150 },
    );
  });
});

/** PLUS1 and PLUS2: one top-up of 1 and of 2 on `main`, two bodies for one Reference. */
const plusProfiles = async () => {
  for (const n of [1, 2])
    await setActions(`PLUS${n}`, [
      { Identifier: '*topup', BalanceId: 'main', BalanceType: '*monetary', Units: String(n) },
    ]);
};

describe('ExecuteAction: one Reference, one body', () => {
  it('another ActionsId under a Reference on the account: EXISTS, nothing changed', async () => {
    await setActions('PLUS1', [
      { Identifier: '*topup', BalanceId: 'main', BalanceType: '*monetary', Units: '1' },
    ]);
    await setActions('PLUS2', [
      { Identifier: '*topup', BalanceId: 'main', BalanceType: '*monetary', Units: '2' },
    ]);
    await add('once1', '*monetary', 1, 'main');
    expect((await exec('once1', 'PLUS1', 'once')).result).toBe('OK');
    const before = [await dumpKeys(redis, prefix), await dumpTables(pool, schema)];
    const r = await exec('once1', 'PLUS2', 'once');
    expect(r.error).toMatch(/^EXISTS: the Reference was used for another request/);
    expect([await dumpKeys(redis, prefix), await dumpTables(pool, schema)]).toEqual(before);
    expect((await exec('once1', 'PLUS1', 'once')).result).toBe('OK');
    expect(await values('once1', '*monetary')).toEqual({ main: 2 });
    // The account is part of the key (an action plan runs a timing on each account under one
    // Reference): the same Reference on another account runs there.
    await add('once2', '*monetary', 1, 'main');
    expect((await exec('once2', 'PLUS1', 'once')).result).toBe('OK');
    expect(await values('once2', '*monetary')).toEqual({ main: 2 });
  });

  it('two ActionsIds racing under one Reference: exactly one runs, the other is EXISTS', async () => {
    await setActions('RACE1', [
      { Identifier: '*topup', BalanceId: 'main', BalanceType: '*monetary', Units: '1' },
    ]);
    await setActions('RACE2', [
      { Identifier: '*topup', BalanceId: 'main', BalanceType: '*monetary', Units: '2' },
    ]);
    const accounts = Array.from({ length: 20 }, (_, i) => `race${i}`);
    for (const a of accounts) await add(a, '*monetary', 10, 'main');
    const pairs = await Promise.all(
      accounts.map((a) => Promise.all([exec(a, 'RACE1', 'race'), exec(a, 'RACE2', 'race')])),
    );
    for (const [i, pair] of pairs.entries()) {
      const won = pair.findIndex((r) => r.result === 'OK');
      expect(pair.map((r) => r.result ?? r.error).filter((x) => x === 'OK')).toHaveLength(1);
      expect(pair[1 - won]!.error).toMatch(/^EXISTS: the Reference was used for another request/);
      expect(await values(accounts[i]!, '*monetary')).toEqual({ main: 10 + won + 1 });
    }
    const rows = await pool.query(
      `SELECT status, count(*)::int AS n FROM ${schema}.cgr_action_runs WHERE reference = 'race' GROUP BY status`,
    );
    expect(rows.rows).toEqual([{ status: 'done', n: 20 }]);
  });

  it('a run that stopped halfway: finished by its retry, another body refused meanwhile', async () => {
    await setActions('HALF', [
      { Identifier: '*topup', BalanceId: 'main', BalanceType: '*monetary', Units: '1', Weight: 20 },
      { Identifier: '*debit', BalanceType: '*monetary', Units: '100', Weight: 10 },
    ]);
    await plusProfiles();
    await add('half1', '*monetary', 1, 'main');
    // The top-up is written, the debit refused: the run stops halfway and keeps its claim.
    expect((await exec('half1', 'HALF', 'half')).error).toBe('INSUFFICIENT_CREDIT');
    expect(await values('half1', '*monetary')).toEqual({ main: 2 });
    const before = [await dumpKeys(redis, prefix), await dumpTables(pool, schema)];
    expect((await exec('half1', 'PLUS1', 'half')).error).toMatch(/^EXISTS/);
    expect([await dumpKeys(redis, prefix), await dumpTables(pool, schema)]).toEqual(before);
    await add('half1', '*monetary', 200, 'main');
    // The retry replays the top-up (its op id: nothing moves) and does the debit; then it is done.
    expect((await exec('half1', 'HALF', 'half')).result).toBe('OK');
    expect(await values('half1', '*monetary')).toEqual({ main: 102 });
    expect((await exec('half1', 'HALF', 'half')).result).toBe('OK');
    expect(await values('half1', '*monetary')).toEqual({ main: 102 });
  });

  it('a claim left running (a crash) is finished by the same body and refused to another', async () => {
    await plusProfiles();
    await add('crash1', '*monetary', 1, 'main');
    // A run done under another Reference gives the key's tenant (the API key's).
    expect((await exec('crash1', 'PLUS1', 'seed')).result).toBe('OK');
    const seed = await pool.query<{ tenant: string }>(
      `SELECT tenant FROM ${schema}.cgr_action_runs WHERE account = 'crash1' AND reference = 'seed'`,
    );
    const tenant = seed.rows[0]!.tenant;
    const k = runKey({ tenant, account: 'crash1', actionsId: 'PLUS1', reference: 'crash' }, 'exec', [
      'PLUS1',
    ])!;
    await pool.query(
      `INSERT INTO ${schema}.cgr_action_runs (tenant, account, kind, actions_id, reference, fingerprint, status)
       VALUES ($1, $2, 'exec', $3, $4, $5, 'running')`,
      [tenant, k.account, k.actionsId, k.reference, k.fingerprint],
    );
    expect((await exec('crash1', 'PLUS2', 'crash')).error).toMatch(/^EXISTS/);
    expect((await exec('crash1', 'PLUS1', 'crash')).result).toBe('OK');
    expect((await exec('crash1', 'PLUS1', 'crash')).result).toBe('OK');
    expect(await values('crash1', '*monetary')).toEqual({ main: 3 });
    const row = await pool.query(
      `SELECT status FROM ${schema}.cgr_action_runs WHERE account = 'crash1' AND reference = 'crash'`,
    );
    expect(row.rows).toEqual([{ status: 'done' }]);
  });

  it('a refused run leaves no claim: the Reference stays free for another body', async () => {
    await setActions('BIGDEBIT', [{ Identifier: '*debit', BalanceType: '*monetary', Units: '100' }]);
    await setActions('ALLOWNEG', [{ Identifier: '*allow_negative' }]);
    await plusProfiles();
    await add('free1', '*monetary', 1, 'main');
    for (const [id, error] of [
      ['BIGDEBIT', 'INSUFFICIENT_CREDIT'], // refused by the store, at the first write
      ['ALLOWNEG', 'NOT_IMPLEMENTED: *allow_negative on a prepaid account'], // by the checks
    ]) {
      const before = [await dumpKeys(redis, prefix), await dumpTables(pool, schema)];
      expect((await exec('free1', id!, 'free')).error).toContain(error);
      expect([await dumpKeys(redis, prefix), await dumpTables(pool, schema)]).toEqual(before);
    }
    expect((await exec('free1', 'PLUS1', 'free')).result).toBe('OK');
    expect(await values('free1', '*monetary')).toEqual({ main: 2 });
  });

  it('upgrades run records written before kinds: balance calls moved unless a profile has that id', async () => {
    const old = `${schema}_runs_v1`;
    await pool.query(`CREATE SCHEMA ${old}`);
    try {
      await pool.query(`
CREATE TABLE ${old}.cgr_actions (tenant text NOT NULL, id text NOT NULL, actions jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant, id));
CREATE TABLE ${old}.cgr_action_runs (tenant text NOT NULL, account text NOT NULL,
  actions_id text NOT NULL, reference text NOT NULL, done_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, account, actions_id, reference));
INSERT INTO ${old}.cgr_actions VALUES ('acme', 'cgr:addbalance', '[]');
INSERT INTO ${old}.cgr_action_runs (tenant, account, actions_id, reference) VALUES
  ('acme', 'a', 'cgr:setbalance', 'r1'), ('acme', 'a', 'cgr:addbalance', 'r2'), ('acme', 'a', 'P', 'r3'),
  ('acme', 'a', 'Q', 'r3')`);
      for (let i = 0; i < 2; i++) await ensureCgratesSchema(pool, old); // twice: idempotent
      const rows = await pool.query(
        `SELECT kind, actions_id, reference, fingerprint, status FROM ${old}.cgr_action_runs
          ORDER BY reference, actions_id`,
      );
      // Finished runs ('done'); two profiles run under one Reference before: 'legacy', kept.
      expect(rows.rows).toEqual([
        { kind: 'setbalance', actions_id: '', reference: 'r1', fingerprint: null, status: 'done' },
        { kind: 'exec', actions_id: 'cgr:addbalance', reference: 'r2', fingerprint: null, status: 'done' },
        { kind: 'exec', actions_id: 'P', reference: 'r3', fingerprint: null, status: 'legacy' },
        { kind: 'exec', actions_id: 'Q', reference: 'r3', fingerprint: null, status: 'legacy' },
      ]);
    } finally {
      await pool.query(`DROP SCHEMA ${old} CASCADE`);
    }
  });
});
