/**
 * Every billing run ends with a reconciliation of its accounts (reconcile/after-run.ts): clean after
 * a clean month, in the summary and on the run's row; a deliberate mismatch (a billable row whose
 * money never moved) is reported with its account, reason and exact amount, and logged, while the
 * run's documents are finalized as usual.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runBilling, type RunDeps } from '../../../src/billing/run/run.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { addAccount, addVat, applyFee, ensureAll, runDeps, storeRecord } from '../run/support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const warned: { obj: object; msg: string }[] = [];
const deps: RunDeps = {
  ...runDeps(pool, schema, redis, prefix, Date.parse('2027-01-02T00:00:00Z')),
  log: { warn: (obj, msg) => warned.push({ obj, msg }) },
};

beforeAll(async () => {
  await ensureAll(pool, schema);
  await addVat(pool, schema);
  for (const id of ['ra', 'rb'])
    await addAccount(deps.balances, pool, schema, {
      id,
      createdAt: '2026-10-01T00:00:00Z',
      taxProfile: 'uk',
    });
  await applyFee(deps.balances, pool, schema, 'ra', 'fee:ra:2026-11-01', 15_000_000_000);
  await applyFee(deps.balances, pool, schema, 'rb', 'fee:rb:2026-11-01', 15_000_000_000);
});

async function stored(runId: string) {
  const r = await pool.query(
    `SELECT counters->'reconciliation' AS r FROM ${schema}.billing_runs WHERE id = $1`,
    [runId],
  );
  return r.rows[0].r;
}

describe('reconciliation at the end of a run', () => {
  it('is clean after a clean month: in the summary and on the run row', async () => {
    const s = await runBilling(deps, { tenant: 'acme', asOf: new Date('2026-12-01T00:00:00Z') });
    expect(s.status).toBe('done');
    expect(s.counters.finalized).toBe(2);
    expect(s.reconciliation).toEqual({
      accounts: 2,
      differing: 0,
      behind: 0,
      groups: 0,
      groupsDiffering: 0,
      clean: true,
      differences: [],
    });
    expect(await stored(s.runId)).toEqual(s.reconciliation);
    expect(warned).toEqual([]);
  });

  it('reports and logs a mismatch, and still finalizes the documents', async () => {
    // A rated record of 0.70 on rb whose money never moved in Redis: billable rows ≠ balance.
    await storeRecord(pool, schema, {
      record_id: 'orphan-1',
      account_id: 'rb',
      started_at: '2026-12-10T10:00:00.000Z',
      cost_nano: 700_000_000,
    });
    const s = await runBilling(deps, { tenant: 'acme', asOf: new Date('2027-01-01T00:00:00Z') });
    expect(s.status).toBe('done');
    expect(s.counters.finalized).toBe(1); // rb's December invoice is not held back (ra's bill is empty)
    expect(s.reconciliation).toMatchObject({ accounts: 2, differing: 1, clean: false });
    const r = s.reconciliation as { differences: unknown[] };
    expect(r.differences).toEqual([
      expect.objectContaining({
        accountId: 'rb',
        check: 'postpaid',
        reason: 'BILLABLE_ROWS_DIFFER_FROM_BALANCE',
        differenceNano: '700000000',
      }),
    ]);
    expect(await stored(s.runId)).toEqual(s.reconciliation);
    expect(warned).toHaveLength(1);
    expect(warned[0]!.msg).toContain('1 account(s)');
  });

  it('says so when switched off (never a silent pass)', async () => {
    const s = await runBilling(
      { ...deps, reconcile: false },
      { tenant: 'acme', asOf: new Date('2027-01-01T00:00:00Z') },
    );
    expect(s.reconciliation).toEqual({ skipped: 'disabled' });
  });
});
