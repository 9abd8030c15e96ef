/**
 * E.6 #16 end to end: a billable row whose money never moved (a corrupted `charged_nano` has the
 * same shape) is reported with its exact difference; `billing reconcile --park` parks the account
 * RECONCILIATION_MISMATCH, and the next run neither drafts nor finalizes its bill while the other
 * account is invoiced; unparked, the same asOf again invoices it, difference and all.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { unpark } from '../../../src/billing/run/accounts.js';
import { runBilling } from '../../../src/billing/run/run.js';
import { parkDiffering, reconcile } from '../../../src/billing/reconcile/reconcile.js';
import { drainOutboxes } from '../../../src/storage/outbox.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { addAccount, addVat, applyFee, ensureAll, runDeps, storeRecord } from '../run/support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const deps = runDeps(pool, schema, redis, prefix, Date.parse('2027-01-02T00:00:00Z'));
const rdeps = { pool, schema, balances: deps.balances };
const dec = new Date('2027-01-01T00:00:00Z');

const invoicesOf = async (id: string) =>
  (
    await pool.query<{ bill_seq: number; status: string }>(
      `SELECT bill_seq, status FROM ${schema}.invoices WHERE account_id = $1 ORDER BY bill_seq`,
      [id],
    )
  ).rows;

beforeAll(async () => {
  await ensureAll(pool, schema);
  await addVat(pool, schema);
  for (const id of ['ok1', 'bad'])
    await addAccount(deps.balances, pool, schema, {
      id,
      createdAt: '2026-10-01T00:00:00Z',
      taxProfile: 'uk',
    });
  for (const id of ['ok1', 'bad'])
    await applyFee(deps.balances, pool, schema, id, `fee:${id}:nov`, 15_000_000_000);
  await runBilling(deps, { tenant: 'acme', asOf: new Date('2026-12-01T00:00:00Z') });
  for (const id of ['ok1', 'bad'])
    await applyFee(deps.balances, pool, schema, id, `fee:${id}:dec`, 15_000_000_000);
  await storeRecord(pool, schema, {
    record_id: 'no-money',
    account_id: 'bad',
    started_at: '2026-12-10T10:00:00.000Z',
    cost_nano: 123_456_789,
  });
  await drainOutboxes({ redis, pool, schema, keyPrefix: prefix, full: true });
});

describe('a reconciliation mismatch (E.6 #16)', () => {
  it('is reported exactly, parks the account, and its next bill is not drafted nor finalized', async () => {
    const s = await reconcile(rdeps, 'acme');
    expect(s).toMatchObject({ accounts: 2, ok: 1, differing: 1, clean: false });
    const bad = s.reports.find((r) => r.accountId === 'bad')!;
    expect(bad.differences).toEqual([
      expect.objectContaining({
        check: 'postpaid',
        differenceNano: 123_456_789n,
        reason: 'BILLABLE_ROWS_DIFFER_FROM_BALANCE',
      }),
    ]);
    expect(await parkDiffering(rdeps, 'acme', s.reports)).toEqual(['bad']);
    const parked = await pool.query(
      `SELECT parked_code, parked_message FROM ${schema}.billing_accounts WHERE account_id = 'bad'`,
    );
    expect(parked.rows[0].parked_code).toBe('RECONCILIATION_MISMATCH');
    expect(parked.rows[0].parked_message).toContain('123456789 nano');

    const run = await runBilling(deps, { tenant: 'acme', asOf: dec });
    expect(run.status).toBe('done');
    expect(await invoicesOf('ok1')).toEqual([
      { bill_seq: 2, status: 'finalized' },
      { bill_seq: 3, status: 'finalized' },
    ]);
    expect(await invoicesOf('bad')).toEqual([{ bill_seq: 2, status: 'finalized' }]); // no December draft
  });

  it('once unparked, the same asOf invoices it (the staff decided the row stands)', async () => {
    expect(await unpark(pool, schema, 'acme', 'bad')).toBe(true);
    const again = await runBilling(deps, { tenant: 'acme', asOf: dec });
    expect(again.counters.finalized).toBe(1);
    expect(await invoicesOf('bad')).toEqual([
      { bill_seq: 2, status: 'finalized' },
      { bill_seq: 3, status: 'finalized' },
    ]);
  });
});
