/**
 * Finalization (E.3 step 5): drafts become numbered, hashed, immutable documents in one transaction.
 * Series rows are locked first (in code order, so finalizers never deadlock), then the drafts;
 * numbers are taken in (series, local year, account id) order; the events, the audit rows and the
 * postpaid balance posting (a hook) commit with them, and a rollback gives every number back.
 */
import type { PoolClient } from 'pg';
import { journal } from './journal.js';
import { DocumentError, type DocumentHooks, type DocumentsDb, type FinalizedInvoice } from './model.js';
import { sealDrafts, type SealDraft, type SealLine } from './seal.js';
import { lockSeries, saveSeries, type SeriesState } from './series.js';
import { inTransaction } from './transaction.js';

export interface FinalizeOptions {
  hooks?: DocumentHooks;
  actor?: string;
  /** The API's single finalize: refuse (409) a draft that needs review or is not a draft. */
  strict?: boolean;
}

export interface FinalizeResult {
  finalized: { id: string; number: string; hash: string }[];
  skipped: { id: string; reason: 'not_draft' | 'needs_review' | 'not_found' }[];
}

type DraftRow = SealDraft & { needsReview: string | null };
type LineRow = SealLine & { invoiceId: string };

export { ledgerBacked } from './seal.js';

/** Locks the series of these documents, in code order (so finalizers never deadlock). */
export async function lockAll(
  client: PoolClient,
  schema: string,
  tenant: string,
  wanted: { series: string; documentType: 'invoice' | 'statement' }[],
): Promise<Map<string, SeriesState>> {
  const series = new Map<string, SeriesState>();
  const sorted = [...new Map(wanted.map((w) => [w.series, w])).values()].sort((a, b) =>
    a.series < b.series ? -1 : a.series > b.series ? 1 : 0,
  );
  for (const s of sorted)
    series.set(s.series, await lockSeries(client, schema, tenant, s.series, s.documentType));
  return series;
}

async function lockDrafts(client: PoolClient, schema: string, tenant: string, ids: string[]) {
  const r = await client.query<DraftRow & { status: string }>(
    `SELECT id, account_id AS "accountId", document_type AS "documentType", series, timezone, status,
            payment_terms_days AS terms, period_start AS "periodStart", period_end AS "periodEnd", currency,
            subtotal_nano::text AS "subtotalNano", discount_nano::text AS "discountNano", tax_nano::text AS "taxNano",
            total_nano::text AS "totalNano", seller, buyer, tax_summary AS "taxSummary", needs_review AS "needsReview"
       FROM ${schema}.invoices WHERE tenant = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE`,
    [tenant, ids],
  );
  return r.rows;
}

async function linesOf(client: PoolClient, schema: string, ids: string[]): Promise<Map<string, LineRow[]>> {
  const r = await client.query<LineRow>(
    `SELECT invoice_id AS "invoiceId", seq, kind, description, period_start AS "periodStart", period_end AS "periodEnd",
            quantity::text, unit, amount_nano::text AS "amountNano", exact_nano::text AS "exactNano", tax_code AS "taxCode",
            tax_rate::text AS "taxRate", tax_nano::text AS "taxNano"
       FROM ${schema}.invoice_lines WHERE invoice_id = ANY($1::uuid[]) ORDER BY invoice_id, seq`,
    [ids],
  );
  const by = new Map<string, LineRow[]>();
  for (const l of r.rows) by.set(l.invoiceId, [...(by.get(l.invoiceId) ?? []), l]);
  return by;
}

function refuseOrSkip(rows: (DraftRow & { status: string })[], ids: string[], opts: FinalizeOptions) {
  const skipped: FinalizeResult['skipped'] = [];
  const found = new Set(rows.map((r) => r.id));
  for (const id of ids) if (!found.has(id)) skipped.push({ id, reason: 'not_found' });
  for (const r of rows) {
    if (r.status !== 'draft') skipped.push({ id: r.id, reason: 'not_draft' });
    else if (r.needsReview !== null) skipped.push({ id: r.id, reason: 'needs_review' });
  }
  const first = skipped[0];
  if (opts.strict && first) {
    if (first.reason === 'not_found') throw new DocumentError('NOT_FOUND', `no invoice ${first.id}`);
    if (first.reason === 'not_draft')
      throw new DocumentError('INVOICE_NOT_DRAFT', `invoice ${first.id} is not a draft`);
    throw new DocumentError('INVOICE_NEEDS_REVIEW', `invoice ${first.id} needs review`, {
      needsReview: rows.find((r) => r.id === first.id)?.needsReview,
    });
  }
  return { skipped, drafts: rows.filter((r) => r.status === 'draft' && r.needsReview === null) };
}

