/**
 * E.6 #10: a finalized invoice is immutable even to SQL typed by hand (the triggers), its lines
 * too; a draft may still be changed or deleted. Finalizing a finalized invoice is refused (409).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { finalizeIn, finalizeInvoices } from '../../../src/billing/documents/finalize.js';
import { inTransaction } from '../../../src/billing/documents/transaction.js';
import { addDraft, documentsDb, draftOf } from './drafts.js';

const db = documentsDb();
const { pool, schema } = db;
const at = new Date('2026-12-02T10:00:00Z');
let issued: string;
let draft: string;

beforeAll(async () => {
  await db.ready();
  issued = await addDraft(pool, schema, draftOf('acme', 'a1', 1));
  draft = await addDraft(pool, schema, draftOf('acme', 'a2', 1));
  await finalizeInvoices(db, 'acme', [issued], at);
});

const refused = (sql: string, params: unknown[]) =>
  expect(pool.query(sql, params)).rejects.toThrow(/DOCUMENT_IMMUTABLE/);

describe('a finalized invoice (E.6 #10)', () => {
  it.each([
    ['its total', `UPDATE ${schema}.invoices SET total_nano = total_nano + 1 WHERE id = $1`],
    ['its number', `UPDATE ${schema}.invoices SET number = 'X-1' WHERE id = $1`],
    ['its buyer', `UPDATE ${schema}.invoices SET buyer = '{}' WHERE id = $1`],
    ['its status back to draft', `UPDATE ${schema}.invoices SET status = 'draft' WHERE id = $1`],
    ['its hash', `UPDATE ${schema}.invoices SET document_hash = 'x' WHERE id = $1`],
    ['a line amount', `UPDATE ${schema}.invoice_lines SET amount_nano = 0 WHERE invoice_id = $1`],
    ['a line', `DELETE FROM ${schema}.invoice_lines WHERE invoice_id = $1`],
    [
      'a new line',
      `INSERT INTO ${schema}.invoice_lines (invoice_id, seq, kind, description, amount_nano, exact_nano, tax_nano) VALUES ($1, 99, 'fee', 'x', 1, 1, 0)`,
    ],
    ['the invoice', `DELETE FROM ${schema}.invoices WHERE id = $1`],
  ])('refuses a change of %s by SQL', async (_what, sql) => {
    await refused(sql, [issued]);
  });

  it('lets its status, amount due and PDF change', async () => {
    await pool.query(
      `UPDATE ${schema}.invoices SET pdf_status = 'failed', amount_due_nano = amount_due_nano WHERE id = $1`,
      [issued],
    );
    const r = await pool.query(`SELECT status, pdf_status FROM ${schema}.invoices WHERE id = $1`, [issued]);
    expect(r.rows[0]).toEqual({ status: 'finalized', pdf_status: 'failed' });
  });

  it('is not finalized again: 409 INVOICE_NOT_DRAFT', async () => {
    await expect(
      inTransaction(pool, (c) => finalizeIn(c, schema, 'acme', [issued], at, { strict: true })),
    ).rejects.toMatchObject({ code: 'INVOICE_NOT_DRAFT' });
    const again = await finalizeInvoices(db, 'acme', [issued], at);
    expect(again).toEqual({ finalized: [], skipped: [{ id: issued, reason: 'not_draft' }] });
  });

  it('keeps the audit trail append-only', async () => {
    await expect(pool.query(`DELETE FROM ${schema}.invoice_audit`)).rejects.toThrow(/APPEND_ONLY/);
  });
});

describe('a draft', () => {
  it('may be changed and deleted, lines and all', async () => {
    await pool.query(`UPDATE ${schema}.invoice_lines SET description = 'changed' WHERE invoice_id = $1`, [
      draft,
    ]);
    await pool.query(`DELETE FROM ${schema}.invoices WHERE id = $1`, [draft]);
    const r = await pool.query(
      `SELECT count(*)::int AS n FROM ${schema}.invoice_lines WHERE invoice_id = $1`,
      [draft],
    );
    expect(r.rows[0].n).toBe(0);
  });

  it('is written once per bill period', async () => {
    const a = await addDraft(pool, schema, draftOf('acme', 'a3', 7));
    const b = await addDraft(pool, schema, draftOf('acme', 'a3', 7));
    expect(b).toBe(a);
  });
});
