/**
 * The usage views over HTTP: by day and service equal to a direct aggregation of the rated tables;
 * the summary's bundles are the account's; a customer reads only their own account (403 for
 * another), billing staff only their tenant's (404 for another tenant's); bad input answers
 * problem+json with a cause; the self-care page is served with a strict CSP and no inline script.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKey } from '../../src/config.js';
import { ensureCdrSchema, ensurePartitions } from '../../src/cdr/store.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { rollupOnce } from '../../src/usage/rollup.js';
import { ensureUsageSchema } from '../../src/usage/schema.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const NOW = Date.parse('2026-11-20T12:00:00Z');
const keys: ApiKey[] = [
  { key: 'acme-billing', role: 'billing', tenant: 'acme' },
  { key: 'acme-network', role: 'network', tenant: 'acme' },
  { key: 'acme-alice', role: 'selfcare', tenant: 'acme', accountId: 'alice' },
  { key: 'globex-billing', role: 'billing', tenant: 'globex' },
  { key: 'globex-alice', role: 'selfcare', tenant: 'globex', accountId: 'alice' },
];
const as = (key: string) => ({ authorization: `Bearer ${key}` });
let app: FastifyInstance;

beforeAll(async () => {
  await ensureRecordsSchema(pool, schema);
  await ensureCdrSchema(pool, schema);
  await ensureUsageSchema(pool, schema);
  const c = await pool.connect();
  await ensurePartitions(c, schema, ['2026-10', '2026-11']);
  c.release();
  let balances;
  ({ app, balances } = await testApp({ redis, prefix, keys, now: () => NOW, usage: { pool, schema } }));
  for (const [tenant, id] of [
    ['acme', 'alice'],
    ['acme', 'bob'],
    ['globex', 'alice'],
  ] as const) {
    await balances.createAccount(
      { tenant, id, type: 'prepaid', currency: 'GBP', subject: id, subscriptions: [] },
      'c',
    );
    await balances.addBalance(tenant, id, { id: 'main', unit: 'money', value: 5_000_000_000 }, 'm');
  }
  await balances.addBalance('acme', 'alice', { id: 'data-pack', unit: 'data', value: 1_000_000 }, 'd');
  let line = 0;
  const cdr = (
    tenant: string,
    account: string,
    at: string,
    service: string,
    usage: string,
    charged: string,
  ) =>
    pool.query(
      `INSERT INTO ${schema}.rated_cdrs (cdr_id, tenant, account_id, subscriber, category, service, destination,
         answer_time, usage, rated_usage, cost_nano, currency, charged_nano, file_id, line)
       VALUES ($1, $2, $3, 's', 'call', $4, '+44', $5, $6, $6, $7, 'GBP', $7, 'f', $8)`,
      [`c${++line}`, tenant, account, service, at, usage, charged, line],
    );
  await cdr('acme', 'alice', '2026-11-03T08:00:00Z', 'voice', '120', '150000000');
  await cdr('acme', 'alice', '2026-11-03T09:00:00Z', 'voice', '30.5', '50000000');
  await cdr('acme', 'alice', '2026-11-03T09:30:00Z', 'sms', '1', '40000000');
  await cdr('acme', 'alice', '2026-11-19T23:59:59Z', 'voice', '60', '75000000');
  await cdr('acme', 'alice', '2026-10-15T10:00:00Z', 'voice', '60', '11');
  await cdr('acme', 'bob', '2026-11-03T08:00:00Z', 'voice', '999', '999');
  await cdr('globex', 'alice', '2026-11-03T08:00:00Z', 'voice', '7', '7');
  await rollupOnce(pool, schema);
});
afterAll(() => app.close());

const get = (url: string, key: string) => app.inject({ method: 'GET', url, headers: as(key) });

describe('usage by day and service', () => {
  it('answers every day of the range, equal to the rated tables aggregated directly', async () => {
    const r = await get('/v1/me/usage/daily?from=2026-11-01&to=2026-11-20', 'acme-alice');
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.days).toHaveLength(20);
    expect(body.days[2]).toEqual({
      day: '2026-11-03',
      charged: '0.24',
      records: 3,
      services: [
        { tor: 'sms', category: 'call', quantity: '1', charged: '0.04', records: 1 },
        { tor: 'voice', category: 'call', quantity: '150.5', charged: '0.2', records: 2 },
      ],
    });
    const direct = await pool.query(
      `SELECT (answer_time AT TIME ZONE 'UTC')::date::text AS day, sum(charged_nano)::text AS c FROM ${schema}.rated_cdrs
        WHERE tenant = 'acme' AND account_id = 'alice' AND answer_time >= '2026-11-01Z' AND answer_time < '2026-11-21Z' GROUP BY 1`,
    );
    const withUsage = body.days.filter((d: { records: number }) => d.records > 0);
    expect(withUsage.map((d: { day: string }) => d.day).sort()).toEqual(direct.rows.map((x) => x.day).sort());
    // Billing staff read the same through the account's path.
    const staff = await get('/v1/accounts/alice/usage/daily?from=2026-11-01&to=2026-11-20', 'acme-billing');
    expect(staff.json().days).toEqual(body.days);
  });

  it('defaults to the 30 days up to today', async () => {
    const body = (await get('/v1/me/usage/daily', 'acme-alice')).json();
    expect([body.from, body.to, body.days.length]).toEqual(['2026-10-22', '2026-11-20', 30]);
  });

  it('summarises the month by service, with the bundles the account holds', async () => {
    const body = (await get('/v1/me/usage/summary?period=current', 'acme-alice')).json();
    expect(body.period).toEqual({ from: '2026-11-01', to: '2026-11-30' });
    expect(body.charged).toBe('0.315');
    expect(body.services.map((s: { tor: string }) => s.tor)).toEqual(['sms', 'voice']);
    const me = (await get('/v1/me', 'acme-alice')).json();
    expect(body.bundles).toEqual(me.balances.filter((b: { unit: string }) => b.unit !== 'money'));
    expect(body.bundles.map((b: { id: string }) => b.id)).toEqual(['data-pack']);
    const prev = (await get('/v1/accounts/alice/usage/summary?period=previous', 'acme-billing')).json();
    expect([prev.period.from, prev.charged]).toEqual(['2026-10-01', '0.000000011']);
  });
});

describe('who may read', () => {
  it('a customer reads only their own account', async () => {
    expect((await get('/v1/accounts/bob/usage/daily', 'acme-alice')).json().cause).toBe('FORBIDDEN');
    expect((await get('/v1/accounts/bob/usage/summary', 'acme-alice')).statusCode).toBe(403);
    expect((await get('/v1/me/usage/daily', 'acme-billing')).statusCode).toBe(403);
    expect((await get('/v1/accounts/alice/usage/daily', 'acme-network')).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/v1/me/usage/summary' })).statusCode).toBe(401);
  });

  it("another tenant's account answers as unknown, and a tenant sees only its own rows", async () => {
    const r = await get('/v1/accounts/bob/usage/daily', 'globex-billing');
    expect([r.statusCode, r.json().cause]).toEqual([404, 'ACCOUNT_NOT_FOUND']);
    expect((await get('/v1/accounts/bob/usage/summary', 'globex-billing')).statusCode).toBe(404);
    const theirs = (await get('/v1/me/usage/summary', 'globex-alice')).json();
    expect([theirs.charged, theirs.services.length]).toEqual(['0.000000007', 1]);
  });
});

describe('bad input', () => {
  it.each([
    ['/v1/me/usage/daily?from=2026-13-01', 400, 'INVALID_REQUEST', '/from'],
    ['/v1/me/usage/daily?from=2026-02-30', 400, 'INVALID_REQUEST', '/from'],
    ['/v1/me/usage/daily?to=yesterday', 400, 'INVALID_REQUEST', '/to'],
    ['/v1/me/usage/daily?from=2026-11-10&to=2026-11-01', 400, 'INVALID_REQUEST', '/from'],
    ['/v1/me/usage/daily?from=2026-08-01&to=2026-11-20', 422, 'RANGE_TOO_LARGE', '/from'],
    ['/v1/me/usage/daily?tor=voice&x=1', 400, 'INVALID_REQUEST', undefined],
    ['/v1/me/usage/summary?period=2026-13', 400, 'INVALID_REQUEST', '/period'],
    ['/v1/me/usage/summary?period=last', 400, 'INVALID_REQUEST', '/period'],
  ])('%s → %i %s', async (url, status, cause, param) => {
    const r = await get(url, 'acme-alice');
    expect(r.statusCode).toBe(status);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(r.json().cause).toBe(cause);
    if (param) expect(r.json().invalidParams.map((p: { param: string }) => p.param)).toContain(param);
  });
});

describe('the self-care page', () => {
  it('is served with a strict CSP, and neither it nor its script writes markup from data', async () => {
    const r = await app.inject({ method: 'GET', url: '/selfcare' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(r.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // every script from a file
    expect(r.body).not.toMatch(/\son[a-z]+=/i); // no inline handlers
    const js = await app.inject({ method: 'GET', url: '/selfcare/app.js' });
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.body).toBe(readFileSync('src/selfcare/app.js', 'utf8'));
    expect(js.body).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  });
});
