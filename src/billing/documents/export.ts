/**
 * The accounting export: one row per line of every document issued between two dates (invoices and
 * statements, then credit notes with their amounts negative), with the document's header and totals,
 * as CSV or JSON lines. Read a page at a time (keyset), so a year of documents streams in bounded
 * memory.
 */
import { Readable } from 'node:stream';
import type { Pool } from 'pg';
import { formatMoney } from '../core/currency.js';

export const EXPORT_COLUMNS = [
  'document_type',
  'number',
  'date',
  'due_date',
  'account_id',
  'currency',
  'status',
  'corrects',
  'line_seq',
  'kind',
  'description',
  'quantity',
  'unit',
  'amount',
  'tax_code',
  'tax_rate',
  'tax',
  'legal_text',
  'document_total_amount',
  'document_total_tax',
  'document_total',
] as const;

type ExportRow = Record<(typeof EXPORT_COLUMNS)[number], string | number | null>;
const PAGE = 1000;

/** The legal mention of the tax summary entry of a line's rate (exemption, reverse charge, the rate's). */
const LEGAL = (inv: string, line: string) =>
  `(SELECT t->>'legalText' FROM jsonb_array_elements(${inv}.tax_summary) t
     WHERE (t->>'rate')::numeric = coalesce(${line}.tax_rate, 0) LIMIT 1)`;

/** Lines of invoices and credit notes, keyset on (document type, number, line). */
const QUERY = (s: string) => `
  SELECT * FROM (
    SELECT i.document_type AS doc, i.number, i.issue_date::text AS date, i.due_date::text AS due, i.account_id,
           i.currency, i.status, l.source->'corrects'->>'invoice_number' AS corrects, l.seq, l.kind, l.description, l.quantity::text, l.unit,
           l.amount_nano AS amount, l.tax_code, l.tax_rate::text, l.tax_nano AS tax,
           ${LEGAL('i', 'l')} AS legal_text, i.total_nano - i.tax_nano AS doc_amount, i.tax_nano AS doc_tax, i.total_nano AS doc_total
      FROM ${s}.invoices i JOIN ${s}.invoice_lines l ON l.invoice_id = i.id
     WHERE i.tenant = $1 AND i.number IS NOT NULL AND i.issue_date BETWEEN $2::date AND $3::date
    UNION ALL
    SELECT 'credit_note', n.number, n.issue_date::text, NULL, i.account_id, i.currency, n.kind, i.number, c.seq,
           il.kind, il.description, NULL, NULL, -c.amount_nano, il.tax_code, il.tax_rate::text, -c.tax_nano,
           ${LEGAL('i', 'il')}, -n.subtotal_nano, -n.tax_nano, -n.total_nano
      FROM ${s}.credit_notes n JOIN ${s}.credit_note_lines c ON c.credit_note_id = n.id
      JOIN ${s}.invoices i ON i.id = n.invoice_id
      JOIN ${s}.invoice_lines il ON il.invoice_id = n.invoice_id AND il.seq = c.invoice_line_seq
     WHERE n.tenant = $1 AND n.issue_date BETWEEN $2::date AND $3::date) x
  WHERE (doc, number, seq) > ($4, $5, $6) ORDER BY doc, number, seq LIMIT ${PAGE}`;

interface Raw {
  doc: string;
  number: string;
  date: string;
  due: string | null;
  account_id: string;
  currency: string;
  status: string;
  corrects: string | null;
  seq: number;
  kind: string;
  description: string;
  quantity: string | null;
  unit: string | null;
  amount: string;
  tax_code: string | null;
  tax_rate: string | null;
  tax: string;
  legal_text: string | null;
  doc_amount: string;
  doc_tax: string;
  doc_total: string;
}

function rowOf(r: Raw): ExportRow {
  const m = (v: string) => formatMoney(BigInt(v), r.currency);
  return {
    document_type: r.doc,
    number: r.number,
    date: r.date,
    due_date: r.due,
    account_id: r.account_id,
    currency: r.currency,
    status: r.status,
    corrects: r.corrects,
    line_seq: r.seq,
    kind: r.kind,
    description: r.description,
    quantity: r.quantity,
    unit: r.unit,
    amount: m(r.amount),
    tax_code: r.tax_code,
    tax_rate: r.tax_rate,
    tax: m(r.tax),
    legal_text: r.legal_text,
    document_total_amount: m(r.doc_amount),
    document_total_tax: m(r.doc_tax),
    document_total: m(r.doc_total),
  };
}

async function* rows(pool: Pool, schema: string, tenant: string, from: string, to: string) {
  let after: [string, string, number] = ['', '', 0];
  for (;;) {
    const r = await pool.query<Raw>(QUERY(schema), [tenant, from, to, ...after]);
    for (const x of r.rows) yield rowOf(x);
    const last = r.rows[r.rows.length - 1];
    if (r.rows.length < PAGE || !last) return;
    after = [last.doc, last.number, last.seq];
  }
}

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
export const csvField = (v: string | number | null) => {
  const s = v === null ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};

export function exportDocuments(
  pool: Pool,
  schema: string,
  tenant: string,
  q: { from: string; to: string; format: 'csv' | 'jsonl' },
) {
  async function* lines() {
    if (q.format === 'csv') yield `${EXPORT_COLUMNS.join(',')}\r\n`;
    for await (const r of rows(pool, schema, tenant, q.from, q.to))
      yield q.format === 'csv'
        ? `${EXPORT_COLUMNS.map((c) => csvField(r[c])).join(',')}\r\n`
        : `${JSON.stringify(r)}\n`;
  }
  return Readable.from(lines());
}
