/**
 * Drafts: written by the run (B4) from the core's figures, rewritten by a refresh, deleted while still
 * drafts. A draft is idempotent on (tenant, account, bill period): writing it again returns the first one's id.
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { DEFAULT_SERIES, DocumentError, type DraftInput } from './model.js';

const iso = (t: number | Date) => new Date(t).toISOString();
export const rateText = (micros: bigint | undefined) =>
  micros === undefined ? null : `${micros / 1_000_000n}.${(micros % 1_000_000n).toString().padStart(6, '0')}`;
const periodKey = (tenant: string, accountId: string, billSeq: number | null) =>
  `${tenant}\n${accountId}\n${billSeq}`;

/** The ids of the drafts already written for these bill periods, by periodKey. */
async function existing(client: PoolClient, schema: string, ds: DraftInput[]): Promise<Map<string, string>> {
  const keyed = ds.filter((d) => d.billSeq !== null);
  if (keyed.length === 0) return new Map();
  const r = await client.query<{ tenant: string; account_id: string; bill_seq: number; id: string }>(
    `SELECT i.tenant, i.account_id, i.bill_seq, i.id FROM ${schema}.invoices i
       JOIN unnest($1::text[], $2::text[], $3::int[]) AS k(tenant, account_id, bill_seq)
         ON i.tenant = k.tenant AND i.account_id = k.account_id AND i.bill_seq = k.bill_seq`,
    [keyed.map((d) => d.tenant), keyed.map((d) => d.accountId), keyed.map((d) => d.billSeq)],
  );
  return new Map(r.rows.map((x) => [periodKey(x.tenant, x.account_id, x.bill_seq), x.id]));
}

/** Writes a draft and its lines; returns its id (the existing one when the period has one). */
export async function insertDraft(client: PoolClient, schema: string, d: DraftInput): Promise<string> {
  return (await insertDrafts(client, schema, [d]))[0]!;
}

/**
 * Writes many drafts and their lines in three statements (the run writes a chunk at once); returns
 * their ids in order, the existing one for a bill period that has a draft already.
 */
export async function insertDrafts(client: PoolClient, schema: string, ds: DraftInput[]): Promise<string[]> {
  if (ds.length === 0) return [];
  const found = await existing(client, schema, ds);
  const fresh = ds
    .filter((d) => !found.has(periodKey(d.tenant, d.accountId, d.billSeq)))
    .map((d) => ({ d, id: randomUUID() }));
  const written = await insertInvoices(client, schema, fresh);
  const lost = fresh.filter((x) => !written.has(x.id));
  // A period a concurrent run wrote between our read and our insert: its draft is the one.
  if (lost.length > 0)
    for (const [k, id] of await existing(
      client,
      schema,
      lost.map((x) => x.d),
    ))
      found.set(k, id);
  await insertLines(
    client,
    schema,
    fresh.filter((x) => written.has(x.id)),
  );
  const ids = new Map(fresh.filter((x) => written.has(x.id)).map((x) => [x.d, x.id]));
  return ds.map((d) => ids.get(d) ?? found.get(periodKey(d.tenant, d.accountId, d.billSeq))!);
}

export type Fresh = { d: DraftInput; id: string }[];

/**
 * The tax summary as stored (and hashed): rate text, base and tax as decimal strings, and the
 * entry's legal mention when it has one (finalizing the stored draft later reads the same entries).
 */
export const taxSummaryOf = (d: DraftInput) =>
  d.figures.taxSummary.map((t) => ({
    rate: rateText(t.rateMicros),
    baseNano: t.baseNano.toString(),
    taxNano: t.taxNano.toString(),
    ...(t.legalText ? { legalText: t.legalText } : {}),
  }));

/** The 20 column arrays of the invoices rows ($1-$20 of insertInvoices and issue.ts). */
export function invoiceColumns(xs: Fresh): unknown[] {
  const col = <T>(f: (d: DraftInput) => T) => xs.map((x) => f(x.d));
  return [
    xs.map((x) => x.id),
    col((d) => d.tenant),
    col((d) => d.accountId),
    col((d) => d.billSeq),
    col((d) => d.documentType),
    col((d) => d.series ?? DEFAULT_SERIES[d.documentType]),
    col((d) => d.timezone ?? 'UTC'),
    col((d) => d.paymentTermsDays ?? 14),
    col((d) => iso(d.periodStart)),
    col((d) => iso(d.periodEnd)),
    col((d) => iso(d.cutoffAt)),
    col((d) => d.currency),
    col((d) => d.figures.subtotalNano.toString()),
    col((d) => d.figures.discountNano.toString()),
    col((d) => d.figures.taxNano.toString()),
    col((d) => d.figures.totalNano.toString()),
    col((d) => JSON.stringify(d.seller)),
    col((d) => JSON.stringify(d.buyer)),
    col((d) => JSON.stringify(taxSummaryOf(d))),
    col((d) => d.needsReview ?? null),
  ];
}

