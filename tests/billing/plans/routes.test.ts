/**
 * The plan, billing-profile, tax and coupon routes through the HTTP API on the real Redis and
 * PostgreSQL: what billing staff do in order; E.6 #20 (every bad request answers its own cause and
 * changes nothing: PostgreSQL rows and Redis keys diffed); roles and tenants (another tenant's ids
 * answer as unknown, a customer reads only its own plans and profile).
 */
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePlansSchema } from '../../../src/billing/plans/schema.js';
import type { ApiKey } from '../../../src/config.js';
import { testApp } from '../../support/app.js';
import { testPostgres } from '../../support/postgres.js';
import { dumpKeys } from '../../support/redis-dump.js';
import { testRedis } from '../../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const clock = Date.UTC(2026, 10, 17);
let app: FastifyInstance;
let aliceAssignment = '';

const KEYS: ApiKey[] = ['acme', 'globex'].flatMap((tenant): ApiKey[] => [
  { key: `${tenant}-billing`, role: 'billing', tenant },
  { key: `${tenant}-network`, role: 'network', tenant },
  { key: `${tenant}-alice`, role: 'selfcare', tenant, accountId: 'alice' },
]);

const call = (key: string, method: InjectOptions['method'], url: string, payload?: object) =>
  app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload ? { payload } : {}) });
const acme = (method: InjectOptions['method'], url: string, payload?: object) =>
  call('acme-billing', method, url, payload);

const PLAN = {
  period: 'month',
  prices: { GBP: '15.00' },
  setupFee: { GBP: '5.00' },
  taxCode: 'VAT',
  bundles: [{ id: 'data', unit: 'data', amount: 1073741824, renewal: 'rollover', rolloverCap: 524288000 }],
};

async function tables(): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of [
    'billing_entities',
    'billing_accounts',
    'plans',
    'account_plans',
    'plan_intents',
    'charges',
    'coupons',
    'coupon_redemptions',
    'taxes',
    'tax_profiles',
    'events',
  ])
    out[t] = (await pool.query(`SELECT * FROM ${schema}.${t} ORDER BY 1, 2`)).rows;
  return out;
}

beforeAll(async () => {
  await ensurePlansSchema(pool, schema);
  ({ app } = await testApp({ redis, prefix, keys: KEYS, now: () => clock, plans: { pool, schema } }));
  for (const tenant of ['acme', 'globex'])
    for (const [id, currency] of [
      ['alice', 'GBP'],
      ['bob', 'GBP'],
      ['usd', 'USD'],
    ] as const) {
      if (tenant === 'globex' && id !== 'alice') continue;
      const key = `${tenant}-billing`;
      expect(
        (
          await call(key, 'POST', '/v1/accounts', {
            id,
            type: 'prepaid',
            currency,
            subject: id,
            reference: `c-${id}`,
          })
        ).statusCode,
      ).toBe(201);
      await call(key, 'POST', `/v1/accounts/${id}/balances`, {
        id: 'main',
        unit: 'money',
        value: '100',
        reference: `m-${id}`,
      });
    }
});

afterAll(async () => {
  await app?.close();
});

