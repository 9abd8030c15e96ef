/**
 * The billing run end to end on real Redis and PostgreSQL (billing.md E.6 #5, #7, #14, #15): usage,
 * fees and sessions land on exactly one invoice; late usage, rerates and late session reports land
 * on the next one as late_usage/adjustment lines with their exact amounts; a postpaid balance equals
 * minus what its open invoices ask minus what is not billed yet, to the nano; the same asOf again
 * changes nothing; two runs at once: one is refused; a preview at C is the draft the run built at C.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { previewInvoice } from '../../../src/billing/run/preview.js';
import { RunInProgressError, runBilling, startRun } from '../../../src/billing/run/run.js';
import { importCdrFile } from '../../../src/cdr/pipeline.js';
import { createRatingPool } from '../../../src/cdr/pool.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import {
  addAccount,
  addVat,
  applyFee,
  ensureAll,
  moneyOf,
  oneCdr,
  rerateCdr,
  runDeps,
  sampleFor,
  storeRecord,
} from './support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const rating = createRatingPool({ tariffDir: 'tariffs/sample', threads: 1 });
const deps = runDeps(pool, schema, redis, prefix, Date.parse('2027-01-02T00:00:00Z'));
const { balances } = deps;
const MSISDN = '447700900001';
const importDeps = { balances, pool, schema, rating };

beforeAll(async () => {
  await ensureAll(pool, schema);
  await addVat(pool, schema);
  await addAccount(balances, pool, schema, {
    id: 'pa',
    createdAt: '2026-10-01T00:00:00Z',
    taxProfile: 'uk',
    msisdn: MSISDN,
  });
});
afterAll(() => rating.close());

interface Invoice {
  id: string;
  bill_seq: number;
  status: string;
  number: string | null;
  total: string;
  due: string;
  hash: string | null;
}

async function invoices(): Promise<Invoice[]> {
  const r = await pool.query<Invoice>(
    `SELECT id, bill_seq, status, number, total_nano::text AS total, amount_due_nano::text AS due, document_hash AS hash
       FROM ${schema}.invoices WHERE account_id = 'pa' ORDER BY bill_seq`,
  );
  return r.rows;
}

async function lines(invoiceId: string) {
  const r = await pool.query<{ kind: string; exact: string; quantity: string | null; description: string }>(
    `SELECT kind, exact_nano::text AS exact, quantity::text AS quantity, description FROM ${schema}.invoice_lines
      WHERE invoice_id = $1 ORDER BY seq`,
    [invoiceId],
  );
  return r.rows;
}

/** Money charged by billable rows, all told: what rows took plus their differences. */
async function billableNano(): Promise<bigint> {
  const r = await pool.query<{ n: string }>(
    `SELECT ((SELECT coalesce(sum(charged_nano), 0) FROM ${schema}.rated_cdrs)
           + (SELECT coalesce(sum(charged_nano), 0) FROM ${schema}.rated_records)
           + (SELECT coalesce(sum(delta_charged_nano), 0) FROM ${schema}.usage_adjustments)
           + (SELECT coalesce(sum(amount_nano), 0) FROM ${schema}.charges WHERE status = 'applied'))::text AS n`,
  );
  return BigInt(r.rows[0]!.n);
}

/** A session record whose money moved in Redis as the step moves it. */
async function session(id: string, usage: number, costNano: number, tookBefore: number) {
  const r = await balances.debit('acme', 'pa', {
    opId: `sess:${id}:${usage}`,
    charge: { unit: 'generic', units: 0, amountNano: costNano - tookBefore },
    force: true,
  });
  expect(r.code).toBe('OK');
  await storeRecord(pool, schema, { record_id: id, account_id: 'pa', usage, cost_nano: costNano });
}

const sumDue = (xs: Invoice[]) =>
  xs.filter((x) => x.status === 'finalized').reduce((s, x) => s + BigInt(x.due), 0n);
let firstC = '';