/** The invoices rows; returns the ids actually written (a period taken meanwhile is not). */
async function insertInvoices(client: PoolClient, schema: string, xs: Fresh): Promise<Set<string>> {
  if (xs.length === 0) return new Set();
  const r = await client.query<{ id: string }>(
    `INSERT INTO ${schema}.invoices (id, tenant, account_id, bill_seq, document_type, status, series, timezone,
       payment_terms_days, period_start, period_end, cutoff_at, currency, subtotal_nano, discount_nano, tax_nano,
       total_nano, amount_due_nano, seller, buyer, tax_summary, needs_review)
     SELECT id, tenant, account_id, bill_seq, document_type, 'draft', series, timezone, terms, period_start, period_end,
            cutoff_at, currency, subtotal, discount, tax, total, total, seller, buyer, tax_summary, needs_review
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::int[],
                   $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::bigint[], $14::bigint[],
                   $15::bigint[], $16::bigint[], $17::jsonb[], $18::jsonb[], $19::jsonb[], $20::text[])
         AS u(id, tenant, account_id, bill_seq, document_type, series, timezone, terms, period_start, period_end,
              cutoff_at, currency, subtotal, discount, tax, total, seller, buyer, tax_summary, needs_review)
     ON CONFLICT (tenant, account_id, bill_seq) DO NOTHING
     RETURNING id`,
    invoiceColumns(xs),
  );
  return new Set(r.rows.map((x) => x.id));
}

/** Every line of these drafts in one statement. */
export async function insertLines(client: PoolClient, schema: string, xs: Fresh): Promise<void> {
  const ls = xs.flatMap((x) => x.d.figures.lines.map((l) => ({ id: x.id, l })));
  if (ls.length === 0) return;
  const col = <T>(f: (l: (typeof ls)[number]['l']) => T) => ls.map((x) => f(x.l));
  await client.query(
    `INSERT INTO ${schema}.invoice_lines (invoice_id, seq, kind, description, period_start, period_end, quantity,
       unit, amount_nano, exact_nano, tax_code, tax_rate, tax_nano, source)
     SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
       $7::numeric[], $8::text[], $9::bigint[], $10::numeric[], $11::text[], $12::numeric[], $13::bigint[], $14::jsonb[])`,
    [
      ls.map((x) => x.id),
      col((l) => l.seq),
      col((l) => l.kind),
      col((l) => l.description),
      col((l) => (l.periodStart === undefined ? null : iso(l.periodStart))),
      col((l) => (l.periodEnd === undefined ? null : iso(l.periodEnd))),
      col((l) => l.quantity ?? null),
      col((l) => l.unit ?? null),
      col((l) => l.amountNano.toString()),
      col((l) => l.exactNano.toString()),
      col((l) => l.taxCode ?? null),
      col((l) => rateText(l.rateMicros)),
      col((l) => l.taxNano.toString()),
      col((l) => (l.source ? JSON.stringify(l.source) : null)),
    ],
  );
}

/**
 * Rewrites a draft in place from a new build of its bill (a refresh): the header's figures, parties
 * and cut-off, and all its lines; its id, bill period and `needs_review` stay. The caller has locked
 * the row and checked it is a draft; the row guard would refuse an issued one anyway.
 */
export async function replaceDraft(
  client: PoolClient,
  schema: string,
  id: string,
  d: DraftInput,
): Promise<void> {
  const r = await client.query(
    `UPDATE ${schema}.invoices i SET document_type = u.document_type, series = u.series, timezone = u.timezone,
            payment_terms_days = u.terms, period_start = u.period_start, period_end = u.period_end,
            cutoff_at = u.cutoff_at, currency = u.currency, subtotal_nano = u.subtotal, discount_nano = u.discount,
            tax_nano = u.tax, total_nano = u.total, amount_due_nano = u.total, seller = u.seller, buyer = u.buyer,
            tax_summary = u.tax_summary
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::int[],
                   $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::bigint[], $14::bigint[],
                   $15::bigint[], $16::bigint[], $17::jsonb[], $18::jsonb[], $19::jsonb[], $20::text[])
         AS u(id, tenant, account_id, bill_seq, document_type, series, timezone, terms, period_start, period_end,
              cutoff_at, currency, subtotal, discount, tax, total, seller, buyer, tax_summary, needs_review)
      WHERE i.id = u.id AND i.tenant = u.tenant AND i.status = 'draft'`,
    invoiceColumns([{ d, id }]),
  );
  if (r.rowCount !== 1) throw new DocumentError('INVOICE_NOT_DRAFT', `invoice ${id} is not a draft`);
  await client.query(`DELETE FROM ${schema}.invoice_lines WHERE invoice_id = $1`, [id]);
  await insertLines(client, schema, [{ d, id }]);
}

/** Deletes a draft (its lines go with it); the trigger refuses any other status, this says why first. */
export async function deleteDraft(client: PoolClient, schema: string, tenant: string, id: string) {
  const r = await client.query<{ status: string; accountId: string; billSeq: number | null }>(
    `SELECT status, account_id AS "accountId", bill_seq AS "billSeq" FROM ${schema}.invoices
      WHERE tenant = $1 AND id = $2 FOR UPDATE`,
    [tenant, id],
  );
  const row = r.rows[0];
  if (!row) throw new DocumentError('NOT_FOUND', `no invoice ${id}`);
  if (row.status !== 'draft') throw new DocumentError('INVOICE_NOT_DRAFT', `invoice ${id} is ${row.status}`);
  await client.query(`DELETE FROM ${schema}.invoices WHERE id = $1`, [id]);
  await client.query(
    `INSERT INTO ${schema}.invoice_audit (tenant, document_id, action, actor, detail) VALUES ($1, $2, 'deleted', 'api', $3)`,
    [tenant, id, JSON.stringify({ accountId: row.accountId, billSeq: row.billSeq })],
  );
  return { id, deleted: true, accountId: row.accountId, billSeq: row.billSeq };
}
