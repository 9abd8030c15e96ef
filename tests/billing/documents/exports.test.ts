/**
 * E.6 #19: the accounting export parses back to the documents' totals; the canonical JSON and its
 * hash are stable (a fixed document has a fixed hash); the PDF is rendered in the background on the
 * worker pool, opens (pdftotext finds the number and the total) and renders byte-identically again.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, documentHash } from '../../../src/billing/core/document.js';
import { canonicalInvoice } from '../../../src/billing/documents/canonical.js';
import { issueCreditNote } from '../../../src/billing/documents/credit-notes.js';
import { finalizeInvoices } from '../../../src/billing/documents/finalize.js';
import { createPdfRenderer } from '../../../src/billing/documents/pdf-jobs.js';
import { renderPdf } from '../../../src/billing/documents/pdf-render.js';
import { BILLING, documentsApp } from './app.js';
import { addDraft, documentsDb, draftOf, SAMPLE_LINES } from './drafts.js';

const db = documentsDb();
const { pool, schema } = db;
const pdf = createPdfRenderer({ pool, schema, threads: 1 });
let app: Awaited<ReturnType<typeof documentsApp>>;
let ids: string[];

beforeAll(async () => {
  await db.ready();
  app = await documentsApp({ pool, schema, pdf });
  const tricky = [{ ...SAMPLE_LINES[0]!, description: 'Plan "S", December, 2026' }, ...SAMPLE_LINES.slice(1)];
  ids = [
    await addDraft(pool, schema, draftOf('acme', 'alice', 1, { lines: tricky })),
    await addDraft(pool, schema, draftOf('acme', 'bob', 1)),
    await addDraft(
      pool,
      schema,
      draftOf('acme', 'carol', 1, {
        currency: 'JPY',
        lines: [
          {
            kind: 'fee',
            description: 'Plan J',
            exactNano: 1_500_000_000_000n,
            taxCode: 'CT',
            rateMicros: 100_000n,
          },
        ],
      }),
    ),
  ];
  await finalizeInvoices(db, 'acme', ids, new Date('2026-12-02T10:00:00Z'));
  await issueCreditNote(
    db,
    'acme',
    ids[1]!,
    { amountNano: 5_000_000_000n, reason: 'goodwill', reference: 'cn-x' },
    new Date('2026-12-03T10:00:00Z'),
  );
}, 60_000);
afterAll(async () => {
  await app.close();
  await pdf.close();
});

/** RFC 4180 rows (quoted fields with commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted && ch === '"' && text[i + 1] === '"') {
      field += '"';
      i++;
    } else if (quoted && ch === '"') quoted = false;
    else if (quoted) field += ch;
    else if (ch === '"') quoted = true;
    else if (ch === ',' || ch === '\n') {
      row.push(field);
      field = '';
      if (ch === '\n') {
        rows.push(row);
        row = [];
      }
    } else if (ch !== '\r') field += ch;
  }
  return rows;
}

/** "21.14" → 2114 minor units (exact: no float). */
const minor = (s: string) => BigInt(s.replace('.', ''));

