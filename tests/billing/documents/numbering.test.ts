/**
 * E.6 #9: invoice numbers are gapless per series. Eight finalizers racing over the same drafts use
 * every number once, contiguously; a finalization rolled back gives its numbers back; credit notes
 * have their own series; a yearly series restarts on 1 January in the account's zone.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueCreditNote } from '../../../src/billing/documents/credit-notes.js';
import { insertDraft } from '../../../src/billing/documents/drafts.js';
import { finalizeIn, finalizeInvoices } from '../../../src/billing/documents/finalize.js';
import { putSeries } from '../../../src/billing/documents/series.js';
import { inTransaction } from '../../../src/billing/documents/transaction.js';
import { databaseUrl } from '../../support/postgres.js';
import { addDraft, documentsDb, draftOf } from './drafts.js';

const db = documentsDb();
const { schema } = db;
// Eight finalizers at once need eight connections (the shared test pool has four).
const wide = new pg.Pool({ connectionString: databaseUrl(), max: 10 });
afterAll(() => wide.end());
const at = new Date('2026-12-02T10:00:00Z');

beforeAll(() => db.ready());

async function drafts(tenant: string, n: number, over = {}) {
  const ids: string[] = [];
  for (let from = 0; from < n; from += 500)
    await inTransaction(wide, async (c) => {
      for (let i = from; i < Math.min(n, from + 500); i++)
        ids.push(
          await insertDraft(c, schema, draftOf(tenant, `acct-${String(i).padStart(5, '0')}`, 1, over)),
        );
    });
  return ids;
}

async function numbers(tenant: string, series = 'INV') {
  const r = await wide.query<{ number: string }>(
    `SELECT number FROM ${schema}.invoices WHERE tenant = $1 AND series = $2 AND number IS NOT NULL ORDER BY number`,
    [tenant, series],
  );
  return r.rows.map((x) => x.number);
}

const expected = (prefix: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${String(from + i).padStart(6, '0')}`);

describe('gapless numbering (E.6 #9)', () => {
  it('8 concurrent finalizers over 5,000 drafts use 1..5,000 once each', async () => {
    const ids = await drafts('race', 5000);
    const shuffled = (seed: number) =>
      [...ids].sort((a, b) => (a.charCodeAt(seed % 30) ^ seed) - (b.charCodeAt(seed % 30) ^ seed));
    const finalizers = Array.from({ length: 8 }, async (_, k) => {
      const mine = shuffled(k + 1);
      for (let i = 0; i < mine.length; i += 250)
        await inTransaction(wide, (c) => finalizeIn(c, schema, 'race', mine.slice(i, i + 250), at));
    });
    await Promise.all(finalizers);
    expect(await numbers('race')).toEqual(expected('INV2026-', 1, 5000));
    // Within one transaction (rows updated together share xmin), numbers follow the account ids.
    const r = await wide.query(
      `SELECT count(*)::int AS n FROM ${schema}.invoices a JOIN ${schema}.invoices b
          ON a.xmin::text = b.xmin::text AND a.account_id < b.account_id AND a.number > b.number
       WHERE a.tenant = 'race' AND b.tenant = 'race'`,
    );
    expect(r.rows[0].n).toBe(0);
  }, 240_000);

  it('a finalization rolled back mid-chunk leaves no gap', async () => {
    const ids = await drafts('rollback', 6);
    await finalizeInvoices(db, 'rollback', ids.slice(0, 2), at);
    let seen = 0;
    const failing = {
      postBalance: async () => {
        if (++seen === 2) throw new Error('the balance posting failed');
      },
    };
    await expect(finalizeInvoices(db, 'rollback', ids.slice(2, 5), at, failing)).rejects.toThrow(
      /posting failed/,
    );
    expect(await numbers('rollback')).toEqual(expected('INV2026-', 1, 2));
    await finalizeInvoices(db, 'rollback', ids.slice(2), at);
    expect(await numbers('rollback')).toEqual(expected('INV2026-', 1, 6));
  });

  it('chains each document to the previous one of its series', async () => {
    const r = await wide.query(
      `SELECT number, document_hash, prev_hash FROM ${schema}.invoices WHERE tenant = 'rollback' ORDER BY number`,
    );
    expect(r.rows[0].prev_hash).toBeNull();
    for (let i = 1; i < r.rows.length; i++) expect(r.rows[i].prev_hash).toBe(r.rows[i - 1].document_hash);
  });

  it('numbers credit notes in their own series', async () => {
    const [inv] = (
      await wide.query(`SELECT id FROM ${schema}.invoices WHERE tenant = 'rollback' ORDER BY number`)
    ).rows;
    for (const n of [1, 2])
      await issueCreditNote(
        db,
        'rollback',
        inv.id,
        { amountNano: 1_000_000_000n, reason: `goodwill ${n}`, reference: `cn-${n}` },
        at,
      );
    const notes = await wide.query(
      `SELECT number FROM ${schema}.credit_notes WHERE tenant = 'rollback' ORDER BY number`,
    );
    expect(notes.rows.map((x) => x.number)).toEqual(['CN2026-000001', 'CN2026-000002']);
    expect(await numbers('rollback')).toEqual(expected('INV2026-', 1, 6));
  });

  it('restarts a yearly series on 1 January local time, earlier years first', async () => {
    await inTransaction(db.pool, (c) =>
      putSeries(c, schema, 'year', 'Y', {
        documentType: 'invoice',
        prefix: 'Y',
        padding: 4,
        reset: 'yearly',
        nextNumber: 41,
      }),
    );
    const madrid = await addDraft(
      db.pool,
      schema,
      draftOf('year', 'a-madrid', 1, { series: 'Y', timezone: 'Europe/Madrid' }),
    );
    const london = await addDraft(
      db.pool,
      schema,
      draftOf('year', 'b-london', 1, { series: 'Y', timezone: 'Europe/London' }),
    );
    // 23:30 UTC on 31 December: already 2027 in Madrid, still 2026 in London.
    await finalizeInvoices(db, 'year', [madrid, london], new Date('2026-12-31T23:30:00Z'));
    const r = await wide.query(
      `SELECT account_id, number, issue_date::text FROM ${schema}.invoices WHERE tenant = 'year' ORDER BY number`,
    );
    expect(r.rows).toEqual([
      { account_id: 'b-london', number: 'Y2026-0041', issue_date: '2026-12-31' },
      { account_id: 'a-madrid', number: 'Y2027-0001', issue_date: '2027-01-01' },
    ]);
    const late = await addDraft(
      db.pool,
      schema,
      draftOf('year', 'c-london', 1, { series: 'Y', timezone: 'Europe/London' }),
    );
    await expect(
      finalizeInvoices(db, 'year', [late], new Date('2026-12-31T23:40:00Z')),
    ).rejects.toMatchObject({
      code: 'SERIES_YEAR_CLOSED',
    });
  });
});
