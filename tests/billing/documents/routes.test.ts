/**
 * The invoice routes: E.6 #21 (customers read only their own invoices and PDFs; another tenant's id
 * is unknown), finalize / delete / series through the API, keyset pages, and E.6 #20 for these
 * routes: every bad request answers its own cause and changes nothing in PostgreSQL (diffed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalizeInvoices } from '../../../src/billing/documents/finalize.js';
import { auth, BILLING, documentsApp } from './app.js';
import { addDraft, documentsDb, draftOf } from './drafts.js';

const db = documentsDb();
const { pool, schema } = db;
let app: Awaited<ReturnType<typeof documentsApp>>;
const inv: Record<string, string> = {};
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

beforeAll(async () => {
  await db.ready();
  app = await documentsApp({ pool, schema });
  for (const a of ['alice', 'bob', 'carol', 'dave', 'erin'])
    inv[a] = await addDraft(pool, schema, draftOf('acme', a, 1));
  inv.review = await addDraft(
    pool,
    schema,
    draftOf('acme', 'frank', 1, { needsReview: 'usage 10x last month' }),
  );
  inv.draft = await addDraft(pool, schema, draftOf('acme', 'gina', 1));
  inv.globex = await addDraft(pool, schema, draftOf('globex', 'alice', 1));
  await finalizeInvoices(
    db,
    'acme',
    ['alice', 'bob', 'carol', 'dave', 'erin'].map((a) => inv[a]!),
    new Date('2026-12-02T10:00:00Z'),
  );
  await finalizeInvoices(db, 'globex', [inv.globex], new Date('2026-12-02T10:00:00Z'));
});
afterAll(() => app.close());

const get = (url: string, key = 'demo-billing') => app.inject({ url, headers: auth(key) });

describe('roles and tenants (E.6 #21)', () => {
  it('a customer lists and reads only its own invoices', async () => {
    const list = (await get('/v1/invoices', 'demo-selfcare-alice')).json();
    expect(list.invoices.map((i: { accountId: string }) => i.accountId)).toEqual(['alice']);
    expect((await get(`/v1/invoices/${inv.alice}`, 'demo-selfcare-alice')).statusCode).toBe(200);
    const other = await get(`/v1/invoices/${inv.bob}`, 'demo-selfcare-alice');
    expect(other.statusCode).toBe(404);
    expect((await get(`/v1/invoices/${inv.bob}/pdf`, 'demo-selfcare-alice')).statusCode).toBe(404);
    expect((await get(`/v1/invoices/${inv.alice}/pdf`, 'demo-selfcare-alice')).statusCode).toBe(202);
    expect((await get(`/v1/invoices?account=bob`, 'demo-selfcare-alice')).json().invoices).toEqual([]);
  });

  it("another tenant's invoice is unknown, to its staff and to its customer of the same account id", async () => {
    expect((await get(`/v1/invoices/${inv.alice}`, 'globex-billing')).statusCode).toBe(404);
    expect((await get(`/v1/invoices/${inv.alice}`, 'globex-alice')).statusCode).toBe(404);
    expect((await get(`/v1/invoices/${inv.globex}`, 'globex-alice')).statusCode).toBe(200);
    const r = await app.inject({
      method: 'POST',
      url: `/v1/invoices/${inv.alice}/void`,
      headers: auth('globex-billing'),
      payload: { reason: 'x', reference: 'g-1' },
    });
    expect(r.statusCode).toBe(404);
  });

  it('customers and network elements may not write; no key is 401', async () => {
    const post = (key: string) =>
      app.inject({
        method: 'POST',
        url: `/v1/invoices/${inv.draft}/finalize`,
        headers: auth(key),
        payload: { reference: 'r' },
      });
    expect((await post('demo-selfcare-alice')).statusCode).toBe(403);
    expect((await post('demo-network')).statusCode).toBe(403);
    expect(
      (await get('/v1/invoices/export?from=2026-12-01&to=2026-12-31', 'demo-selfcare-alice')).statusCode,
    ).toBe(403);
    expect((await app.inject({ url: '/v1/invoices' })).statusCode).toBe(401);
  });
});

describe('pages', () => {
  it('walks every invoice once with the cursor', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { invoices: { id: string }[]; nextCursor: string | null } = (
        await get(`/v1/invoices?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
      ).json();
      expect(page.invoices.length).toBeLessThanOrEqual(2);
      seen.push(...page.invoices.map((i) => i.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(
      ['alice', 'bob', 'carol', 'dave', 'erin', 'review', 'draft'].map((k) => inv[k]).sort(),
    );
    const finalized = (await get('/v1/invoices?status=finalized&from=2026-12-02&to=2026-12-02')).json();
    expect(finalized.invoices).toHaveLength(5);
  });
});

describe('finalize and delete through the API', () => {
  const post = (url: string, payload: object) =>
    app.inject({ method: 'POST', url, headers: BILLING, payload });

  it('finalizes a draft once: the replay answers the same number', async () => {
    const first = await post(`/v1/invoices/${inv.draft}/finalize`, { reference: 'fin-1' });
    expect(first.statusCode).toBe(200);
    expect(first.json().number).toBe('INV2026-000006');
    const again = await post(`/v1/invoices/${inv.draft}/finalize`, { reference: 'fin-1' });
    expect(again.json()).toEqual(first.json());
    expect(again.headers['idempotent-replayed']).toBe('true');
  });

  it('deletes a draft, lines and all', async () => {
    const d = await addDraft(pool, schema, draftOf('acme', 'hank', 1));
    const res = await app.inject({
      method: 'DELETE',
      url: `/v1/invoices/${d}?reference=del-1`,
      headers: BILLING,
    });
    expect(res.statusCode).toBe(200);
    expect((await get(`/v1/invoices/${d}`)).statusCode).toBe(404);
  });
});

/** Every document table, as one digest: equal digests, nothing changed. */
async function digest(): Promise<string> {
  const tables = [
    'invoice_series',
    'invoices',
    'invoice_lines',
    'credit_notes',
    'credit_note_lines',
    'invoice_audit',
    'events',
    'document_requests',
  ];
  const parts = await Promise.all(
    tables.map(
      async (t) =>
        (
          await pool.query(
            `SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS d FROM ${schema}.${t} x`,
          )
        ).rows[0].d as string,
    ),
  );
  return parts.join(',');
}

