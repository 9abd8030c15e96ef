/**
 * Drafts: written by the run (B4) from the core's figures, deleted while still drafts. A draft is
 * idempotent on (tenant, account, bill period): writing it again returns the first one's id.
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { DEFAULT_SERIES, DocumentError, type DraftInput } from './model.js';

const iso = (t: number | Date) => new Date(t).toISOString();
const rateText = (micros: bigint | undefined) =>
  micros === undefined ? null : `${micros / 1_000_000n}.${(micros % 1_000_000n).toString().padStart(6, '0')}`;

async function existing(client: PoolClient, schema: string, d: DraftInput): Promise<string | undefined> {
  if (d.billSeq === null) return undefined;
  const r = await client.query<{ id: string }>(
    `SELECT id FROM ${schema}.invoices WHERE tenant = $1 AND account_id = $2 AND bill_seq = $3`,
    [d.tenant, d.accountId, d.billSeq],
  );
  return r.rows[0]?.id;
}

/** Writes a draft and its lines; returns its id (the existing one when the period has one). */
export async function insertDraft(client: PoolClient, schema: string, d: DraftInput): Promise<string> {
  const found = await existing(client, schema, d);
  if (found) return found;
  const f = d.figures;
  const id = randomUUID();
  const r = await client.query(
    `INSERT INTO ${schema}.invoices (id, tenant, account_id, bill_seq, document_type, status, series, timezone,
       payment_terms_days, period_start, period_end, cutoff_at, currency, subtotal_nano, discount_nano, tax_nano,
       total_nano, amount_due_nano, seller, buyer, tax_summary, needs_review)
     VALUES ($1, $2, $3, $4, $5, 'draft', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $17, $18, $19, $20)
     ON CONFLICT (tenant, account_id, bill_seq) DO NOTHING`,
    [
      id,
      d.tenant,
      d.accountId,
      d.billSeq,
      d.documentType,
      d.series ?? DEFAULT_SERIES[d.documentType],
      d.timezone ?? 'UTC',
      d.paymentTermsDays ?? 14,
      iso(d.periodStart),
      iso(d.periodEnd),
      iso(d.cutoffAt),
      d.currency,
      f.subtotalNano.toString(),
      f.discountNano.toString(),
      f.taxNano.toString(),
      f.totalNano.toString(),
      JSON.stringify(d.seller),
      JSON.stringify(d.buyer),
      JSON.stringify(
        f.taxSummary.map((t) => ({
          rate: rateText(t.rateMicros),
          baseNano: t.baseNano.toString(),
          taxNano: t.taxNano.toString(),
        })),
      ),
      d.needsReview ?? null,
    ],
  );
  if (r.rowCount === 0) return (await existing(client, schema, d))!; // written by a concurrent run
  const ls = f.lines;
  await client.query(
    `INSERT INTO ${schema}.invoice_lines (invoice_id, seq, kind, description, period_start, period_end, quantity,
       unit, amount_nano, exact_nano, tax_code, tax_rate, tax_nano, source)
     SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
       $7::numeric[], $8::text[], $9::bigint[], $10::numeric[], $11::text[], $12::numeric[], $13::bigint[], $14::jsonb[])`,
    [
      id,
      ls.map((l) => l.seq),
      ls.map((l) => l.kind),
      ls.map((l) => l.description),
      ls.map((l) => (l.periodStart === undefined ? null : iso(l.periodStart))),
      ls.map((l) => (l.periodEnd === undefined ? null : iso(l.periodEnd))),
      ls.map((l) => l.quantity ?? null),
      ls.map((l) => l.unit ?? null),
      ls.map((l) => l.amountNano.toString()),
      ls.map((l) => l.exactNano.toString()),
      ls.map((l) => l.taxCode ?? null),
      ls.map((l) => rateText(l.rateMicros)),
      ls.map((l) => l.taxNano.toString()),
      ls.map((l) => (l.source ? JSON.stringify(l.source) : null)),
    ],
  );
  return id;
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
