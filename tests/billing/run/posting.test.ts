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
import { addAccount, ensureAll, moneyOf, runDeps } from './support.js';

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
});