/**
 * Postings at once per batch (one Redis pipeline, not a round trip each), so bounded: Redis runs a
 * client's pipelined scripts back to back, so a charging command from any client waits behind at
 * most this many (1,000 held an in-process debit ~250 ms on a slow box). 20 rather than 100: at
 * 20,000 accounts charging p99 during a run was 1.6-2.0 × idle against 2.0-3.2 ×, the run no slower
 * (bench/RESULTS.md 2026-12-08).
 */
const POSTINGS_AT_ONCE = 20;

/**
 * The finalize hook for every invoice, many in flight: each is idempotent by its op id, so one that
 * fails rolls the transaction back and the others replay on the next try. All are settled first,
 * so no posting is still running after the rollback.
 */
export async function postAll(client: PoolClient, posted: FinalizedInvoice[], hooks?: DocumentHooks) {
  const post = hooks?.postBalance?.bind(hooks);
  if (!post) return;
  for (let i = 0; i < posted.length; i += POSTINGS_AT_ONCE) {
    const settled = await Promise.allSettled(
      posted.slice(i, i + POSTINGS_AT_ONCE).map((inv) => post(client, inv)),
    );
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** Finalizes within the caller's transaction (the API's reference bookkeeping shares it). */
export async function finalizeIn(
  client: PoolClient,
  schema: string,
  tenant: string,
  ids: string[],
  at: Date,
  opts: FinalizeOptions = {},
): Promise<FinalizeResult> {
  const unlocked = await client.query<{ series: string; documentType: 'invoice' | 'statement' }>(
    `SELECT DISTINCT series, document_type AS "documentType" FROM ${schema}.invoices
      WHERE tenant = $1 AND id = ANY($2::uuid[]) AND status = 'draft' ORDER BY series`,
    [tenant, ids],
  );
  const series = await lockAll(client, schema, tenant, unlocked.rows);
  const { skipped, drafts } = refuseOrSkip(await lockDrafts(client, schema, tenant, ids), ids, opts);
  const lines = await linesOf(
    client,
    schema,
    drafts.map((d) => d.id),
  );
  const { done, entries, posted } = await sealDrafts(tenant, series, drafts, lines, at, opts.actor ?? 'run');
  if (done.length > 0)
    await client.query(
      `UPDATE ${schema}.invoices i SET status = 'finalized', number = u.number, issue_date = u.issue_date::date,
              due_date = u.due_date::date, canonical_json = u.json::jsonb, document_hash = u.hash, prev_hash = u.prev,
              finalized_at = $2, pdf_status = 'pending', amount_due_nano = i.total_nano
         FROM unnest($1::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
              AS u(id, number, issue_date, due_date, json, hash, prev)
        WHERE i.id = u.id`,
      [
        done.map((x) => x.id),
        at,
        done.map((x) => x.number),
        done.map((x) => x.issueDate),
        done.map((x) => x.dueDate),
        done.map((x) => x.json),
        done.map((x) => x.hash),
        done.map((x) => x.prev),
      ],
    );
  for (const s of series.values()) await saveSeries(client, schema, tenant, s);
  await journal(client, schema, entries);
  // The postings last: a write that fails leaves no money moved.
  await postAll(client, posted, opts.hooks);
  return { finalized: done.map(({ id, number, hash }) => ({ id, number, hash })), skipped };
}

/** The run's entry point: finalizes the given drafts (others skipped) in one transaction. */
export function finalizeInvoices(
  db: DocumentsDb,
  tenant: string,
  ids: string[],
  at: Date,
  hooks?: DocumentHooks,
): Promise<FinalizeResult> {
  return inTransaction(db.pool, (client) =>
    finalizeIn(client, db.schema, tenant, ids, at, { hooks, actor: 'run' }),
  );
}
