/**
 * One cut-off per run (issue 13, run/stage.ts): a run over several chunks bills every account as of
 * the same instant C, each invoice carries exactly its own account's rows, and a fee stored while the
 * run is still drafting later chunks (after C) goes on the next bill, not on this one.
 */
import { describe, expect, it } from 'vitest';
import { runBilling } from '../../../src/billing/run/run.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { addAccount, addVat, applyFee, ensureAll, runDeps } from './support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const base = runDeps(pool, schema, redis, prefix, Date.parse('2026-12-05T00:00:00Z'));
const asOf = new Date('2026-12-01T00:00:00Z');
const ACCOUNTS = ['s1', 's2', 's3', 's4', 's5']; // chunks of 2: three chunks
const fee = (i: number) => 10_000_000_000 + i * 1_230_000_000;

describe('a run over several chunks', () => {
  it('cuts off once: same C on every bill, own rows only, a fee stored after C on the next bill', async () => {
    await ensureAll(pool, schema);
    await addVat(pool, schema);
    for (const [i, id] of ACCOUNTS.entries()) {
      await addAccount(base.balances, pool, schema, {
        id,
        createdAt: '2026-11-01T00:00:00Z',
        taxProfile: 'uk',
      });
      await applyFee(base.balances, pool, schema, id, `fee:${id}`, fee(i));
    }
    // Once the first chunk is done, a fee for the last chunk's account is stored (after C).
    let late: Promise<void> | undefined;
    const deps = {
      ...base,
      onProgress: (p: { step: string; accountsDone: number }) => {
        if (p.step === 'chunks' && p.accountsDone === 2 && !late)
          late = applyFee(base.balances, pool, schema, 's5', 'late-fee:s5', 7_000_000_000);
      },
    };
    const s = await runBilling(deps, { tenant: 'acme', asOf });
    await late;
    expect(s).toMatchObject({ status: 'done', counters: { drafted: 5, finalized: 5 } });
    expect(s.chunks).toEqual({ close: 3, draft: 3 });

    const periods = await pool.query<{ c: string }>(
      `SELECT DISTINCT cutoff_at::text AS c FROM ${schema}.bill_periods WHERE status = 'finalized'`,
    );
    expect(periods.rows).toHaveLength(1);
    const inv = await pool.query<{ account_id: string; subtotal: string }>(
      `SELECT account_id, subtotal_nano::text AS subtotal FROM ${schema}.invoices ORDER BY account_id`,
    );
    expect(inv.rows).toEqual(ACCOUNTS.map((id, i) => ({ account_id: id, subtotal: String(fee(i)) })));
    const stamped = await pool.query<{ after: boolean }>(
      `SELECT c.stored_at > p.cutoff_at AS after FROM ${schema}.charges c JOIN ${schema}.bill_periods p
          ON p.tenant = c.tenant AND p.account_id = c.account_id AND p.seq = 1
        WHERE c.op_id = 'late-fee:s5'`,
    );
    expect(stamped.rows).toEqual([{ after: true }]);
  });

  it('walks no chunk when run again with nothing to do, and walks them again once there is', async () => {
    const before = await pool.query(`SELECT id, status, document_hash FROM ${schema}.invoices ORDER BY id`);
    const again = await runBilling(base, { tenant: 'acme', asOf });
    expect(again).toMatchObject({
      status: 'done',
      counters: { periodsClosed: 0, drafted: 0, finalized: 0, skipped: 0, parked: 0 },
      chunks: { close: 0, draft: 0 },
    });
    expect(
      (await pool.query(`SELECT id, status, document_hash FROM ${schema}.invoices ORDER BY id`)).rows,
    ).toEqual(before.rows);
    // A new account has a period to open and close: the checks see it and the chunks are walked.
    await addAccount(base.balances, pool, schema, {
      id: 's6',
      createdAt: '2026-11-01T00:00:00Z',
      taxProfile: 'uk',
    });
    await applyFee(base.balances, pool, schema, 's6', 'fee:s6', fee(6));
    const more = await runBilling(base, { tenant: 'acme', asOf });
    expect(more).toMatchObject({ status: 'done', counters: { periodsClosed: 1, drafted: 1, finalized: 1 } });
    expect(more.chunks).toEqual({ close: 3, draft: 3 });
  });
});
