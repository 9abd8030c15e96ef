/**
 * Issue 13: usage that arrives after an invoice was finalized, and the rerate of usage already
 * invoiced, land on the next invoice as late_usage / adjustment lines that cite the invoice they
 * correct — its number and its period — on the canonical JSON, the CSV export and the PDF. The
 * earlier invoice is not touched.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportDocuments } from '../../../src/billing/documents/export.js';
import { renderPdf } from '../../../src/billing/documents/pdf-render.js';
import { runBilling } from '../../../src/billing/run/run.js';
import { importCdrFile } from '../../../src/cdr/pipeline.js';
import { createRatingPool } from '../../../src/cdr/pool.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { addAccount, addVat, ensureAll, oneCdr, rerateCdr, runDeps, sampleFor } from '../run/support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const rating = createRatingPool({ tariffDir: 'tariffs/sample', threads: 1 });
const deps = runDeps(pool, schema, redis, prefix, Date.parse('2027-01-02T00:00:00Z'));
const MSISDN = '447700900001';
const importDeps = { balances: deps.balances, pool, schema, rating };

interface Line {
  seq: number;
  kind: string;
  description: string;
  period: { start: string; end: string } | null;
  [k: string]: unknown;
}
interface Doc {
  invoice_number: string;
  lines: Line[];
  [k: string]: unknown;
}

async function issued(seq: number): Promise<{ doc: Doc; hash: string }> {
  const r = await pool.query<{ canonical_json: Doc; document_hash: string }>(
    `SELECT canonical_json, document_hash FROM ${schema}.invoices WHERE account_id = 'pa' AND bill_seq = $1`,
    [seq],
  );
  return { doc: r.rows[0]!.canonical_json, hash: r.rows[0]!.document_hash };
}

let nov: { doc: Doc; hash: string };
let dec: { doc: Doc; hash: string };

beforeAll(async () => {
  await ensureAll(pool, schema);
  await addVat(pool, schema);
  await addAccount(deps.balances, pool, schema, {
    id: 'pa',
    createdAt: '2026-10-01T00:00:00Z',
    taxProfile: 'uk',
    msisdn: MSISDN,
  });
  await importCdrFile(importDeps, sampleFor('cite', [MSISDN]), { fileId: 'm' });
  await runBilling(deps, { tenant: 'acme', asOf: new Date('2026-12-01T00:00:00Z') });
  nov = await issued(2);
  // After November's invoice is finalized: a CDR of 30 November arrives, and one billed CDR is rerated.
  await importCdrFile(importDeps, oneCdr('cite-late', MSISDN, '2026-11-30T12:00:00.000Z'), {
    fileId: 'late',
  });
  const first = await pool.query<{ cdr_id: string }>(
    `SELECT cdr_id FROM ${schema}.rated_cdrs WHERE file_id = 'm' ORDER BY cdr_id LIMIT 1`,
  );
  await rerateCdr(pool, schema, first.rows[0]!.cdr_id, 1_000_000n);
  await runBilling(deps, { tenant: 'acme', asOf: new Date('2027-01-01T00:00:00Z') });
  dec = await issued(3);
}, 120_000);
afterAll(() => rating.close());

describe('lines correcting an issued invoice', () => {
  it('cite its number and period on the canonical JSON', () => {
    expect(nov.doc.invoice_number).toBe('INV2026-000001');
    expect(dec.doc.invoice_number).toBe('INV2027-000001');
    const cites = dec.doc.lines.filter((l) => l.kind === 'late_usage' || l.kind === 'adjustment');
    expect(cites.map((l) => l.kind).sort()).toEqual(['adjustment', 'late_usage']);
    for (const l of cites) {
      expect(l.description).toContain('(corrects invoice INV2026-000001, 2026-11-01 to 2026-11-30)');
      expect(l.period).toEqual({ start: '2026-11-01T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z' });
    }
    // December's own lines cite nothing; November's invoice is unchanged (still its own lines only).
    for (const l of dec.doc.lines.filter((x) => x.kind === 'usage'))
      expect(l.description).not.toContain('corrects');
    expect(nov.doc.lines.every((l) => !l.description.includes('corrects'))).toBe(true);
  });

  it('name the corrected invoice in the CSV export', async () => {
    const out = exportDocuments(pool, schema, 'acme', {
      from: '2026-12-01',
      to: '2027-01-31',
      format: 'csv',
    });
    let text = '';
    for await (const chunk of out) text += String(chunk);
    const [head, ...rows] = text.trim().split('\r\n');
    const cols = head!.split(',');
    const at = (c: string) => cols.indexOf(c);
    // The columns up to the description hold no comma: a plain split reads them.
    const fields = rows.map((r) => r.split(','));
    const late = fields.filter((r) => r[at('kind')] === 'late_usage' || r[at('kind')] === 'adjustment');
    expect(late.length).toBe(2);
    for (const r of late) {
      expect(r[at('number')]).toBe('INV2027-000001');
      expect(r[at('corrects')]).toBe('INV2026-000001');
    }
    const own = fields.filter((r) => r[at('number')] === 'INV2026-000001');
    expect(own.length).toBeGreaterThan(0);
    for (const r of own) expect(r[at('corrects')]).toBe('');
  });

  it('print the citation on the PDF', async () => {
    const bytes = await renderPdf(dec.doc, dec.hash);
    const dir = mkdtempSync(join(tmpdir(), 'cite-'));
    writeFileSync(join(dir, 'dec.pdf'), bytes);
    const text = execFileSync('pdftotext', [join(dir, 'dec.pdf'), '-'], { encoding: 'utf8' });
    expect(text).toContain('INV2027-000001');
    expect(text).toContain('INV2026-000001');
  });
});
