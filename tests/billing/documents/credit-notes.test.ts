/**
 * E.6 #13 through the API: partial credit notes per line with tax recomputed, never more than what
 * is left (earlier notes included), reducing what an open invoice has due; void = a full credit
 * note, refused once paid. Every write replays its first answer for the same reference.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalizeInvoices } from '../../../src/billing/documents/finalize.js';
import { BILLING, documentsApp } from './app.js';
import { addDraft, documentsDb, draftOf } from './drafts.js';

const db = documentsDb();
const { pool, schema } = db;
let app: Awaited<ReturnType<typeof documentsApp>>;
const posted: { number: string; totalNano: bigint }[] = [];
let open: string;
let paid: string;

beforeAll(async () => {
  await db.ready();
  app = await documentsApp({
    pool,
    schema,
    hooks: { postCredit: async (_c, n) => void posted.push({ number: n.number, totalNano: n.totalNano }) },
  });
  open = await addDraft(pool, schema, draftOf('acme', 'alice', 1));
  paid = await addDraft(pool, schema, draftOf('acme', 'bob', 1));
  await finalizeInvoices(db, 'acme', [open, paid], new Date('2026-12-02T10:00:00Z'));
  await pool.query(`UPDATE ${schema}.invoices SET status = 'paid', amount_due_nano = 0 WHERE id = $1`, [
    paid,
  ]);
});
afterAll(() => app.close());

const post = (url: string, payload: object) => app.inject({ method: 'POST', url, headers: BILLING, payload });
const invoice = async (id: string) =>
  (await app.inject({ url: `/v1/invoices/${id}`, headers: BILLING })).json();

describe('credit notes (E.6 #13)', () => {
  it('the sample invoice: 15.00 fee + 4.12 usage − 1.50 discount, 20 % VAT', async () => {
    const inv = await invoice(open);
    expect(inv).toMatchObject({
      subtotal: '19.12',
      discount: '-1.50',
      tax: '3.52',
      total: '21.14',
      amountDue: '21.14',
    });
  });

  it('credits part of a line with its tax recomputed, and reduces what is due', async () => {
    const res = await post(`/v1/invoices/${open}/credit-notes`, {
      lines: [{ seq: 1, amount: '5.00' }],
      reason: 'outage on 3 November',
      reference: 'cn-1',
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      number: 'CN2026-000001',
      kind: 'partial',
      effect: 'reduce_due',
      total: '6.00',
    });
    expect(await invoice(open)).toMatchObject({ amountDue: '15.14', credited: '6.00', status: 'finalized' });
    expect(posted).toEqual([{ number: 'CN2026-000001', totalNano: 6_000_000_000n }]);
  });

  it('replays the first answer for the same reference, 409 for another body', async () => {
    const again = await post(`/v1/invoices/${open}/credit-notes`, {
      lines: [{ seq: 1, amount: '5.00' }],
      reason: 'outage on 3 November',
      reference: 'cn-1',
    });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().number).toBe('CN2026-000001');
    const other = await post(`/v1/invoices/${open}/credit-notes`, {
      lines: [{ seq: 1, amount: '4.00' }],
      reason: 'outage on 3 November',
      reference: 'cn-1',
    });
    expect(other.statusCode).toBe(409);
    expect(other.json().cause).toBe('CONFLICT');
    expect(posted).toHaveLength(1);
  });

  it('cannot credit more than is left of a line, earlier notes included', async () => {
    const res = await post(`/v1/invoices/${open}/credit-notes`, {
      lines: [{ seq: 1, amount: '10.01' }],
      reason: 'too much',
      reference: 'cn-2',
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().cause).toBe('CREDIT_EXCEEDS_INVOICE');
    const exact = await post(`/v1/invoices/${open}/credit-notes`, {
      lines: [{ seq: 1, amount: '10.00' }],
      reason: 'the rest of the fee',
      reference: 'cn-2',
    });
    expect(exact.json()).toMatchObject({ number: 'CN2026-000002', total: '12.00' });
  });

  it('refuses an amount with more decimals than the currency has, changing nothing', async () => {
    const res = await post(`/v1/invoices/${open}/credit-notes`, {
      amount: '0.001',
      reason: 'x',
      reference: 'cn-3',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().cause).toBe('INVALID_REQUEST');
  });

  it('voids the rest of an open invoice: the notes add up to its total', async () => {
    const res = await post(`/v1/invoices/${open}/void`, { reason: 'wrong customer', reference: 'void-1' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ kind: 'cancellation', total: '3.14' });
    expect(await invoice(open)).toMatchObject({ status: 'void', amountDue: '0.00', credited: '21.14' });
    const sum = await pool.query(
      `SELECT sum(total_nano)::text AS s FROM ${schema}.credit_notes WHERE invoice_id = $1`,
      [open],
    );
    expect(sum.rows[0].s).toBe('21140000000');
    const again = await post(`/v1/invoices/${open}/credit-notes`, {
      amount: '1.00',
      reason: 'x',
      reference: 'cn-4',
    });
    expect(again.json().cause).toBe('INVOICE_IS_VOID');
  });

  it('refuses to void a paid invoice: 409 INVOICE_HAS_PAYMENTS; a partial note becomes account credit', async () => {
    const res = await post(`/v1/invoices/${paid}/void`, { reason: 'x', reference: 'void-2' });
    expect(res.statusCode).toBe(409);
    expect(res.json().cause).toBe('INVOICE_HAS_PAYMENTS');
    const note = await post(`/v1/invoices/${paid}/credit-notes`, {
      amount: '2.00',
      reason: 'goodwill',
      reference: 'cn-5',
    });
    expect(note.json()).toMatchObject({ effect: 'account_credit', total: '2.40' });
    expect(await invoice(paid)).toMatchObject({ status: 'paid', amountDue: '0.00', credited: '2.40' });
  });

  it('records credit_note.issued and invoice.voided events with the facts', async () => {
    const r = await pool.query(
      `SELECT type, count(*)::int AS n FROM ${schema}.events GROUP BY type ORDER BY type`,
    );
    expect(r.rows).toEqual([
      { type: 'credit_note.issued', n: 4 },
      { type: 'invoice.finalized', n: 2 },
      { type: 'invoice.voided', n: 1 },
    ]);
  });
});
