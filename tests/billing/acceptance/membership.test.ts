/**
 * E.6 #5 and #14 over three invoices: a CDR of 30 September imported during the bill's grace is on
 * September's invoice as ordinary usage; one imported after September was finalized is late usage on
 * October's, citing September's invoice; a rerate of a September CDR after that lands on November's
 * as an adjustment of the exact difference, citing September's invoice too. A one-off debit is on the
 * invoice of its period. Over the three: Σ invoiced = Σ charged + Σ differences + Σ charges, every
 * CDR counted once, and the postpaid balance = − what is due, exactly.
 *
 * The periods are in the wall clock's past, as in production: a run's cut-off C (the wall clock) is
 * after the ends of the periods it bills, which the run's scan bound relies on (membership.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBilling } from '../../../src/billing/run/run.js';
import { lockCutShared } from '../../../src/billing/run/cutoff.js';
import { importCdrFile } from '../../../src/cdr/pipeline.js';
import { createRatingPool } from '../../../src/cdr/pool.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { addAccount, addVat, ensureAll, moneyOf, oneCdr, rerateCdr, runDeps } from '../run/support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const rating = createRatingPool({ tariffDir: 'tariffs/sample', threads: 1 });
const deps = runDeps(pool, schema, redis, prefix, Date.now());
const { balances } = deps;
const MSISDN = '447700900001';
const importDeps = { balances, pool, schema, rating };
const run = (at: string) => runBilling(deps, { tenant: 'acme', asOf: new Date(at) });

interface Row {
  bill_seq: number;
  number: string | null;
  due: string;
}
const invoices = async () =>
  (
    await pool.query<Row>(
      `SELECT bill_seq, number, amount_due_nano::text AS due FROM ${schema}.invoices
        WHERE account_id = 'gm' AND status = 'finalized' ORDER BY bill_seq`,
    )
  ).rows;
const linesOf = async (seq: number) =>
  (
    await pool.query<{ kind: string; exact: string; quantity: string | null; description: string }>(
      `SELECT l.kind, l.exact_nano::text AS exact, l.quantity::text AS quantity, l.description
         FROM ${schema}.invoice_lines l JOIN ${schema}.invoices i ON i.id = l.invoice_id
        WHERE i.account_id = 'gm' AND i.bill_seq = $1 ORDER BY l.seq`,
      [seq],
    )
  ).rows;
const scalar = async (sql: string) => BigInt((await pool.query<{ n: string }>(sql)).rows[0]!.n);

/** A one-off debit of October (money moved, then its applied charge row, as the charges API does). */
async function oneOff(opId: string, nano: number) {
  const r = await balances.debit('acme', 'gm', {
    opId,
    charge: { unit: 'generic', units: 0, amountNano: nano },
    force: true,
  });
  expect(r.code).toBe('OK');
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await lockCutShared(c, schema, ['acme']);
    await c.query(
      `INSERT INTO ${schema}.charges (tenant, account_id, op_id, kind, description, amount_nano, currency, event_time, status, stored_at)
       VALUES ('acme', 'gm', $1, 'one_off', 'SIM replacement', $2, 'GBP', '2026-10-10T00:00:00Z', 'applied', statement_timestamp())`,
      [opId, nano],
    );
    await c.query('COMMIT');
  } finally {
    c.release();
  }
}

beforeAll(async () => {
  await ensureAll(pool, schema);
  await addVat(pool, schema);
  await addAccount(balances, pool, schema, {
    id: 'gm',
    createdAt: '2026-08-01T00:00:00Z',
    taxProfile: 'uk',
    msisdn: MSISDN,
    graceHours: 48,
  });
  for (const [id, at] of [
    ['s10', '2026-09-10T09:00:00.000Z'],
    ['s20', '2026-09-20T18:30:00.000Z'],
  ] as const)
    await importCdrFile(importDeps, oneCdr(id, MSISDN, at), { fileId: id });
}, 60_000);
afterAll(() => rating.close());

describe('bill membership over three invoices (E.6 #5, #14)', () => {
  it('keeps September open during its grace: a CDR of the 30th imported then is ordinary usage', async () => {
    const inGrace = await run('2026-10-01T12:00:00Z');
    expect(inGrace.counters.finalized).toBe(0);
    await importCdrFile(importDeps, oneCdr('g30', MSISDN, '2026-09-30T12:00:00.000Z'), { fileId: 'g30' });
    const after = await run('2026-10-03T00:00:00Z');
    expect(after.counters.finalized).toBe(1);
    const sep = await linesOf(2);
    expect(sep.map((l) => [l.kind, l.quantity])).toEqual([['usage', '3']]);
    const cdrs = await scalar(`SELECT sum(charged_nano)::text AS n FROM ${schema}.rated_cdrs`);
    expect(BigInt(sep[0]!.exact)).toBe(cdrs);
  });

  it('puts a CDR of 30 September arriving later on October, citing September; a one-off on its period', async () => {
    await importCdrFile(importDeps, oneCdr('g30b', MSISDN, '2026-09-30T13:00:00.000Z'), { fileId: 'g30b' });
    await oneOff('debit:gm:sim', 5_000_000_000);
    await run('2026-11-03T00:00:00Z');
    const [sep] = await invoices();
    const oct = await linesOf(3);
    const late = oct.find((l) => l.kind === 'late_usage')!;
    expect(late).toMatchObject({ quantity: '1' });
    expect(late.description).toContain(`corrects invoice ${sep!.number}, 2026-09-01 to 2026-09-30`);
    expect(oct.find((l) => l.kind === 'one_off')).toMatchObject({
      exact: '5000000000',
      description: 'SIM replacement',
    });
  });

  it('puts a rerate of a September CDR on November as the exact difference, citing September', async () => {
    await balances.debit('acme', 'gm', {
      opId: 'rerate:g30:0',
      charge: { unit: 'generic', units: 0, amountNano: 1_234_567 },
      force: true,
    });
    await rerateCdr(pool, schema, 'g30', 1_234_567n);
    await run('2026-12-03T00:00:00Z');
    const [sep] = await invoices();
    expect(await linesOf(4)).toEqual([
      expect.objectContaining({
        kind: 'adjustment',
        exact: '1234567',
        description: expect.stringContaining(`corrects invoice ${sep!.number}, 2026-09-01 to 2026-09-30`),
      }),
    ]);
  });

  it('adds up over the three invoices: every nano and every CDR once, and the balance carries them', async () => {
    const all = await invoices();
    expect(all.map((x) => x.bill_seq)).toEqual([2, 3, 4]);
    const lines = (await Promise.all(all.map((x) => linesOf(x.bill_seq)))).flat();
    const invoiced = lines.filter((l) => l.kind !== 'rounding').reduce((t, l) => t + BigInt(l.exact), 0n);
    const billable = await scalar(
      `SELECT ((SELECT sum(charged_nano) FROM ${schema}.rated_cdrs)
             + (SELECT coalesce(sum(delta_charged_nano), 0) FROM ${schema}.usage_adjustments)
             + (SELECT coalesce(sum(amount_nano), 0) FROM ${schema}.charges WHERE status = 'applied'))::text AS n`,
    );
    expect(invoiced).toBe(billable);
    const counted = lines
      .filter((l) => l.kind === 'usage' || l.kind === 'late_usage' || l.kind === 'usage_included')
      .reduce((t, l) => t + Number(l.quantity), 0);
    expect(counted).toBe(Number(await scalar(`SELECT count(*)::text AS n FROM ${schema}.rated_cdrs`)));
    expect(await moneyOf(balances, 'gm')).toBe(-all.reduce((t, x) => t + BigInt(x.due), 0n));
  });
});
