/**
 * A billing start set through the API (an account migrated mid-cycle from another system): its first
 * bill period opens there; an instant in the future is refused; once a run has opened a period the
 * start is fixed (409 BILLING_STARTED), and a refusal changes nothing.
 */
import type { InjectOptions } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBilling } from '../../../src/billing/run/run.js';
import { ensureEngineSchema } from '../../../src/storage/schema.js';
import { testApp } from '../../support/app.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const clock = Date.UTC(2026, 10, 17);
let app: Awaited<ReturnType<typeof testApp>>;

const call = (method: InjectOptions['method'], url: string, payload?: object) =>
  app.app.inject({
    method,
    url,
    headers: { authorization: 'Bearer demo-billing' },
    ...(payload ? { payload } : {}),
  });

beforeAll(async () => {
  await ensureEngineSchema(pool, schema);
  app = await testApp({ redis, prefix, now: () => clock, plans: { pool, schema } });
  const made = await call('POST', '/v1/accounts', {
    id: 'migrated',
    type: 'postpaid',
    currency: 'GBP',
    subject: 'migrated',
    creditLimit: '100',
    reference: 'c-migrated',
  });
  expect(made.statusCode).toBe(201);
});

const profile = async () => (await call('GET', '/v1/accounts/migrated/billing')).json();

describe('a billing start given by billing staff', () => {
  it('opens the first bill period there, refuses the future, and is fixed once a run has billed', async () => {
    const set = await call('PUT', '/v1/accounts/migrated/billing', {
      billCycleDay: 1,
      timezone: 'Europe/London',
      billingSince: '2026-10-01T00:00:00+01:00',
    });
    expect(set.statusCode).toBe(200);
    expect(set.json().billingSince).toBe('2026-09-30T23:00:00.000Z');

    const before = await profile();
    const future = await call('PUT', '/v1/accounts/migrated/billing', {
      billingSince: '2026-11-18T00:00:00Z',
    });
    expect([future.statusCode, future.json().cause]).toEqual([400, 'INVALID_REQUEST']);
    const noOffset = await call('PUT', '/v1/accounts/migrated/billing', { billingSince: '2026-10-01' });
    expect(noOffset.statusCode).toBe(400);
    expect(await profile()).toEqual(before);

    const deps = {
      pool,
      schema,
      balances: app.balances,
      now: () => clock,
      chunkSize: 10,
      zeroInvoices: true,
    };
    const run = await runBilling(deps, {
      tenant: 'acme',
      asOf: new Date(Date.UTC(2026, 10, 2)),
      accounts: ['migrated'],
    });
    expect(run.status).toBe('done');
    const periods = await pool.query<{ s: Date; e: Date }>(
      `SELECT period_start AS s, period_end AS e FROM ${schema}.bill_periods
        WHERE tenant = 'acme' AND account_id = 'migrated' ORDER BY seq`,
    );
    expect(periods.rows[0]!.s.toISOString()).toBe('2026-09-30T23:00:00.000Z');
    expect(periods.rows[0]!.e.toISOString()).toBe('2026-11-01T00:00:00.000Z'); // London midnight, GMT again

    const moved = await call('PUT', '/v1/accounts/migrated/billing', {
      billingSince: '2026-09-01T00:00:00Z',
    });
    expect([moved.statusCode, moved.json().cause]).toEqual([409, 'BILLING_STARTED']);
    expect(await profile()).toEqual(before);
    // The same start again, or other fields, are still taken.
    const same = await call('PUT', '/v1/accounts/migrated/billing', {
      billingSince: '2026-09-30T23:00:00Z',
      paymentTermsDays: 30,
    });
    expect([same.statusCode, same.json().paymentTermsDays, same.json().billingSince]).toEqual([
      200,
      30,
      '2026-09-30T23:00:00.000Z',
    ]);
  });
});
