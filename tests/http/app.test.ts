/**
 * The HTTP app through inject, on the real Redis: roles and tenants, problem+json errors, price
 * enquiry, provisioning with idempotent references, self-care isolation, tariff reload, metrics.
 */
import { cp } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFile, readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../../src/config.js';
import { testApp } from '../support/app.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
let app: FastifyInstance;
let tariffDir: string;
const keys = [
  ...DEMO_KEYS,
  { key: 'other-tenant-billing', role: 'billing' as const, tenant: 'globex' },
  { key: 'selfcare-bob-key', role: 'selfcare' as const, tenant: 'acme', accountId: 'bob' },
];
const as = (key: string) => ({ authorization: `Bearer ${key}` });
const BILLING = as('demo-billing');
const OPERATOR = as('demo-operator');

beforeAll(async () => {
  tariffDir = await mkdtemp(join(tmpdir(), 'http-tariff-'));
  await cp('tariffs/sample', tariffDir, { recursive: true });
  ({ app } = await testApp({ redis, prefix, tariffDir, keys }));
});
afterAll(() => app.close());

describe('authentication and roles', () => {
  it.each([
    ['no key', {}, 401, 'UNAUTHENTICATED'],
    ['unknown key', as('nope-nope-nope'), 401, 'UNAUTHENTICATED'],
    ['selfcare on a billing route', as('demo-selfcare-alice'), 403, 'FORBIDDEN'],
    ['network on a billing route', as('demo-network'), 403, 'FORBIDDEN'],
    ['billing on the operator’s route', BILLING, 403, 'FORBIDDEN'],
  ])('%s', async (_name, headers, status, cause) => {
    const r = await app.inject({ method: 'GET', url: '/v1/tariff', headers });
    expect(r.statusCode).toBe(status);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(r.json()).toMatchObject({ status, cause });
  });

  it('lets public probes through without a key', async () => {
    expect((await app.inject({ url: '/health/live' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/health/ready' })).json()).toMatchObject({
      status: 'ready',
      checks: { redis: 'ok' },
    });
  });
});

describe('price enquiry', () => {
  it('prices an event and explains it', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/rating/price',
      headers: as('demo-network'),
      payload: {
        category: 'call',
        subject: 'x',
        destination: '+442071234567',
        answerTime: '2026-11-20T10:15:00Z',
        usage: 95,
        tor: 'voice',
      },
    });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({
      cost: '0.2084',
      destination: 'UK_FIXED',
      connectFee: '0.05',
      spans: [{ ratedUsage: 60 }, { ratedUsage: 35 }],
    });
  });

  it.each([
    [{ usage: -1 }, '/usage'],
    [{ extra: 1 }, ''],
    [{ answerTime: '2026-11-20T10:15:00' }, '/answerTime'],
  ])('refuses %o with a problem naming the field', async (patch, param) => {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/rating/price',
      headers: BILLING,
      payload: {
        category: 'call',
        subject: 'x',
        destination: '+44',
        answerTime: '2026-11-20T10:15:00Z',
        usage: 1,
        tor: 'voice',
        ...patch,
      },
    });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ cause: 'INVALID_REQUEST', diameterResultCode: 5004 });
    if (param) expect(r.json().invalidParams[0].param).toBe(param);
  });

  it('refuses to price for another tenant', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/rating/price',
      headers: BILLING,
      payload: {
        tenant: 'globex',
        category: 'call',
        subject: 'x',
        destination: '+44',
        answerTime: '2026-11-20T10:15:00Z',
        usage: 1,
        tor: 'voice',
      },
    });
    expect(r.statusCode).toBe(403);
  });
});

