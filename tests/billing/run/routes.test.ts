/**
 * Billing runs over HTTP (billing.md E.4): 202 with a run id, the run's counters and per-account
 * outcomes, 409 RUN_IN_PROGRESS for a second run at once, 422 AS_OF_IN_FUTURE, 400 for a malformed
 * body (nothing written), unpark, a preview in decimal strings; other roles are refused and another
 * tenant's run is unknown.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../../../src/config.js';
import { testApp } from '../../support/app.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { addAccount, addVat, applyFee, ensureAll, runDeps } from './support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const deps = runDeps(pool, schema, redis, prefix, Date.now());
let app: FastifyInstance;
const BILLING = { authorization: 'Bearer demo-billing' };

beforeAll(async () => {
  await ensureAll(pool, schema);
  await addVat(pool, schema);
  await addAccount(deps.balances, pool, schema, {
    id: 'r1',
    createdAt: '2026-11-01T00:00:00Z',
    taxProfile: 'uk',
  });
  await applyFee(deps.balances, pool, schema, 'r1', 'fee:r1', 15_000_000_000);
  const keys = [
    ...DEMO_KEYS,
    { key: 'beta-billing', role: 'billing' as const, tenant: 'beta', name: 'beta billing' },
  ];
  ({ app } = await testApp({ redis, prefix, billingRuns: deps, keys }));
});
afterAll(() => app.close());

const post = (url: string, payload?: object, headers = BILLING) =>
  app.inject({ method: 'POST', url, headers, ...(payload ? { payload } : {}) });

async function runs(): Promise<number> {
  return (await pool.query(`SELECT count(*)::int AS n FROM ${schema}.billing_runs`)).rows[0].n;
}

describe('billing runs over HTTP', () => {
  it('previews the next invoice in decimal strings', async () => {
    // Cut off now: the fee stored a moment ago is on it (as of 1 December it was not stored yet).
    const res = await post('/v1/accounts/r1/invoices/preview', {});
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      accountId: 'r1',
      billSeq: 1,
      currency: 'GBP',
      total: '18.00',
      tax: '3.00',
    });
    const before = await post('/v1/accounts/r1/invoices/preview', { asOf: '2026-12-01T00:00:00Z' });
    expect(before.json()).toMatchObject({ lines: [], total: '0.00' });
    expect((await post('/v1/accounts/nobody/invoices/preview', {})).json().cause).toBe('ACCOUNT_NOT_FOUND');
  });

  it('refuses bad input and a future asOf, writing nothing', async () => {
    for (const body of [{}, { asOf: 'yesterday' }, { asOf: '2026-12-01T00:00:00Z', extra: 1 }]) {
      const res = await post('/v1/billing/runs', body);
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    const future = await post('/v1/billing/runs', { asOf: '2999-01-01T00:00:00Z' });
    expect([future.statusCode, future.json().cause]).toEqual([422, 'AS_OF_IN_FUTURE']);
    expect(await runs()).toBe(0);
    const net = await post(
      '/v1/billing/runs',
      { asOf: '2026-12-01T00:00:00Z' },
      { authorization: 'Bearer demo-network' },
    );
    expect(net.statusCode).toBe(403);
  });

  it('starts a run, answers 409 to a second one meanwhile, and shows its counters and items', async () => {
    const [a, b] = await Promise.all([
      post('/v1/billing/runs', { asOf: '2026-12-01T00:00:00Z' }),
      post('/v1/billing/runs', { asOf: '2026-12-01T00:00:00Z' }),
    ]);
    const codes = [a.statusCode, b.statusCode].sort();
    expect(codes[0]).toBe(202);
    const started = a.statusCode === 202 ? a : b;
    if (codes[1] !== 202) expect((a.statusCode === 202 ? b : a).json().cause).toBe('RUN_IN_PROGRESS');
    const { runId } = started.json();
    let run;
    for (let i = 0; i < 600; i++) {
      run = (await app.inject({ url: `/v1/billing/runs/${runId}`, headers: BILLING })).json();
      if (run.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(run).toMatchObject({ id: runId, status: 'done', counters: { drafted: 1, finalized: 1 } });
    const items = await app.inject({
      url: `/v1/billing/runs/${runId}/items?outcome=invoiced`,
      headers: BILLING,
    });
    expect(items.json().items).toEqual([expect.objectContaining({ accountId: 'r1', outcome: 'invoiced' })]);
    // Another tenant's billing staff: unknown.
    const other = await app.inject({
      url: `/v1/billing/runs/${runId}`,
      headers: { authorization: 'Bearer beta-billing' },
    });
    expect(other.statusCode).toBe(404);
    expect((await post('/v1/accounts/r1/billing/unpark')).json()).toEqual({ accountId: 'r1', parked: false });
    expect((await post('/v1/accounts/ghost/billing/unpark')).statusCode).toBe(404);
  });
});
