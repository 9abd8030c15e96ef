/**
 * The notification routes: rules and auto top-up settings saved, read and removed per tenant, bad
 * bodies refused with their cause and nothing written, the settings once per reference, and the
 * CRM's report on a request the detector made.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { ensureNotificationsSchema } from '../../src/notifications/schema.js';
import { drainOutboxes } from '../../src/storage/outbox.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import { ensureMoneyInSchemas, harness, newAccount, snapshot } from '../payments/support.js';
import { catchUp, CATCHING_UP } from '../support/catch-up.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const h = await harness({ redis, prefix, notifications: { pool, schema } });
const NANO = 1_000_000_000;
const TABLES = ['notification_rules', 'notification_state', 'auto_topup_rules', 'auto_topup_requests'];

beforeAll(async () => {
  await ensureLedgerSchema(pool, schema);
  await ensureRecordsSchema(pool, schema);
  await ensureMoneyInSchemas(pool, schema, [() => ensureNotificationsSchema(pool, schema)]);
  await newAccount(h.balances, 'acme', 'alice', { type: 'prepaid', mainNano: 10 * NANO });
  await newAccount(h.balances, 'acme', 'bob', { type: 'postpaid' });
  await newAccount(h.balances, 'globex', 'gina', { type: 'prepaid' });
});

const unchanged = async (work: () => Promise<void>) => {
  const before = await snapshot(pool, schema, TABLES, redis, prefix);
  await work();
  expect(await snapshot(pool, schema, TABLES, redis, prefix)).toEqual(before);
};

describe('notification rules', () => {
  it('are saved, listed and removed per tenant', async () => {
    const put = await h.call('acme-billing', 'PUT', '/v1/notification-rules/low5', {
      kind: 'money_below',
      amount: '5.00',
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({
      code: 'low5',
      kind: 'money_below',
      accountId: null,
      enabled: true,
      amount: '5',
    });
    await h.call('acme-billing', 'PUT', '/v1/notification-rules/used80', {
      kind: 'bundle_used_pct',
      percent: 80,
    });
    const list = await h.call('acme-billing', 'GET', '/v1/notification-rules');
    expect(list.json().rules.map((r: { code: string }) => r.code)).toEqual(['low5', 'used80']);
    expect((await h.call('globex-billing', 'GET', '/v1/notification-rules')).json().rules).toEqual([]);
    expect((await h.call('globex-billing', 'GET', '/v1/notification-rules/low5')).statusCode).toBe(404);
    expect((await h.call('acme-billing', 'DELETE', '/v1/notification-rules/used80')).statusCode).toBe(204);
    expect((await h.call('acme-billing', 'GET', '/v1/notification-rules/used80')).statusCode).toBe(404);
  });

  const bad: [string, object, string, string][] = [
    ['an unknown kind', { kind: 'money_above', amount: '5' }, 'INVALID_REQUEST', '/kind'],
    ['a negative threshold', { kind: 'money_below', amount: '-1' }, 'INVALID_REQUEST', '/amount'],
    ['a threshold of 0', { kind: 'money_below', amount: '0' }, 'INVALID_REQUEST', '/amount'],
    ['no notice days for an expiry', { kind: 'bundle_expiring' }, 'INVALID_REQUEST', '/days'],
    ['notice days past 90', { kind: 'renewal_due', days: 91 }, 'INVALID_REQUEST', '/days'],
    ['a percent past 100', { kind: 'bundle_used_pct', percent: 101 }, 'INVALID_REQUEST', '/percent'],
    [
      'an amount the kind does not use',
      { kind: 'money_exhausted', amount: '1' },
      'INVALID_REQUEST',
      '/amount',
    ],
  ];
  it.each(bad)('refuse %s with its cause, writing nothing', async (_name, body, cause, param) => {
    await unchanged(async () => {
      const res = await h.call('acme-billing', 'PUT', '/v1/notification-rules/bad', body);
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.json().cause).toBe(cause);
      expect(JSON.stringify(res.json().invalidParams)).toContain(param);
    });
  });

  it("refuse another tenant's account, and callers other than billing staff", async () => {
    await unchanged(async () => {
      const other = await h.call('globex-billing', 'PUT', '/v1/notification-rules/x', {
        kind: 'money_exhausted',
        accountId: 'alice',
      });
      expect([other.statusCode, other.json().cause]).toEqual([404, 'ACCOUNT_NOT_FOUND']);
      const customer = await h.call('acme-alice', 'PUT', '/v1/notification-rules/x', {
        kind: 'money_exhausted',
      });
      expect(customer.statusCode).toBe(403);
      expect((await h.call('acme-network', 'GET', '/v1/notification-rules')).statusCode).toBe(403);
    });
  });
});

describe('auto top-up settings', () => {
  const settings = { reference: 'cfg-1', threshold: '5', target: '20', maxPerDay: 2, maxPerMonth: 10 };
  const url = '/v1/accounts/alice/auto-topup';

  it('are saved once per reference: the same body replays, another is a conflict', async () => {
    const first = await h.call('acme-billing', 'PUT', url, settings);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({
      threshold: '5',
      target: '20',
      amount: null,
      enabled: true,
      replayed: false,
    });
    expect((await h.call('acme-billing', 'PUT', url, settings)).json().replayed).toBe(true);
    await unchanged(async () => {
      const other = await h.call('acme-billing', 'PUT', url, { ...settings, target: '30' });
      expect([other.statusCode, other.json().cause]).toEqual([409, 'CONFLICT']);
    });
    expect((await h.call('acme-billing', 'GET', url)).json()).toMatchObject({
      target: '20',
      openRequests: [],
    });
  });

  const bad: [string, string, object, number, string][] = [
    ['a negative threshold', url, { ...settings, reference: 'b1', threshold: '-5' }, 400, 'INVALID_REQUEST'],
    ['amount and target both', url, { ...settings, reference: 'b2', amount: '10' }, 400, 'INVALID_REQUEST'],
    [
      'a target below the threshold',
      url,
      { ...settings, reference: 'b3', target: '4' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'a day cap over the month cap',
      url,
      { ...settings, reference: 'b4', maxPerDay: 11 },
      400,
      'INVALID_REQUEST',
    ],
    ['a postpaid account', '/v1/accounts/bob/auto-topup', settings, 400, 'INVALID_REQUEST'],
    ['an unknown account', '/v1/accounts/nobody/auto-topup', settings, 404, 'ACCOUNT_NOT_FOUND'],
    ["another tenant's account", '/v1/accounts/gina/auto-topup', settings, 404, 'ACCOUNT_NOT_FOUND'],
  ];
  it.each(bad)('refuse %s, writing nothing', async (_name, path, body, status, cause) => {
    await unchanged(async () => {
      const res = await h.call('acme-billing', 'PUT', path, body);
      expect([res.statusCode, res.json().cause]).toEqual([status, cause]);
    });
  });

  it('the CRM reports on a request the detector made, once', CATCHING_UP, async () => {
    await h.balances.debit('acme', 'alice', {
      opId: 'spend-7',
      charge: { unit: 'generic', units: 0, amountNano: 7 * NANO },
    });
    while ((await drainOutboxes({ redis, pool, schema, keyPrefix: prefix })) > 0);
    await catchUp({ pool, schema, groupOf: async () => null });
    const [requestId] = (await h.call('acme-billing', 'GET', url)).json().openRequests as string[];
    expect(requestId).toBeDefined();
    const result = { requestId, outcome: 'failed', reference: 'psp-9' };
    expect(
      (await h.call('globex-billing', 'POST', '/v1/accounts/alice/auto-topup/results', result)).statusCode,
    ).toBe(404);
    const first = await h.call('acme-billing', 'POST', `${url}/results`, result);
    expect(first.json()).toMatchObject({
      replayed: false,
      autoTopUp: { consecutiveFailures: 1, openRequests: [] },
    });
    expect((await h.call('acme-billing', 'POST', `${url}/results`, result)).json().replayed).toBe(true);
    const other = await h.call('acme-billing', 'POST', `${url}/results`, { ...result, outcome: 'succeeded' });
    expect([other.statusCode, other.json().cause]).toEqual([409, 'CONFLICT']);
    const unknown = { ...result, requestId: '00000000-0000-4000-8000-000000000000' };
    expect((await h.call('acme-billing', 'POST', `${url}/results`, unknown)).json().cause).toBe('NOT_FOUND');
  });
});
