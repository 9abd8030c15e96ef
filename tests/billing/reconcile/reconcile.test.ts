/**
 * Reconciliation (billing.md E.6 #16) on real Redis and PostgreSQL: after a month of CDRs, a fee and
 * a billing run, every balance equals its ledger and the postpaid balance equals − open amount due −
 * unbilled charges, to the nano — also with new unbilled usage and a payment. A deliberately
 * introduced difference is reported with its exact amount and reason: a corrupted
 * `rated_cdrs.charged_nano`, a ledger row lost, a top-up by hand. The route answers the same report.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBilling } from '../../../src/billing/run/run.js';
import { parkDiffering, reconcile, reconcileAccount } from '../../../src/billing/reconcile/reconcile.js';
import { reconcileRoutes } from '../../../src/billing/reconcile/routes.js';
import { importCdrFile } from '../../../src/cdr/pipeline.js';
import { createRatingPool } from '../../../src/cdr/pool.js';
import { ensurePaymentsSchema } from '../../../src/payments/schema.js';
import { drainOutboxes } from '../../../src/storage/outbox.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { testApp } from '../../support/app.js';
import { addAccount, addVat, applyFee, ensureAll, oneCdr, runDeps, sampleFor } from '../run/support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const rating = createRatingPool({ tariffDir: 'tariffs/sample', threads: 1 });
const deps = runDeps(pool, schema, redis, prefix, Date.parse('2027-01-02T00:00:00Z'));
const { balances } = deps;
const MSISDN = '447700900001';
const drain = () => drainOutboxes({ redis, pool, schema, keyPrefix: prefix, full: true });
const check = () => reconcileAccount({ pool, schema, balances }, 'acme', 'pa');

beforeAll(async () => {
  await ensureAll(pool, schema);
  await ensurePaymentsSchema(pool, schema);
  await addVat(pool, schema);
  await addAccount(balances, pool, schema, {
    id: 'pa',
    createdAt: '2026-10-01T00:00:00Z',
    taxProfile: 'uk',
    msisdn: MSISDN,
  });
  await addAccount(
    balances,
    pool,
    schema,
    { id: 'pp', type: 'prepaid', createdAt: '2026-10-01T00:00:00Z' },
    5_000_000_000,
  );
  await importCdrFile({ balances, pool, schema, rating }, sampleFor('m', [MSISDN]), { fileId: 'm' });
  await applyFee(balances, pool, schema, 'pa', 'fee:pa:2026-11-01', 15_000_000_000);
  const s = await runBilling(deps, { tenant: 'acme', asOf: new Date('2026-12-01T00:00:00Z') });
  expect(s.counters.finalized).toBe(1);
  await importCdrFile(
    { balances, pool, schema, rating },
    oneCdr('late-1', MSISDN, '2026-11-30T12:00:00.000Z'),
    { fileId: 'late' },
  );
  await drain();
});
afterAll(() => rating.close());

describe('reconciliation', () => {
  it('reconciles a clean month to the nano: ledger = Redis, balance = −due − unbilled', async () => {
    const r = await check();
    expect(r).toMatchObject({ accountId: 'pa', type: 'postpaid', ok: true, differences: [] });
    const f = r.postpaid!;
    expect(BigInt(f.openDueNano!)).toBeGreaterThan(0n);
    expect(BigInt(f.billableNano!) - BigInt(f.billedNano!)).toBeGreaterThan(0n); // the late CDR
    expect(BigInt(f.moneyNano!)).toBe(
      -BigInt(f.openDueNano!) - (BigInt(f.billableNano!) - BigInt(f.billedNano!)),
    );
    const all = await reconcile({ pool, schema, balances }, 'acme');
    expect(all).toMatchObject({ accounts: 2, ok: 2, differing: 0 });
    // Batches of one account read the same figures as one batch of all.
    expect(await reconcile({ pool, schema, balances }, 'acme', undefined, undefined, 1)).toEqual(all);
  });

  it('reports a corrupted charged_nano with its exact difference', async () => {
    const one = await pool.query(`SELECT cdr_id FROM ${schema}.rated_cdrs WHERE cdr_id = 'late-1'`);
    expect(one.rowCount).toBe(1);
    await pool.query(
      `UPDATE ${schema}.rated_cdrs SET charged_nano = charged_nano + 7 WHERE cdr_id = 'late-1'`,
    );
    try {
      const r = await check();
      expect(r.ok).toBe(false);
      expect(r.differences).toEqual([
        expect.objectContaining({
          check: 'postpaid',
          differenceNano: 7n,
          reason: 'BILLABLE_ROWS_DIFFER_FROM_BALANCE',
        }),
      ]);
    } finally {
      await pool.query(
        `UPDATE ${schema}.rated_cdrs SET charged_nano = charged_nano - 7 WHERE cdr_id = 'late-1'`,
      );
    }
    expect((await check()).ok).toBe(true);
  });

  it('reports a lost ledger row against Redis, balance by balance', async () => {
    const row = await pool.query(
      `DELETE FROM ${schema}.balance_ledger WHERE account_id = 'pp' AND balance_id = 'main' RETURNING *`,
    );
    try {
      const r = await reconcileAccount({ pool, schema, balances }, 'acme', 'pp');
      expect(r.differences).toEqual([
        expect.objectContaining({
          check: 'ledger',
          balanceId: 'main',
          differenceNano: 5_000_000_000n,
          reason: 'LEDGER_DIFFERS_FROM_REDIS',
        }),
      ]);
    } finally {
      for (const x of row.rows)
        await pool.query(
          `INSERT INTO ${schema}.balance_ledger SELECT * FROM json_populate_record(NULL::${schema}.balance_ledger, $1)`,
          [JSON.stringify(x)],
        );
    }
  });

  it('names a top-up by hand on a postpaid account, and says when the outbox is not drained', async () => {
    await balances.credit('acme', 'pa', {
      opId: 'credit:by-hand',
      balanceId: 'main',
      amount: 2_000_000_000,
      kind: 'topup',
    });
    const behind = await check();
    expect(behind.differences.map((d) => d.reason)).toContain('UNDRAINED_OUTBOX');
    // The ledger being behind is no reason to park an account.
    expect(await parkDiffering({ pool, schema, balances }, 'acme', [behind])).toEqual([]);
    await drain();
    expect((await check()).differences).toEqual([
      expect.objectContaining({
        check: 'postpaid',
        differenceNano: 2_000_000_000n,
        reason: 'MANUAL_MOVEMENTS',
      }),
    ]);
  });

  it('answers GET /v1/billing/reconciliation for billing staff only, within the tenant', async () => {
    const keys = [
      { key: 'b', role: 'billing' as const, tenant: 'acme' },
      { key: 'b2', role: 'billing' as const, tenant: 'other' },
      { key: 'me', role: 'selfcare' as const, tenant: 'acme', accountId: 'pa' },
    ];
    const { app } = await testApp({ redis, prefix, keys });
    reconcileRoutes(app, { pool, schema, balances });
    const get = (url: string, key: string) =>
      app.inject({ url, headers: { authorization: `Bearer ${key}` } });
    try {
      const one = await get('/v1/billing/reconciliation?account=pp', 'b');
      expect(one.json()).toMatchObject({ accounts: 1, ok: 1, reports: [{ accountId: 'pp', ok: true }] });
      const all = (await get('/v1/billing/reconciliation?limit=1', 'b')).json();
      expect(all).toMatchObject({ accounts: 1, truncated: true });
      const pa = (await get('/v1/billing/reconciliation?account=pa', 'b')).json();
      expect(pa.reports[0].differences[0]).toMatchObject({
        differenceNano: '2000000000',
        reason: 'MANUAL_MOVEMENTS',
      });
      expect((await get('/v1/billing/reconciliation?account=pp', 'b2')).json().cause).toBe(
        'ACCOUNT_NOT_FOUND',
      );
      expect((await get('/v1/billing/reconciliation', 'me')).statusCode).toBe(403);
      expect((await get('/v1/billing/reconciliation?limit=0', 'b')).statusCode).toBe(400);
    } finally {
      await app.close();
    }
  });
});
