/**
 * Issuing at once (issue 13, performance): the run's drafts of auto-finalized accounts become
 * finalized documents in the statements that write them — one INSERT of the invoices already
 * numbered, dated, hashed, one of their lines — instead of a draft INSERT, then locking, reading
 * back and UPDATE-ing every row. Sealing is the same code as finalize.ts (seal.ts) over the values
 * exactly as PostgreSQL stores them, so a document issued here is hash-equal to the same draft
 * stored and finalized later. All in the caller's transaction: a rollback gives the numbers back.
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { DEFAULT_SERIES, DocumentError, type DocumentHooks, type DraftInput } from './model.js';
import { insertLines, invoiceColumns, rateText, taxSummaryOf, type Fresh } from './drafts.js';
import { lockAll, postAll, type FinalizeResult } from './finalize.js';
import { journal } from './journal.js';
import { sealDrafts, type SealDraft, type SealLine, type Sealed } from './seal.js';
import { saveSeries } from './series.js';

/**
 * A quantity PostgreSQL's numeric prints back exactly as given (no sign of zero, no leading zero,
 * no exponent): the canonical JSON hashed here must be the one a stored draft would give.
 */
const PLAIN_DECIMAL = /^(0|-?[1-9]\d*)(\.\d+)?$|^-?0\.\d*[1-9]\d*$/;

/** Whether a draft can be issued at once (else it is written as a draft and finalized from the table). */
export function issuable(d: DraftInput): boolean {
  return (
    d.needsReview === undefined &&
    d.figures.lines.every((l) => l.quantity === undefined || PLAIN_DECIMAL.test(l.quantity))
  );
}

const at = (t: number | Date | undefined) => (t === undefined ? null : new Date(new Date(t).toISOString()));

/** The draft as finalize.ts would read it from its row (jsonb round trip of the parties included). */
function sealDraftOf(x: Fresh[number]): SealDraft {
  const d = x.d;
  return {
    id: x.id,
    accountId: d.accountId,
    documentType: d.documentType,
    series: d.series ?? DEFAULT_SERIES[d.documentType],
    timezone: d.timezone ?? 'UTC',
    terms: d.paymentTermsDays ?? 14,
    periodStart: new Date(d.periodStart),
    periodEnd: new Date(d.periodEnd),
    currency: d.currency,
    subtotalNano: d.figures.subtotalNano.toString(),
    discountNano: d.figures.discountNano.toString(),
    taxNano: d.figures.taxNano.toString(),
    totalNano: d.figures.totalNano.toString(),
    seller: JSON.parse(JSON.stringify(d.seller)) as unknown,
    buyer: JSON.parse(JSON.stringify(d.buyer)) as unknown,
    taxSummary: taxSummaryOf(d),
  };
}

function sealLinesOf(x: Fresh[number]): SealLine[] {
  return x.d.figures.lines.map((l) => ({
    seq: l.seq,
    kind: l.kind,
    description: l.description,
    periodStart: at(l.periodStart),
    periodEnd: at(l.periodEnd),
    quantity: l.quantity ?? null,
    unit: l.unit ?? null,
    amountNano: l.amountNano.toString(),
    exactNano: l.exactNano.toString(),
    taxCode: l.taxCode ?? null,
    taxRate: rateText(l.rateMicros),
    taxNano: l.taxNano.toString(),
  }));
}

/** The invoices rows, finalized; all must be new (a bill period that has a document is a conflict). */
async function insertIssued(client: PoolClient, schema: string, xs: Fresh, sealed: Sealed[], when: Date) {
  const by = new Map(sealed.map((s) => [s.id, s]));
  const col = <T>(f: (s: Sealed) => T) => xs.map((x) => f(by.get(x.id)!));
  const r = await client.query(
    `INSERT INTO ${schema}.invoices (id, tenant, account_id, bill_seq, document_type, status, series, timezone,
       payment_terms_days, period_start, period_end, cutoff_at, currency, subtotal_nano, discount_nano, tax_nano,
       total_nano, amount_due_nano, seller, buyer, tax_summary, needs_review, number, issue_date, due_date,
       canonical_json, document_hash, prev_hash, finalized_at, pdf_status)
     SELECT id, tenant, account_id, bill_seq, document_type, 'finalized', series, timezone, terms, period_start,
            period_end, cutoff_at, currency, subtotal, discount, tax, total, total, seller, buyer, tax_summary,
            needs_review, number, issue_date::date, due_date::date, json::jsonb, hash, prev, $27, 'pending'
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::int[],
                   $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::bigint[], $14::bigint[],
                   $15::bigint[], $16::bigint[], $17::jsonb[], $18::jsonb[], $19::jsonb[], $20::text[], $21::text[],
                   $22::text[], $23::text[], $24::text[], $25::text[], $26::text[])
         AS u(id, tenant, account_id, bill_seq, document_type, series, timezone, terms, period_start, period_end,
              cutoff_at, currency, subtotal, discount, tax, total, seller, buyer, tax_summary, needs_review,
              number, issue_date, due_date, json, hash, prev)
     ON CONFLICT (tenant, account_id, bill_seq) DO NOTHING`,
    [
      ...invoiceColumns(xs),
      col((s) => s.number),
      col((s) => s.issueDate),
      col((s) => s.dueDate),
      col((s) => s.json),
      col((s) => s.hash),
      col((s) => s.prev),
      when,
    ],
  );
  if (r.rowCount !== xs.length)
    throw new DocumentError('CONFLICT', 'a bill period of this batch already has a document');
}

/**
 * Issues these drafts (all `issuable`) in the caller's transaction: series locked, numbers taken in
 * (series, year, account) order, documents and lines written, series saved, the journal and the
 * postings (the hook) — as finalizeIn does for stored drafts. Returns each draft's id, in order.
 */
export async function issueDrafts(
  client: PoolClient,
  schema: string,
  tenant: string,
  ds: DraftInput[],
  when: Date,
  opts: { hooks?: DocumentHooks; actor?: string } = {},
): Promise<{ ids: string[]; finalized: FinalizeResult['finalized'] }> {
  if (ds.length === 0) return { ids: [], finalized: [] };
  const xs: Fresh = ds.map((d) => ({ d, id: randomUUID() }));
  const drafts = xs.map(sealDraftOf);
  const series = await lockAll(client, schema, tenant, drafts);
  const lines = new Map(xs.map((x) => [x.id, sealLinesOf(x)]));
  const { done, entries, posted } = await sealDrafts(
    tenant,
    series,
    drafts,
    lines,
    when,
    opts.actor ?? 'run',
  );
  await insertIssued(client, schema, xs, done, when);
  await insertLines(client, schema, xs);
  for (const s of series.values()) await saveSeries(client, schema, tenant, s);
  await journal(client, schema, entries);
  await postAll(client, posted, opts.hooks);
  return { ids: xs.map((x) => x.id), finalized: done.map(({ id, number, hash }) => ({ id, number, hash })) };
}