describe('provisioning and self-care', () => {
  it('creates an account, adds balances, tops up once per reference', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/v1/accounts',
      headers: BILLING,
      payload: {
        id: 'alice',
        type: 'prepaid',
        currency: 'GBP',
        subject: 'alice',
        subscriptions: [{ type: 'msisdn', value: '447700900001' }],
        reference: 'crm-create-alice',
      },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ id: 'alice', status: 'active', balances: [] });
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/accounts',
          headers: BILLING,
          payload: {
            id: 'alice',
            type: 'prepaid',
            currency: 'GBP',
            subject: 'alice',
            reference: 'crm-again',
          },
        })
      ).statusCode,
    ).toBe(409);

    await app.inject({
      method: 'POST',
      url: '/v1/accounts/alice/balances',
      headers: BILLING,
      payload: { id: 'main', unit: 'money', value: '5.00', reference: 'crm-main' },
    });
    const bundle = await app.inject({
      method: 'POST',
      url: '/v1/accounts/alice/balances',
      headers: BILLING,
      payload: {
        id: 'uk-minutes',
        unit: 'voice',
        value: 6000,
        weight: 10,
        destinations: ['UK_MOBILE', 'UK_FIXED'],
        expiry: '2026-12-31T23:59:59Z',
        reference: 'crm-uk-minutes',
      },
    });
    expect(bundle.statusCode).toBe(201);

    const topup = { balanceId: 'main', amount: '10.25', reference: 'stripe-pi-123' };
    const first = await app.inject({
      method: 'POST',
      url: '/v1/accounts/alice/credits',
      headers: BILLING,
      payload: topup,
    });
    const retry = await app.inject({
      method: 'POST',
      url: '/v1/accounts/alice/credits',
      headers: BILLING,
      payload: topup,
    });
    expect(first.json()).toMatchObject({
      result: 'OK',
      replayed: false,
      movements: [{ balanceId: 'main', delta: '10.25', valueAfter: '15.25' }],
    });
    expect(retry.json()).toMatchObject({
      result: 'OK',
      replayed: true,
      movements: [{ valueAfter: '15.25' }],
    });
    const conflict = await app.inject({
      method: 'POST',
      url: '/v1/accounts/alice/credits',
      headers: BILLING,
      payload: { ...topup, amount: '1' },
    });
    expect(conflict.statusCode).toBe(409);

    const mine = await app.inject({ url: '/v1/me', headers: as('demo-selfcare-alice') });
    expect(mine.json()).toMatchObject({
      id: 'alice',
      balances: [
        { id: 'main', unit: 'money', value: '15.25', available: '15.25' },
        { id: 'uk-minutes', unit: 'voice', value: 6000, expiry: '2026-12-31T23:59:59.000Z' },
      ],
    });
  });

  it('keeps customers and tenants apart', async () => {
    expect(
      (await app.inject({ url: '/v1/accounts/alice', headers: as('demo-selfcare-alice') })).statusCode,
    ).toBe(200);
    expect(
      (await app.inject({ url: '/v1/accounts/alice', headers: as('selfcare-bob-key') })).statusCode,
    ).toBe(403);
    expect(
      (await app.inject({ url: '/v1/accounts/alice', headers: as('other-tenant-billing') })).statusCode,
    ).toBe(404);
    expect((await app.inject({ url: '/v1/accounts/alice', headers: BILLING })).statusCode).toBe(200);
  });

  it('suspends an account with a reference', async () => {
    const r = await app.inject({
      method: 'PATCH',
      url: '/v1/accounts/alice',
      headers: BILLING,
      payload: { status: 'suspended', reference: 'ticket-9' },
    });
    expect(r.json()).toMatchObject({ status: 'suspended' });
    const bad = await app.inject({
      method: 'PATCH',
      url: '/v1/accounts/alice',
      headers: BILLING,
      payload: { status: 'gone', reference: 'ticket-10' },
    });
    expect(bad.statusCode).toBe(400);
  });
});

describe('tariff reload', () => {
  it('swaps a good tariff in and refuses a bad one, keeping the last good tariff', async () => {
    const before = (await app.inject({ url: '/v1/tariff', headers: OPERATOR })).json();
    const doc = JSON.parse(await readFile(join(tariffDir, 'tariff.json'), 'utf8'));
    doc.rates[0].slots[0].rate = 'free!';
    await writeFile(join(tariffDir, 'tariff.json'), JSON.stringify(doc));
    const refused = await app.inject({ method: 'POST', url: '/v1/tariff/reload', headers: OPERATOR });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().problems[0]).toMatchObject({
      file: 'tariff.json',
      path: '/rates/0/slots/0',
      field: 'rate',
    });
    expect((await app.inject({ url: '/v1/tariff', headers: OPERATOR })).json().version).toBe(before.version);
    await cp('tariffs/sample/tariff.json', join(tariffDir, 'tariff.json'));
    const ok = await app.inject({ method: 'POST', url: '/v1/tariff/reload', headers: OPERATOR });
    expect(ok.json().version).toBe(before.version + 1);
  });
});

