/**
 * Issuing at once (issue 13, performance): the run's drafts of auto-finalized accounts become
 * finalized documents in the statements that write them — one COPY of the invoices already
 * numbered, dated, hashed, one of their lines — instead of a draft INSERT, then locking, reading
 * back and UPDATE-ing every row. Sealing is the same code as finalize.ts (seal.ts) over the values
 * exactly as PostgreSQL stores them, so a document issued here is hash-equal to the same draft
 * stored and finalized later. All in the caller's transaction: a rollback gives the numbers back.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { copyField } from '../../cdr/rows.js';
import { DEFAULT_SERIES, DocumentError, type DocumentHooks, type DraftInput } from './model.js';
import { rateText, taxSummaryOf, type Fresh } from './drafts.js';
import { lockAll, postAll, type FinalizeResult } from './finalize.js';
import { journal } from './journal.js';
import { mapInTurns } from '../../infra/turns.js';
import { derivedId } from './ids.js';
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

/**
 * A JSON value as stored and read back (what a draft finalized later seals), copied once per object:
 * a chunk's 1,000 drafts share their seller.
 */
function plainCopies(): (v: unknown) => unknown {
  const copies = new Map<unknown, unknown>();
  return (v) => {
    if (!copies.has(v)) copies.set(v, JSON.parse(JSON.stringify(v)) as unknown);
    return copies.get(v);
  };
}

/** The draft as finalize.ts would read it from its row (jsonb round trip of the parties included). */
function sealDraftOf(x: Fresh[number], plain: (v: unknown) => unknown): SealDraft {
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
    seller: plain(d.seller),
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

const iso = (t: number | Date | undefined) => (t === undefined ? null : new Date(t).toISOString());
/** A value of a COPY text row; null is `\\N`. */
const cell = (v: string | number | null) => (v === null ? '\\N' : copyField(v));
const row = (vs: (string | number | null)[]) => vs.map(cell).join('\t');

const ISSUED_COLUMNS = `id, tenant, account_id, bill_seq, document_type, status, series, timezone, payment_terms_days,
  period_start, period_end, cutoff_at, currency, subtotal_nano, discount_nano, tax_nano, total_nano, amount_due_nano,
  seller, buyer, tax_summary, number, issue_date, due_date, canonical_json, document_hash, prev_hash, finalized_at,
  pdf_status`;

function issuedRow(x: Fresh[number], s: Sealed, when: string): string {
  const d = x.d;
  const total = d.figures.totalNano.toString();
  return row([
    x.id,
    d.tenant,
    d.accountId,
    d.billSeq,
    d.documentType,
    'finalized',
    d.series ?? DEFAULT_SERIES[d.documentType],
    d.timezone ?? 'UTC',
    d.paymentTermsDays ?? 14,
    iso(d.periodStart),
    iso(d.periodEnd),
    iso(d.cutoffAt),
    d.currency,
    d.figures.subtotalNano.toString(),
    d.figures.discountNano.toString(),
    d.figures.taxNano.toString(),
    total,
    total,
    JSON.stringify(d.seller),
    JSON.stringify(d.buyer),
    JSON.stringify(taxSummaryOf(d)),
    s.number,
    s.issueDate,
    s.dueDate,
    s.json,
    s.hash,
    s.prev,
    when,
    'pending',
  ]);
}

const LINE_COLUMNS = `invoice_id, seq, kind, description, period_start, period_end, quantity, unit, amount_nano,
  exact_nano, tax_code, tax_rate, tax_nano, source`;

const lineRows = (x: Fresh[number]) =>
  x.d.figures.lines.map((l) =>
    row([
      x.id,
      l.seq,
      l.kind,
      l.description,
      iso(l.periodStart),
      iso(l.periodEnd),
      l.quantity ?? null,
      l.unit ?? null,
      l.amountNano.toString(),
      l.exactNano.toString(),
      l.taxCode ?? null,
      rateText(l.rateMicros),
      l.taxNano.toString(),
      l.source ? JSON.stringify(l.source) : null,
    ]),
  );

/** COPY text rows (each ending with a line break) into a table of the caller's transaction. */
async function copyRows(client: PoolClient, sql: string, rows: string[]): Promise<void> {
  if (rows.length === 0) return;
  await pipeline(Readable.from([Buffer.from(`${rows.join('\n')}\n`)]), client.query(copyFrom(sql)));
}

/**
 * The invoices rows, finalized, and their lines, by COPY: no text arrays for node-postgres to escape
 * (1,000 canonical JSON strings a chunk) nor for PostgreSQL to parse and unnest. All must be new: a
 * bill period that has a document is a conflict (COPY has no ON CONFLICT: the unique key refuses it,
 * and the caller's transaction is rolled back as before). The lines trigger fires as for an INSERT.
 */
async function copyIssued(client: PoolClient, schema: string, xs: Fresh, sealed: Sealed[], when: Date) {
  const by = new Map(sealed.map((s) => [s.id, s]));
  const stamp = when.toISOString();
  try {
    await copyRows(
      client,
      `COPY ${schema}.invoices (${ISSUED_COLUMNS}) FROM STDIN`,
      await mapInTurns(xs, (x) => issuedRow(x, by.get(x.id)!, stamp)),
    );
  } catch (err) {
    const constraint = (err as { constraint?: string }).constraint;
    // The bill's id (issuedId) or the bill itself already has a document.
    if (constraint === 'invoices_tenant_account_id_bill_seq_key' || constraint === 'invoices_pkey')
      throw new DocumentError('CONFLICT', 'a bill period of this batch already has a document');
    throw err;
  }
  const lines = (await mapInTurns(xs, lineRows)).flat();
  await copyRows(client, `COPY ${schema}.invoice_lines (${LINE_COLUMNS}) FROM STDIN`, lines);
}

/**
 * The id of a document issued at once follows from its bill (tenant, account, bill period): a chunk
 * rolled back after some of its postings landed (a later posting failed, the commit did not happen)
 * gets the same ids when it is issued again, so those postings (`invoice:{id}`) replay instead of
 * moving the money a second time. A bill has one document at most (the unique key), so the id is
 * unique; a document with no bill period gets a random one.
 */
function issuedId(tenant: string, d: DraftInput): string {
  return d.billSeq === null ? randomUUID() : derivedId('invoice', tenant, d.accountId, d.billSeq);
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
  const xs: Fresh = ds.map((d) => ({ d, id: issuedId(tenant, d) }));
  const plain = plainCopies();
  const drafts = await mapInTurns(xs, (x) => sealDraftOf(x, plain));
  const series = await lockAll(client, schema, tenant, drafts);
  const lines = new Map(await mapInTurns(xs, (x) => [x.id, sealLinesOf(x)] as const));
  const { done, entries, posted } = await sealDrafts(
    tenant,
    series,
    drafts,
    lines,
    when,
    opts.actor ?? 'run',
  );
  await copyIssued(client, schema, xs, done, when);
  for (const s of series.values()) await saveSeries(client, schema, tenant, s);
  await journal(client, schema, entries);
  // The postings last: a write that fails leaves no money moved (and a commit that fails after them
  // is issued again with the same ids: issuedId).
  await postAll(client, posted, opts.hooks);
  return { ids: xs.map((x) => x.id), finalized: done.map(({ id, number, hash }) => ({ id, number, hash })) };
}