describe('bad input changes nothing (E.6 #20, document routes)', () => {
  beforeAll(async () => {
    await app.inject({
      method: 'PUT',
      url: '/v1/invoice-series/INV',
      headers: BILLING,
      payload: {
        documentType: 'invoice',
        prefix: 'INV',
        padding: 6,
        reset: 'yearly',
        nextNumber: 1,
        reference: 'series-1',
      },
    });
    await app.inject({
      method: 'POST',
      url: `/v1/invoices/${inv.bob}/credit-notes`,
      headers: BILLING,
      payload: { amount: '1.00', reason: 'x', reference: 'used' },
    });
  });

  const cases: [string, string, string, object | undefined, number, string][] = [
    ['finalize without reference', 'POST', `/v1/invoices/{draft2}/finalize`, {}, 400, 'INVALID_REQUEST'],
    [
      'finalize an unknown invoice',
      'POST',
      `/v1/invoices/${UNKNOWN}/finalize`,
      { reference: 'b1' },
      404,
      'NOT_FOUND',
    ],
    [
      'finalize a draft that needs review',
      'POST',
      `/v1/invoices/{review}/finalize`,
      { reference: 'b2' },
      409,
      'INVOICE_NEEDS_REVIEW',
    ],
    [
      'finalize a finalized invoice',
      'POST',
      `/v1/invoices/{alice}/finalize`,
      { reference: 'b3' },
      409,
      'INVOICE_NOT_DRAFT',
    ],
    [
      'finalize with a reference used for another request',
      'POST',
      `/v1/invoices/{draft2}/finalize`,
      { reference: 'used' },
      409,
      'CONFLICT',
    ],
    [
      'delete a finalized invoice',
      'DELETE',
      `/v1/invoices/{alice}?reference=b4`,
      undefined,
      409,
      'INVOICE_NOT_DRAFT',
    ],
    ['an id that is not a UUID', 'GET', `/v1/invoices/INV2026-000001`, undefined, 400, 'INVALID_REQUEST'],
    [
      'void a draft',
      'POST',
      `/v1/invoices/{draft2}/void`,
      { reason: 'x', reference: 'b5' },
      409,
      'INVOICE_IS_DRAFT',
    ],
    [
      'credit with 3 decimals in GBP',
      'POST',
      `/v1/invoices/{carol}/credit-notes`,
      { amount: '1.001', reason: 'x', reference: 'b6' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'credit a negative amount',
      'POST',
      `/v1/invoices/{carol}/credit-notes`,
      { amount: '-1.00', reason: 'x', reference: 'b7' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'credit zero',
      'POST',
      `/v1/invoices/{carol}/credit-notes`,
      { amount: '0.00', reason: 'x', reference: 'b8' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'credit lines and amount at once',
      'POST',
      `/v1/invoices/{carol}/credit-notes`,
      { amount: '1.00', lines: [{ seq: 1, amount: '1.00' }], reason: 'x', reference: 'b9' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'credit a line the invoice lacks',
      'POST',
      `/v1/invoices/{carol}/credit-notes`,
      { lines: [{ seq: 99, amount: '1.00' }], reason: 'x', reference: 'b10' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'credit more than the invoice',
      'POST',
      `/v1/invoices/{carol}/credit-notes`,
      { amount: '100.00', reason: 'x', reference: 'b11' },
      422,
      'CREDIT_EXCEEDS_INVOICE',
    ],
    [
      'credit in an unknown series',
      'POST',
      `/v1/invoices/{carol}/credit-notes`,
      { amount: '1.00', reason: 'x', series: 'NOPE', reference: 'b12' },
      404,
      'SERIES_NOT_FOUND',
    ],
    [
      'credit in an invoice series',
      'POST',
      `/v1/invoices/{carol}/credit-notes`,
      { amount: '1.00', reason: 'x', series: 'INV', reference: 'b13' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'renumber a series in use',
      'PUT',
      '/v1/invoice-series/INV',
      {
        documentType: 'invoice',
        prefix: 'INV',
        padding: 6,
        reset: 'yearly',
        nextNumber: 100,
        reference: 'b14',
      },
      409,
      'SERIES_IN_USE',
    ],
    [
      'a series with padding 0',
      'PUT',
      '/v1/invoice-series/NEW',
      { documentType: 'invoice', prefix: 'N', padding: 0, reset: 'yearly', nextNumber: 1, reference: 'b15' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'a series of an unknown type',
      'PUT',
      '/v1/invoice-series/NEW',
      { documentType: 'receipt', prefix: 'N', padding: 6, reset: 'yearly', nextNumber: 1, reference: 'b16' },
      400,
      'INVALID_REQUEST',
    ],
    ['a page of 501', 'GET', '/v1/invoices?limit=501', undefined, 400, 'INVALID_REQUEST'],
    ['a cursor the list never gave', 'GET', '/v1/invoices?cursor=bm9wZQ', undefined, 400, 'INVALID_REQUEST'],
    ['30 February', 'GET', '/v1/invoices?from=2026-02-30', undefined, 400, 'INVALID_REQUEST'],
    [
      'an export backwards',
      'GET',
      '/v1/invoices/export?from=2026-12-31&to=2026-12-01',
      undefined,
      400,
      'INVALID_REQUEST',
    ],
    [
      'an export as XML',
      'GET',
      '/v1/invoices/export?from=2026-12-01&to=2026-12-31&format=xml',
      undefined,
      400,
      'INVALID_REQUEST',
    ],
    ['an unknown credit note', 'GET', `/v1/credit-notes/${UNKNOWN}`, undefined, 404, 'NOT_FOUND'],
  ];

  it.each(cases)('%s → %i %s', async (_what, method, url, payload, status, cause) => {
    inv.draft2 ??= await addDraft(pool, schema, draftOf('acme', 'ivan', 1));
    const before = await digest();
    const res = await app.inject({
      method: method as 'GET',
      url: url.replace(/\{(\w+)\}/g, (_, k: string) => inv[k]!),
      headers: BILLING,
      ...(payload ? { payload } : {}),
    });
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().cause).toBe(cause);
    expect(await digest()).toBe(before);
  });
});
