/**
 * The balance postings of documents handled through the API (billing.md E.1 postpaid money model):
 * finalizing a postpaid invoice posts tax and rounding as `invoice:{id}`, a credit note that reduces
 * what is due credits its total back as `credit-note:{id}` — once each, by op id; prepaid accounts
 * and refund-only credit notes move nothing.
 */
import { describe, expect, it } from 'vitest';
import { documentHooks } from '../../../src/billing/run/posting.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { creditNoteIn } from '../../../src/billing/documents/credit-notes.js';
import { runBilling } from '../../../src/billing/run/run.js';
import { addAccount, addVat, applyFee, ensureAll, moneyOf, runDeps } from './support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const { balances } = runDeps(pool, schema, redis, prefix, Date.now());

describe('document postings from the API', () => {
  it('posts an invoice and a credit note once each, for postpaid accounts only', async () => {
    await ensureAll(pool, schema);
    await addAccount(balances, pool, schema, { id: 'post', createdAt: '2026-11-01T00:00:00Z' });
    await addAccount(
      balances,
      pool,
      schema,
      { id: 'pre', type: 'prepaid', createdAt: '2026-11-01T00:00:00Z' },
      5_000,
    );
    const hooks = documentHooks(balances, schema);
    const c = await pool.connect();
    try {
      const inv = (accountId: string) => ({
        id: `inv-${accountId}`,
        tenant: 'acme',
        accountId,
        documentType: 'invoice' as const,
        number: 'INV2026-000001',
        currency: 'GBP',
        totalNano: 18_000_000_000n,
        ledgerBackedNano: 15_000_000_000n,
      });
      for (let i = 0; i < 2; i++) await hooks.postBalance!(c, inv('post'));
      await hooks.postBalance!(c, inv('pre'));
      expect(await moneyOf(balances, 'post')).toBe(-3_000_000_000n);
      expect(await moneyOf(balances, 'pre')).toBe(5_000n);
      const note = {
        id: 'cn1',
        tenant: 'acme',
        invoiceId: 'inv-post',
        accountId: 'post',
        number: 'CN1',
        currency: 'GBP',
      };
      for (let i = 0; i < 2; i++)
        await hooks.postCredit!(c, { ...note, totalNano: 1_200_000_000n, effect: 'reduce_due' });
      await hooks.postCredit!(c, { ...note, id: 'cn2', totalNano: 1n, effect: 'refund_record' });
      expect(await moneyOf(balances, 'post')).toBe(-1_800_000_000n);
    } finally {
      c.release();
    }
  });

  it('credits once a credit note whose transaction rolled back after its credit, asked again', async () => {
    await addVat(pool, schema);
    await addAccount(balances, pool, schema, {
      id: 'cn',
      createdAt: '2026-10-01T00:00:00Z',
      taxProfile: 'uk',
    });
    await applyFee(balances, pool, schema, 'cn', 'fee:cn', 10_000_000_000);
    const deps = { ...runDeps(pool, schema, redis, prefix, Date.now()), chunkSize: 100 };
    expect(await runBilling(deps, { tenant: 'acme', asOf: new Date('2026-12-02T00:00:00Z') })).toMatchObject({
      status: 'done',
    });
    const inv = await pool.query<{ id: string }>(`SELECT id FROM ${schema}.invoices WHERE account_id = 'cn'`);
    const before = await moneyOf(balances, 'cn');
    const req = {
      amountNano: 6_000_000_000n,
      reason: 'goodwill',
      effect: 'reduce_due' as const,
      reference: 'cn-1',
    };
    const hooks = documentHooks(balances, schema);
    const c = await pool.connect();
    try {
      // The credit lands in Redis, then the commit does not happen (an outage at COMMIT, say).
      await c.query('BEGIN');
      await creditNoteIn(c, schema, 'acme', inv.rows[0]!.id, req, new Date(), hooks);
      await c.query('ROLLBACK');
      expect(await moneyOf(balances, 'cn')).toBe(before + 7_200_000_000n); // 6.00 and its 20 % VAT
      // The caller asks again with its reference: the same note, the credit replayed, not repeated.
      await c.query('BEGIN');
      await creditNoteIn(c, schema, 'acme', inv.rows[0]!.id, req, new Date(), hooks);
      await c.query('COMMIT');
    } finally {
      c.release();
    }
    expect(await moneyOf(balances, 'cn')).toBe(before + 7_200_000_000n);
    const note = await pool.query(
      `SELECT total_nano::text AS t FROM ${schema}.credit_notes WHERE reference = 'cn-1'`,
    );
    expect(note.rows).toEqual([{ t: '7200000000' }]);
  });
});