describe('exports (E.6 #19)', () => {
  it('CSV: each document line once, and the lines add up to every document total', async () => {
    const res = await app.inject({
      url: '/v1/invoices/export?from=2026-12-01&to=2026-12-31&format=csv',
      headers: BILLING,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    const [header, ...rows] = parseCsv(res.body);
    const col = (name: string) => header!.indexOf(name);
    expect(rows).toHaveLength(3 + 3 + 1 + 1); // alice 3, bob 3, carol 1, bob's credit note 1
    expect(rows.find((r) => r[col('account_id')] === 'alice')![col('description')]).toBe(
      'Plan "S", December, 2026',
    );
    const byDoc = new Map<string, { sum: bigint; total: bigint }>();
    for (const r of rows) {
      const d = byDoc.get(r[col('number')]!) ?? { sum: 0n, total: minor(r[col('document_total')]!) };
      d.sum += minor(r[col('amount')]!) + minor(r[col('tax')]!);
      byDoc.set(r[col('number')]!, d);
    }
    for (const [number, d] of byDoc) expect(d.sum, number).toBe(d.total);
    const db2 = await pool.query(
      `SELECT (SELECT sum(total_nano) FROM ${schema}.invoices WHERE currency = 'GBP') - (SELECT sum(total_nano) FROM ${schema}.credit_notes) AS net`,
    );
    const gbp = rows.filter((r) => r[col('currency')] === 'GBP');
    const net = gbp.reduce((s, r) => s + minor(r[col('amount')]!) + minor(r[col('tax')]!), 0n);
    expect(net * 10_000_000n).toBe(BigInt(db2.rows[0].net));
    expect(rows.find((r) => r[col('currency')] === 'JPY')![col('document_total')]).toBe('1650');
  });

  it('JSON lines: the same rows', async () => {
    const res = await app.inject({
      url: '/v1/invoices/export?from=2026-12-01&to=2026-12-31&format=jsonl',
      headers: BILLING,
    });
    const rows = res.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toHaveLength(8);
    expect(rows.filter((r) => r.document_type === 'credit_note')).toEqual([
      expect.objectContaining({
        number: 'CN2026-000001',
        corrects: 'INV2026-000002',
        amount: '-5.00',
        tax: '-1.00',
      }),
    ]);
  });

  it('keeps the canonical JSON and its hash as stored', async () => {
    const r = await pool.query(
      `SELECT canonical_json, document_hash FROM ${schema}.invoices ORDER BY number`,
    );
    for (const row of r.rows) expect(documentHash(canonicalJson(row.canonical_json))).toBe(row.document_hash);
    expect(r.rows[0].canonical_json).toMatchObject({
      invoice_number: 'INV2026-000001',
      date: '2026-12-02',
      due_date: '2026-12-16',
      start_date: '2026-11-01',
      end_date: '2026-11-30',
      total_amount: '17.62',
      total_tax: '3.52',
      total: '21.14',
      prev_hash: null,
    });
  });

  it('hashes a fixed document to a fixed value (stable across runs and Node versions)', () => {
    const c = canonicalInvoice(
      {
        documentType: 'invoice',
        number: 'INV2026-000001',
        issueDate: '2026-12-02',
        dueDate: '2026-12-16',
        startDate: '2026-11-01',
        endDate: '2026-11-30',
        currency: 'GBP',
        subtotalNano: 10_000_000_000n,
        discountNano: 0n,
        taxNano: 2_000_000_000n,
        totalNano: 12_000_000_000n,
        seller: { legalName: 'Acme' },
        buyer: { legalName: 'Zoë' },
        taxSummary: [{ rate: '0.200000', baseNano: '10000000000', taxNano: '2000000000' }],
      },
      [
        {
          seq: 1,
          kind: 'fee',
          description: 'Plan',
          periodStart: null,
          periodEnd: null,
          quantity: null,
          unit: null,
          amountNano: 10_000_000_000n,
          taxCode: 'VAT',
          taxRate: '0.200000',
          taxNano: 2_000_000_000n,
        },
      ],
      null,
    );
    expect(c.hash).toBe(FIXED_HASH);
  });

  it('answers 202 with Retry-After while the PDF is pending, then the PDF', async () => {
    const url = `/v1/invoices/${ids[0]}/pdf`;
    const pending = await app.inject({ url, headers: BILLING });
    expect(pending.statusCode).toBe(202);
    expect(pending.headers['retry-after']).toBe('2');
    await pdf.renderPending();
    const res = await app.inject({ url, headers: BILLING });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    const dir = mkdtempSync(join(tmpdir(), 'pdf-'));
    writeFileSync(join(dir, 'a.pdf'), res.rawPayload);
    const text = execFileSync('pdftotext', ['-layout', join(dir, 'a.pdf'), '-'], { encoding: 'utf8' });
    expect(text).toContain('Invoice INV2026-000001');
    expect(text).toContain('Total: 21.14 GBP');
    expect(text).toContain('Plan "S", December, 2026');
  }, 60_000);

  it('renders the same bytes again (in the worker and here)', async () => {
    const r = await pool.query(
      `SELECT canonical_json, document_hash, pdf FROM ${schema}.invoices WHERE id = $1`,
      [ids[0]],
    );
    const again = await renderPdf(r.rows[0].canonical_json, r.rows[0].document_hash);
    expect(Buffer.from(again).equals(r.rows[0].pdf)).toBe(true);
  });

  it('renders credit notes too, and refuses a draft 409 INVOICE_IS_DRAFT', async () => {
    const note = await pool.query(`SELECT id FROM ${schema}.credit_notes`);
    await pdf.renderPending();
    const res = await app.inject({ url: `/v1/credit-notes/${note.rows[0].id}/pdf`, headers: BILLING });
    expect(res.statusCode).toBe(200);
    const draft = await addDraft(pool, schema, draftOf('acme', 'dave', 1));
    const refused = await app.inject({ url: `/v1/invoices/${draft}/pdf`, headers: BILLING });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().cause).toBe('INVOICE_IS_DRAFT');
  }, 60_000);
});

/** SHA-256 of the canonical text of the fixed document above; a change here is a change of format. */
const FIXED_HASH = 'b0045738ded3c945c71ca004fd7c6b5cbf34e217d08e318c28a9c65ec711cbb7';