describe('a billing run', () => {
  it('bills usage, sessions and fees of the period once, and the balance carries the invoice (#5, #14)', async () => {
    const c = await importCdrFile(importDeps, sampleFor('m', [MSISDN]), { fileId: 'm' });
    expect(c.stored).toBeGreaterThan(0);
    await session('session:s1:1', 1_000_000, 50_000_000, 0);
    await applyFee(balances, pool, schema, 'pa', 'fee:pa:2026-11-01', 15_000_000_000);

    const s = await runBilling(deps, { tenant: 'acme', asOf: new Date('2026-12-01T00:00:00Z') });
    expect(s).toMatchObject({
      status: 'done',
      counters: { periodsClosed: 2, drafted: 1, finalized: 1, skipped: 1 },
    });
    const [nov] = await invoices();
    expect(nov).toMatchObject({ bill_seq: 2, status: 'finalized', number: expect.stringMatching(/1$/) });
    const ls = await lines(nov!.id);
    expect(ls[0]!.kind).toBe('fee');
    expect(new Set(ls.slice(1).map((l) => l.kind))).toEqual(new Set(['usage']));
    // Every nano charged is on it; the balance is minus its total (tax posted at finalization).
    expect(ls.reduce((t, l) => t + BigInt(l.exact), 0n)).toBe(await billableNano());
    expect(await moneyOf(balances, 'pa')).toBe(-BigInt(nov!.due));
    const p = await pool.query(
      `SELECT cutoff_at::text AS c FROM ${schema}.bill_periods WHERE account_id = 'pa' AND seq = 2`,
    );
    firstC = p.rows[0].c;
  });

  it('puts late usage, rerates and late session reports on the next invoice, exactly (#5, #14)', async () => {
    const billedBefore = await billableNano();
    await importCdrFile(importDeps, oneCdr('late-1', MSISDN, '2026-11-30T12:00:00.000Z'), { fileId: 'late' });
    const first = (
      await pool.query(`SELECT cdr_id FROM ${schema}.rated_cdrs WHERE file_id = 'm' ORDER BY cdr_id LIMIT 1`)
    ).rows[0];
    await balances.debit('acme', 'pa', {
      opId: `rerate:${first.cdr_id}:0`,
      charge: { unit: 'generic', units: 0, amountNano: 1_000_000 },
      force: true,
    });
    await rerateCdr(pool, schema, first.cdr_id, 1_000_000n);
    await session('session:s1:1', 2_000_000, 80_000_000, 50_000_000);
    const unbilled = (await billableNano()) - billedBefore;
    expect(await moneyOf(balances, 'pa')).toBe(-sumDue(await invoices()) - unbilled);

    const s = await runBilling(deps, { tenant: 'acme', asOf: new Date('2027-01-01T00:00:00Z') });
    expect(s).toMatchObject({ status: 'done', counters: { periodsClosed: 1, drafted: 1, finalized: 1 } });
    const all = await invoices();
    const dec = all.find((x) => x.bill_seq === 3)!;
    const ls = await lines(dec.id);
    expect(ls.map((l) => [l.kind, l.exact])).toEqual(
      expect.arrayContaining([
        ['adjustment', '1000000'],
        ['adjustment', '30000000'],
      ]),
    );
    const late = ls.find((l) => l.kind === 'late_usage')!;
    expect(late.quantity).toBe('1');
    expect(ls.reduce((t, l) => t + BigInt(l.exact), 0n)).toBe(unbilled);
    // Over both invoices: Σ invoiced = Σ charged + Σ adjustments; the balance is minus what is due.
    expect(await moneyOf(balances, 'pa')).toBe(-sumDue(all));
    // Numbered in the default series, which restarts each year (issued on 2026-12-01 and 2027-01-01).
    expect(all.map((x) => x.number)).toEqual(['INV2026-000001', 'INV2027-000001']);
  });

  it('changes nothing when run again for the same asOf, and refuses a second run at once (#7)', async () => {
    const before = await invoices();
    const money = await moneyOf(balances, 'pa');
    const again = await runBilling(deps, { tenant: 'acme', asOf: new Date('2027-01-01T00:00:00Z') });
    expect(again.counters).toMatchObject({ periodsClosed: 0, drafted: 0, finalized: 0, parked: 0 });
    expect(await invoices()).toEqual(before);
    expect(await moneyOf(balances, 'pa')).toBe(money);
    const one = await startRun(deps, { tenant: 'acme', asOf: new Date('2027-01-01T00:00:00Z') });
    await expect(
      startRun(deps, { tenant: 'acme', asOf: new Date('2027-01-01T00:00:00Z') }),
    ).rejects.toBeInstanceOf(RunInProgressError);
    expect((await one.done).status).toBe('done');
  });

  it('previews at C exactly the draft the run built at C (#15)', async () => {
    // Bill 2 was drafted at firstC: a preview of it at that cut-off must give the same lines.
    await pool.query(
      `UPDATE ${schema}.bill_periods SET status = 'closed' WHERE account_id = 'pa' AND seq = 2`,
    );
    try {
      const p = await previewInvoice(deps, 'acme', 'pa', firstC);
      expect(p.kind).toBe('draft');
      const nov = (await invoices())[0]!;
      const stored = await lines(nov.id);
      if (p.kind !== 'draft') return;
      expect(p.figures.lines.map((l) => [l.kind, l.exactNano.toString()])).toEqual(
        stored.map((l) => [l.kind, l.exact]),
      );
      expect(p.figures.totalNano.toString()).toBe(nov.total);
    } finally {
      await pool.query(
        `UPDATE ${schema}.bill_periods SET status = 'finalized' WHERE account_id = 'pa' AND seq = 2`,
      );
    }
  });
});