describe('observability', () => {
  it('counts requests by route and status in /metrics and serves the OpenAPI document', async () => {
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(
      /ocs_http_requests_total\{route="\/v1\/rating\/price",method="POST",status="200"\} \d+/,
    );
    const openapi = (await app.inject({ url: '/docs/json' })).json();
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining(['/v1/rating/price', '/v1/accounts', '/v1/accounts/{accountId}/credits']),
    );
  });

  it('answers 404 as a problem', async () => {
    expect((await app.inject({ url: '/v1/nothing' })).json()).toMatchObject({
      status: 404,
      cause: 'NOT_FOUND',
    });
  });
});

describe('changing balances', () => {
  it('changes a bundle, and takes money off once per reference', async () => {
    await app.inject({
      method: 'PATCH',
      url: '/v1/accounts/alice',
      headers: BILLING,
      payload: { status: 'active', reference: 'ticket-11' },
    });
    const changed = await app.inject({
      method: 'PATCH',
      url: '/v1/accounts/alice/balances/uk-minutes',
      headers: BILLING,
      payload: { weight: 50, expiry: null, reference: 'promo-1' },
    });
    expect(changed.statusCode).toBe(200);
    const view = (await app.inject({ url: '/v1/accounts/alice', headers: BILLING })).json();
    expect(view.balances.find((b: { id: string }) => b.id === 'uk-minutes')).toMatchObject({
      weight: 50,
      expiry: null,
      value: 6000,
    });
    const fee = { amount: '1.25', reference: 'late-fee-7' };
    const first = await app.inject({
      method: 'POST',
      url: '/v1/accounts/alice/debits',
      headers: BILLING,
      payload: fee,
    });
    const again = await app.inject({
      method: 'POST',
      url: '/v1/accounts/alice/debits',
      headers: BILLING,
      payload: fee,
    });
    expect(first.json()).toMatchObject({
      result: 'OK',
      movements: [{ balanceId: 'main', delta: '-1.25', valueAfter: '14' }],
    });
    expect(again.json()).toMatchObject({ replayed: true });
    const tooMuch = await app.inject({
      method: 'POST',
      url: '/v1/accounts/alice/debits',
      headers: BILLING,
      payload: { amount: '1000', reference: 'x' },
    });
    expect(tooMuch.json()).toMatchObject({
      status: 402,
      cause: 'INSUFFICIENT_CREDIT',
      result: 'INSUFFICIENT_CREDIT',
    });
    // A refusal is not remembered: the same reference, corrected, goes through.
    const corrected = await app.inject({
      method: 'POST',
      url: '/v1/accounts/alice/debits',
      headers: BILLING,
      payload: { amount: '1', reference: 'x' },
    });
    expect(corrected.json()).toMatchObject({ result: 'OK', replayed: false });
    expect(
      (
        await app.inject({
          method: 'PATCH',
          url: '/v1/accounts/alice/balances/nope',
          headers: BILLING,
          payload: { weight: 1, reference: 'r' },
        })
      ).statusCode,
    ).toBe(404);
  });
});

describe('subscriptions', () => {
  it('adds and removes an id; a removed id finds no account and can be given to another', async () => {
    const add = await app.inject({
      method: 'POST',
      url: '/v1/accounts/alice/subscriptions',
      headers: BILLING,
      payload: { type: 'imsi', value: '234150000000009', reference: 'crm-imsi-on' },
    });
    expect(add.json()).toMatchObject({ result: 'OK' });
    const removed = await app.inject({
      method: 'DELETE',
      url: '/v1/accounts/alice/subscriptions/imsi/234150000000009?reference=crm-imsi-off',
      headers: BILLING,
    });
    expect(removed.json()).toMatchObject({ result: 'OK' });
    const view = (await app.inject({ url: '/v1/accounts/alice', headers: BILLING })).json();
    expect(view.subscriptions).toEqual([{ type: 'msisdn', value: '447700900001' }]);
    await app.inject({
      method: 'POST',
      url: '/v1/accounts',
      headers: BILLING,
      payload: {
        id: 'carol',
        type: 'prepaid',
        currency: 'GBP',
        subject: 'carol',
        subscriptions: [{ type: 'imsi', value: '234150000000009' }],
        reference: 'crm-create-carol',
      },
    });
    expect((await app.inject({ url: '/v1/accounts/carol', headers: BILLING })).json().subscriptions).toEqual([
      { type: 'imsi', value: '234150000000009' },
    ]);
  });
});