describe('billing staff set up and assign a plan', () => {
  it('taxes, entity, plan versions, profile, coupon, assignment, listing, cancellation', async () => {
    expect((await acme('PUT', '/v1/taxes/VAT', { rate: '0.20', validFrom: '2020-01-01' })).statusCode).toBe(
      200,
    );
    expect(
      (await acme('PUT', '/v1/tax-profiles/UK', { mapping: { fee: 'VAT', 'voice:call': 'VAT' } })).statusCode,
    ).toBe(200);
    expect(
      (
        await acme('PUT', '/v1/billing-entity', {
          legalName: 'Acme Ltd',
          defaultTimezone: 'Europe/London',
          country: 'GB',
        })
      ).statusCode,
    ).toBe(200);
    const v1 = await acme('PUT', '/v1/plans/basic', PLAN);
    expect(v1.statusCode).toBe(201);
    expect(v1.json()).toMatchObject({ code: 'basic', version: 1 });
    expect((await acme('PUT', '/v1/plans/basic', PLAN)).json()).toMatchObject({ version: 1 });
    expect(
      (await acme('PUT', '/v1/plans/basic', { ...PLAN, prices: { GBP: '16.00' } })).json(),
    ).toMatchObject({ version: 2 });
    expect((await acme('GET', '/v1/plans/basic?version=1')).json()).toMatchObject({
      version: 1,
      body: { prices: { GBP: '15.00' } },
    });
    expect((await acme('GET', '/v1/plans')).json().plans).toHaveLength(1);

    const profile = await acme('PUT', '/v1/accounts/alice/billing', {
      billCycleDay: 1,
      taxProfile: 'UK',
      buyer: { legalName: 'Alice' },
    });
    expect(profile.statusCode).toBe(200);
    expect(profile.json()).toMatchObject({
      timezone: 'Europe/London',
      billCycleDay: 1,
      invoiceMode: 'statement',
      taxProfile: 'UK',
    });
    expect((await call('acme-alice', 'GET', '/v1/accounts/alice/billing')).json()).toMatchObject({
      billCycleDay: 1,
    });

    expect(
      (await acme('PUT', '/v1/coupons/TEN', { kind: 'percent', percent: '10', duration: 'once' })).statusCode,
    ).toBe(200);
    const assign = { plan: 'basic', version: 1, coupons: ['TEN'], reference: 'alice-basic' };
    const a = await acme('POST', '/v1/accounts/alice/plans', assign);
    expect(a.statusCode).toBe(201);
    expect(a.json()).toMatchObject({
      plan: 'basic',
      version: 1,
      status: 'active',
      currentPeriodEnd: '2026-12-01T00:00:00.000Z',
    });
    const again = await acme('POST', '/v1/accounts/alice/plans', assign);
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().id).toBe(a.json().id);
    // 5.00 setup + 7.00 (14/30 of 15.00) - 0.70 (10 %) = 11.30.
    const account = (await acme('GET', '/v1/accounts/alice')).json();
    expect(account.balances.find((b: { id: string }) => b.id === 'main').value).toBe('88.7');
    const listed = (await call('acme-alice', 'GET', '/v1/accounts/alice/plans')).json();
    expect(listed.assignments).toEqual([
      expect.objectContaining({
        id: a.json().id,
        nextRenewalAt: '2026-12-01T00:00:00.000Z',
        nextAmount: '15.00',
        currency: 'GBP',
      }),
    ]);
    const cancel = await acme(
      'DELETE',
      `/v1/accounts/alice/plans/${a.json().id}?reference=x1&effective=period_end`,
    );
    expect(cancel.json()).toMatchObject({
      status: 'active',
      endAt: '2026-12-01T00:00:00.000Z',
      nextRenewalAt: null,
    });
  });
});

