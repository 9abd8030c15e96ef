/**
 * Issue 13: exempt and reverse-charge accounts are taxed at 0 and their invoices carry the legal
 * mention (the exemption reason, the reverse-charge text), as does a tax rate with its own
 * `legal_text`: in the preview, the draft's tax summary, the canonical JSON (so the hash) and the
 * PDF. A draft finalized later is hash-equal to one issued at once; a normal account has none.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportDocuments } from '../../../src/billing/documents/export.js';
import { renderPdf } from '../../../src/billing/documents/pdf-render.js';
import { buildDocument, checkDocument, type DraftLine } from '../../../src/billing/core/document.js';
import { legalTextOf, REVERSE_CHARGE_TEXT } from '../../../src/billing/run/accounts.js';
import type { DraftOutcome } from '../../../src/billing/run/drafts.js';
import { previewInvoice } from '../../../src/billing/run/preview.js';
import { runBilling } from '../../../src/billing/run/run.js';
import type { RedisClient as Redis } from '../../../src/infra/redis.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { addAccount, addVat, applyFee, ensureAll, runDeps } from '../run/support.js';

const asOf = new Date('2026-12-01T00:00:00Z');
const NOW_MS = Date.parse('2026-12-05T00:00:00Z');
const EXEMPT = 'Exempt from VAT: Art. 132(1)(i) Directive 2006/112/EC (education)';
const ZERO = 'Zero-rated: export of services outside the UK';
type World = { pool: Pool; schema: string; redis: Redis; prefix: string };
const later: World = { ...testPostgres(), ...testRedis() };
const once: World = { ...testPostgres(), ...testRedis() };
const deps = (w: World) => ({
  ...runDeps(w.pool, w.schema, w.redis, w.prefix, NOW_MS),
  chunkSize: 10,
  reconcile: false,
});

interface TaxEntry {
  rate: string;
  base: string;
  tax: string;
  legal_text: string | null;
  [k: string]: unknown;
}
interface Doc {
  total_tax: string;
  total: string;
  tax_summary: TaxEntry[];
  [k: string]: unknown;
}
interface Row {
  account_id: string;
  hash: string;
  doc: Doc;
}

/** n: normal (VAT 20 %); e: exempt; r: reverse charge; z: zero-rated by a rate with its legal text. */
async function build(w: World) {
  const { balances } = deps(w);
  await ensureAll(w.pool, w.schema);
  await addVat(w.pool, w.schema);
  await w.pool.query(
    `INSERT INTO ${w.schema}.taxes (tenant, code, valid_from, rate, legal_text) VALUES ('acme', 'ZR', '2020-01-01', 0, $1)`,
    [ZERO],
  );
  await w.pool.query(
    `INSERT INTO ${w.schema}.tax_profiles (tenant, code, mapping) VALUES ('acme', 'zr', '{"fee":"ZR"}')`,
  );
  for (const [id, profile] of [
    ['n', 'uk'],
    ['e', 'uk'],
    ['r', 'uk'],
    ['z', 'zr'],
  ] as const) {
    await addAccount(balances, w.pool, w.schema, {
      id,
      createdAt: '2026-11-01T00:00:00Z',
      taxProfile: profile,
    });
    await applyFee(balances, w.pool, w.schema, id, `fee:${id}`, 10_000_000_000);
  }
  await w.pool.query(
    `UPDATE ${w.schema}.billing_accounts SET exempt_reason = $1 WHERE tenant = 'acme' AND account_id = 'e'`,
    [EXEMPT],
  );
  await w.pool.query(
    `UPDATE ${w.schema}.billing_accounts SET reverse_charge = true WHERE tenant = 'acme' AND account_id = 'r'`,
  );
}

async function issued(w: World): Promise<Map<string, Row>> {
  const r = await w.pool.query<Row>(
    `SELECT account_id, document_hash AS hash, canonical_json AS doc FROM ${w.schema}.invoices
      WHERE status <> 'draft' ORDER BY account_id`,
  );
  return new Map(r.rows.map((x) => [x.account_id, x]));
}

async function pdfText(row: Row): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'legal-'));
  writeFileSync(join(dir, 'doc.pdf'), await renderPdf(row.doc, row.hash));
  // -raw: the mention wraps over lines; joined back with spaces to compare.
  return execFileSync('pdftotext', ['-raw', join(dir, 'doc.pdf'), '-'], { encoding: 'utf8' }).replace(
    /\s+/g,
    ' ',
  );
}

let docs: Map<string, Row>;
let previews: DraftOutcome[];

beforeAll(async () => {
  await build(later);
  await build(once);
  // Previewed before any run, cut now (the fees were stored after asOf on the wall clock).
  previews = [];
  for (const id of ['e', 'r', 'n'])
    previews.push(await previewInvoice({ ...once, now: Date.now }, 'acme', id));
  const drafted = await runBilling(deps(later), { tenant: 'acme', asOf, finalize: false });
  expect(drafted).toMatchObject({ status: 'done', counters: { drafted: 4, finalized: 0 } });
  // The drafts already hold the mentions they will be sealed with.
  const stored = await later.pool.query<{ account_id: string; tax_summary: { legalText?: string }[] }>(
    `SELECT account_id, tax_summary FROM ${later.schema}.invoices ORDER BY account_id`,
  );
  expect(stored.rows.map((x) => [x.account_id, x.tax_summary.map((t) => t.legalText ?? null)])).toEqual([
    ['e', [EXEMPT]],
    ['n', [null]],
    ['r', [REVERSE_CHARGE_TEXT]],
    ['z', [ZERO]],
  ]);
  expect(await runBilling(deps(later), { tenant: 'acme', asOf })).toMatchObject({
    counters: { finalized: 4 },
  });
  expect(await runBilling(deps(once), { tenant: 'acme', asOf })).toMatchObject({
    counters: { drafted: 4, finalized: 4 },
  });
  docs = await issued(once);
}, 60_000);