describe('E.6 #20: bad input answers its own cause and changes nothing', () => {
  beforeAll(async () => {
    await acme('PUT', '/v1/coupons/OLD', {
      kind: 'fixed',
      amounts: { GBP: '1.00' },
      duration: 'once',
      expiresAt: '2020-01-01T00:00:00Z',
    });
    await acme('PUT', '/v1/coupons/ONE', {
      kind: 'fixed',
      amounts: { GBP: '1.00' },
      duration: 'once',
      maxRedemptions: 1,
    });
    await acme('POST', '/v1/accounts/bob/coupons', { code: 'ONE', reference: 'bob-one' });
    aliceAssignment = (await acme('GET', '/v1/accounts/alice/plans')).json().assignments[0].id;
    await acme('POST', '/v1/accounts/alice/coupons', { code: 'TEN', reference: 'alice-ten-again' }).then(
      (r) => expect(r.statusCode).toBe(409),
    );
  });

  const uuid = '00000000-0000-5000-a000-000000000000';
  it.each([
    [
      'a plan with many problems',
      'PUT',
      '/v1/plans/bad',
      { period: 'year', prices: { GBP: '1.001' }, bundles: [{ unit: 'x' }] },
      422,
      'INVALID_PLAN',
    ],
    [
      'a plan amount with 10 decimals',
      'PUT',
      '/v1/plans/bad',
      { period: 'month', prices: { GBP: '1.0000000001' } },
      422,
      'INVALID_PLAN',
    ],
    [
      'a plan naming an unknown tax code',
      'PUT',
      '/v1/plans/bad',
      { ...PLAN, taxCode: 'NOPE' },
      422,
      'INVALID_PLAN',
    ],
    [
      'an unknown plan',
      'POST',
      '/v1/accounts/bob/plans',
      { plan: 'nope', reference: 'r1' },
      404,
      'PLAN_NOT_FOUND',
    ],
    [
      'an unknown plan version',
      'POST',
      '/v1/accounts/bob/plans',
      { plan: 'basic', version: 9, reference: 'r1' },
      404,
      'PLAN_NOT_FOUND',
    ],
    [
      'a currency the plan has no price for',
      'POST',
      '/v1/accounts/usd/plans',
      { plan: 'basic', reference: 'r2' },
      422,
      'NO_PRICE_FOR_CURRENCY',
    ],
    [
      'a negative quantity',
      'POST',
      '/v1/accounts/bob/plans',
      { plan: 'basic', quantity: -1, reference: 'r3' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'a reference reused with another body',
      'POST',
      '/v1/accounts/alice/plans',
      { plan: 'basic', version: 2, reference: 'alice-basic' },
      409,
      'CONFLICT',
    ],
    [
      'an unknown coupon on an assignment',
      'POST',
      '/v1/accounts/bob/plans',
      { plan: 'basic', coupons: ['NOPE'], reference: 'r4' },
      404,
      'COUPON_NOT_FOUND',
    ],
    [
      'an unknown account',
      'POST',
      '/v1/accounts/ghost/plans',
      { plan: 'basic', reference: 'r5' },
      404,
      'ACCOUNT_NOT_FOUND',
    ],
    [
      'a zone that is not IANA',
      'PUT',
      '/v1/accounts/bob/billing',
      { timezone: 'Mars/Olympus' },
      400,
      'INVALID_REQUEST',
    ],
    ['cycle day 0', 'PUT', '/v1/accounts/bob/billing', { billCycleDay: 0 }, 400, 'INVALID_REQUEST'],
    ['cycle day 32', 'PUT', '/v1/accounts/bob/billing', { billCycleDay: 32 }, 400, 'INVALID_REQUEST'],
    [
      'an unknown tax profile',
      'PUT',
      '/v1/accounts/bob/billing',
      { taxProfile: 'NOPE' },
      422,
      'TAX_PROFILE_NOT_FOUND',
    ],
    [
      'a profile of an unknown account',
      'PUT',
      '/v1/accounts/ghost/billing',
      { billCycleDay: 3 },
      404,
      'ACCOUNT_NOT_FOUND',
    ],
    [
      'an entity zone that is not IANA',
      'PUT',
      '/v1/billing-entity',
      { legalName: 'X', defaultTimezone: 'UTC+1' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'an overlapping tax rate',
      'PUT',
      '/v1/taxes/VAT',
      { rate: '0.21', validFrom: '2025-01-01' },
      422,
      'TAX_RATE_OVERLAP',
    ],
    [
      'a tax rate with 7 decimals',
      'PUT',
      '/v1/taxes/NEW',
      { rate: '0.1234567', validFrom: '2025-01-01' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'a tax profile naming an unknown code',
      'PUT',
      '/v1/tax-profiles/X',
      { mapping: { fee: 'NOPE' } },
      422,
      'UNKNOWN_TAX_CODE',
    ],
    [
      'a fixed coupon with more decimals than GBP has',
      'PUT',
      '/v1/coupons/BAD',
      { kind: 'fixed', amounts: { GBP: '5.001' }, duration: 'once' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'an unknown coupon',
      'POST',
      '/v1/accounts/bob/coupons',
      { code: 'NOPE', reference: 'k1' },
      404,
      'COUPON_NOT_FOUND',
    ],
    [
      'an expired coupon',
      'POST',
      '/v1/accounts/bob/coupons',
      { code: 'OLD', reference: 'k2' },
      422,
      'COUPON_EXPIRED',
    ],
    [
      'an exhausted coupon',
      'POST',
      '/v1/accounts/alice/coupons',
      { code: 'ONE', reference: 'k3' },
      422,
      'COUPON_EXHAUSTED',
    ],
    [
      'a coupon already redeemed',
      'POST',
      '/v1/accounts/bob/coupons',
      { code: 'ONE', reference: 'k4' },
      409,
      'COUPON_ALREADY_REDEEMED',
    ],
    [
      'a change of an assignment that ends',
      'PATCH',
      '/v1/accounts/alice/plans/ALICE',
      { quantity: 2, effective: 'now', reference: 'p1' },
      409,
      'ASSIGNMENT_NOT_ACTIVE',
    ],
    [
      'an unknown assignment',
      'DELETE',
      `/v1/accounts/bob/plans/${uuid}?reference=d1`,
      undefined,
      404,
      'ASSIGNMENT_NOT_FOUND',
    ],
  ] as const)('%s', async (_name, method, url, body, status, cause) => {
    const pgBefore = await tables();
    const redisBefore = await dumpKeys(redis, prefix);
    const res = await acme(method, url.replace('ALICE', aliceAssignment), body as object | undefined);
    expect(res.statusCode, res.body).toBe(status);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json().cause).toBe(cause);
    if (_name === 'a plan with many problems')
      expect(res.json().invalidParams.length).toBeGreaterThanOrEqual(3);
    expect(await tables()).toEqual(pgBefore);
    expect(await dumpKeys(redis, prefix)).toEqual(redisBefore);
  });
});

describe('a write left unfinished on an assignment', () => {
  it('makes another change answer 409 CHANGE_PENDING naming it, changing nothing', async () => {
    // As a change whose money moved and whose commit failed leaves it (tests/billing/plans/moments.test.ts).
    await pool.query(
      `INSERT INTO ${schema}.plan_intents (tenant, subject, reference, request_hash, at) VALUES ('acme', $1, 'lost-1', 'h', now())`,
      [aliceAssignment],
    );
    const pgBefore = await tables();
    const redisBefore = await dumpKeys(redis, prefix);
    const res = await acme('PATCH', `/v1/accounts/alice/plans/${aliceAssignment}`, {
      quantity: 2,
      effective: 'now',
      reference: 'p2',
    });
    expect(res.statusCode, res.body).toBe(409);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ cause: 'CHANGE_PENDING', reference: 'lost-1' });
    expect(await tables()).toEqual(pgBefore);
    expect(await dumpKeys(redis, prefix)).toEqual(redisBefore);
    await pool.query(`DELETE FROM ${schema}.plan_intents WHERE reference = 'lost-1'`);
  });
});

describe('roles and tenants', () => {
  it('another tenant sees none of acme; a customer reads only its own; the network role calls none', async () => {
    const acmeAlice = (await acme('GET', '/v1/accounts/alice/plans')).json().assignments;
    const id = acmeAlice[0].id as string;
    const pgBefore = await tables();
    const redisBefore = await dumpKeys(redis, prefix);
    expect((await call('globex-billing', 'GET', '/v1/accounts/alice/plans')).json()).toEqual({
      assignments: [],
    });
    expect((await call('globex-billing', 'GET', '/v1/accounts/bob/plans')).statusCode).toBe(404);
    expect(
      (await call('globex-billing', 'DELETE', `/v1/accounts/alice/plans/${id}?reference=g1&effective=now`))
        .statusCode,
    ).toBe(404);
    expect(
      (await call('globex-billing', 'PUT', '/v1/accounts/bob/billing', { billCycleDay: 2 })).statusCode,
    ).toBe(404);
    expect((await call('globex-billing', 'GET', '/v1/plans/basic')).statusCode).toBe(404);
    expect(
      (
        await call('globex-billing', 'POST', '/v1/accounts/alice/plans', { plan: 'basic', reference: 'g2' })
      ).json().cause,
    ).toBe('PLAN_NOT_FOUND');
    expect(
      (await call('globex-billing', 'POST', '/v1/accounts/alice/coupons', { code: 'TEN', reference: 'g3' }))
        .statusCode,
    ).toBe(404);
    expect((await call('acme-alice', 'GET', '/v1/accounts/bob/plans')).statusCode).toBe(403);
    expect((await call('acme-alice', 'GET', '/v1/accounts/bob/billing')).statusCode).toBe(403);
    expect((await call('acme-alice', 'PUT', '/v1/plans/x', PLAN)).statusCode).toBe(403);
    expect((await call('acme-network', 'PUT', '/v1/plans/x', PLAN)).statusCode).toBe(403);
    expect(
      (await call('acme-network', 'POST', '/v1/accounts/bob/plans', { plan: 'basic', reference: 'n1' }))
        .statusCode,
    ).toBe(403);
    expect(
      (await call('acme-network', 'PUT', '/v1/taxes/VAT', { rate: '0.2', validFrom: '2030-01-01' }))
        .statusCode,
    ).toBe(403);
    expect(await tables()).toEqual(pgBefore);
    expect(await dumpKeys(redis, prefix)).toEqual(redisBefore);
  });
});