describe('legal mentions on invoices', () => {
  it('an exempt account: zero tax and its exemption reason', () => {
    const d = docs.get('e')!.doc;
    expect(d.total_tax).toBe('0.00');
    expect(d.total).toBe('10.00');
    expect(d.tax_summary).toEqual([{ rate: '0.000000', base: '10.00', tax: '0.00', legal_text: EXEMPT }]);
  });

  it('a reverse-charge account: zero tax and the reverse-charge text', () => {
    const d = docs.get('r')!.doc;
    expect(d.total_tax).toBe('0.00');
    expect(d.tax_summary).toEqual([
      { rate: '0.000000', base: '10.00', tax: '0.00', legal_text: REVERSE_CHARGE_TEXT },
    ]);
    expect(REVERSE_CHARGE_TEXT).toContain('Art. 196 Directive 2006/112/EC');
  });

  it("a rate's own legal text reaches its summary entry", () => {
    expect(docs.get('z')!.doc.tax_summary).toEqual([
      { rate: '0.000000', base: '10.00', tax: '0.00', legal_text: ZERO },
    ]);
  });

  it('a normal account has none', () => {
    const d = docs.get('n')!.doc;
    expect(d.total_tax).toBe('2.00');
    expect(d.tax_summary).toEqual([{ rate: '0.200000', base: '10.00', tax: '2.00', legal_text: null }]);
  });

  it('finalized later is hash-equal to issued at once (the mention is hashed)', async () => {
    const a = await issued(later);
    for (const [id, row] of docs) {
      expect(a.get(id)!.hash).toBe(row.hash);
      expect(a.get(id)!.doc).toEqual(row.doc);
    }
    expect(new Set([...docs.values()].map((x) => x.hash)).size).toBe(4);
  });

  it('prints the mentions on the PDF, and none for the normal account', async () => {
    expect(await pdfText(docs.get('e')!)).toContain(EXEMPT);
    expect(await pdfText(docs.get('r')!)).toContain(REVERSE_CHARGE_TEXT);
    expect(await pdfText(docs.get('z')!)).toContain(ZERO);
    const normal = await pdfText(docs.get('n')!);
    for (const t of [EXEMPT, REVERSE_CHARGE_TEXT, ZERO, 'Reverse charge', 'Exempt'])
      expect(normal).not.toContain(t);
  });

  it("the accounting export gives each line its rate entry's mention", async () => {
    let text = '';
    const out = exportDocuments(once.pool, once.schema, 'acme', {
      from: '2026-01-01',
      to: '2027-12-31',
      format: 'jsonl',
    });
    for await (const chunk of out) text += String(chunk);
    const rows = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { account_id: string; legal_text: string | null });
    expect(new Map(rows.map((r) => [r.account_id, r.legal_text]))).toEqual(
      new Map([
        ['e', EXEMPT],
        ['n', null],
        ['r', REVERSE_CHARGE_TEXT],
        ['z', ZERO],
      ]),
    );
  });

  it('the preview carries the same mentions (the same code as the run)', () => {
    const got = previews.map((p) =>
      p.kind === 'draft' ? [p.figures.taxNano, p.figures.taxSummary.map((t) => t.legalText ?? null)] : p.kind,
    );
    expect(got).toEqual([
      [0n, [EXEMPT]],
      [0n, [REVERSE_CHARGE_TEXT]],
      [2_000_000_000n, [null]],
    ]);
  });
});

describe("the core's summary mentions", () => {
  const line = (exactNano: bigint, rateMicros: bigint, legalText?: string): DraftLine => ({
    kind: 'fee',
    description: 'x',
    exactNano,
    rateMicros,
    ...(legalText ? { legalText } : {}),
  });
  const opts = { currency: 'GBP', mode: 'per_rate' as const };

  it('joins the distinct mentions of a rate in line order; other rates keep none', () => {
    const doc = buildDocument(
      [line(1_000_000_000n, 0n, 'B'), line(1_000_000_000n, 0n, 'A'), line(1n, 0n, 'B'), line(5n, 200_000n)],
      opts,
    );
    expect(doc.taxSummary.map((t) => [t.rateMicros, t.legalText])).toEqual([
      [200_000n, undefined],
      [0n, 'B; A'],
    ]);
  });

  it("an exempt buyer's mention replaces the rates' own", () => {
    const doc = buildDocument([line(1_000_000_000n, 200_000n), line(1_000_000_000n, 0n, 'Zero')], {
      ...opts,
      exempt: true,
      legalText: EXEMPT,
    });
    expect(doc.taxNano).toBe(0n);
    expect(doc.taxSummary.map((t) => [t.rateMicros, t.legalText])).toEqual([[0n, EXEMPT]]);
    expect(checkDocument(doc, { ...opts, exempt: true })).toEqual([]);
  });

  it('both an exemption reason and reverse charge: both mentions', () => {
    expect(legalTextOf(' Exempt ', true)).toBe(`Exempt; ${REVERSE_CHARGE_TEXT}`);
    expect(legalTextOf(null, false)).toBeNull();
    expect(legalTextOf('  ', false)).toBeNull();
  });
});
