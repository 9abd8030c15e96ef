/**
 * Corrections of issued invoices: credit notes (partial, per line or by amount) and void (a full
 * credit note, kind `cancellation`). Numbered in their own series (default CN), hashed and chained
 * like invoices, immutable from the start. On an open invoice a note reduces what is due; on a paid
 * one it becomes account credit. The postCredit hook credits the postpaid balance in the same
 * transaction.
 */
import type { PoolClient } from 'pg';
import { formatMoney } from '../core/currency.js';
import { localDate } from '../core/local-time.js';
import { derivedId } from './ids.js';
import { canonicalCreditNote } from './canonical.js';
import {
  creditAll,
  creditByAmount,
  creditByLines,
  type CreditableLine,
  type CreditLine,
} from './credit-math.js';
import { journal } from './journal.js';
import { DEFAULT_SERIES, DocumentError, type DocumentHooks, type DocumentsDb } from './model.js';
import { lockSeries, saveSeries, takeNumber } from './series.js';
import { inTransaction } from './transaction.js';

export interface CreditRequest {
  lines?: { seq: number; amountNano: bigint }[];
  amountNano?: bigint;
  reason: string;
  effect?: 'reduce_due' | 'account_credit' | 'refund_record';
  reference: string;
  series?: string;
}

interface InvoiceHead {
  id: string;
  accountId: string;
  status: string;
  number: string | null;
  issueDate: string | null;
  currency: string;
  timezone: string;
  totalNano: string;
  amountDueNano: string;
  creditedNano: string;
  seller: unknown;
  buyer: unknown;
}

async function lockInvoice(
  client: PoolClient,
  schema: string,
  tenant: string,
  id: string,
): Promise<InvoiceHead> {
  const r = await client.query<InvoiceHead>(
    `SELECT id, account_id AS "accountId", status, number, issue_date::text AS "issueDate", currency, timezone,
            total_nano::text AS "totalNano", amount_due_nano::text AS "amountDueNano",
            credited_nano::text AS "creditedNano", seller, buyer
       FROM ${schema}.invoices WHERE tenant = $1 AND id = $2 FOR UPDATE`,
    [tenant, id],
  );
  const inv = r.rows[0];
  if (!inv) throw new DocumentError('NOT_FOUND', `no invoice ${id}`);
  if (inv.status === 'draft')
    throw new DocumentError('INVOICE_IS_DRAFT', `invoice ${id} is a draft: delete or refresh it`);
  if (inv.status === 'void') throw new DocumentError('INVOICE_IS_VOID', `invoice ${inv.number} is void`);
  return inv;
}

async function creditable(client: PoolClient, schema: string, id: string): Promise<CreditableLine[]> {
  const r = await client.query<Record<keyof CreditableLine, string> & { seq: number }>(
    `SELECT l.seq, l.description, l.amount_nano::text AS "amountNano", l.tax_nano::text AS "taxNano",
            l.tax_rate::text AS "taxRate", COALESCE(c.amount, 0)::text AS "creditedNano",
            COALESCE(c.tax, 0)::text AS "creditedTaxNano"
       FROM ${schema}.invoice_lines l
       LEFT JOIN (SELECT cl.invoice_line_seq AS seq, sum(cl.amount_nano) AS amount, sum(cl.tax_nano) AS tax
                    FROM ${schema}.credit_note_lines cl JOIN ${schema}.credit_notes n ON n.id = cl.credit_note_id
                   WHERE n.invoice_id = $1 GROUP BY cl.invoice_line_seq) c ON c.seq = l.seq
      WHERE l.invoice_id = $1 ORDER BY l.seq`,
    [id],
  );
  return r.rows.map((x) => ({
    seq: x.seq,
    description: x.description,
    taxRate: x.taxRate,
    amountNano: BigInt(x.amountNano),
    taxNano: BigInt(x.taxNano),
    creditedNano: BigInt(x.creditedNano),
    creditedTaxNano: BigInt(x.creditedTaxNano),
  }));
}

async function writeNote(
  client: PoolClient,
  schema: string,
  tenant: string,
  inv: InvoiceHead,
  credit: CreditLine[],
  req: CreditRequest & { kind: 'partial' | 'cancellation' },
  at: Date,
  hooks?: DocumentHooks,
) {
  const subtotalNano = credit.reduce((s, l) => s + l.amountNano, 0n);
  const taxNano = credit.reduce((s, l) => s + l.taxNano, 0n);
  const totalNano = subtotalNano + taxNano;
  const open = BigInt(inv.totalNano) - BigInt(inv.creditedNano);
  if (totalNano > open || (req.kind === 'partial' && totalNano <= 0n))
    throw new DocumentError('CREDIT_EXCEEDS_INVOICE', `the invoice has ${open} nano left to credit`);
  const due = BigInt(inv.amountDueNano);
  const effect = req.effect ?? (due > 0n && inv.status === 'finalized' ? 'reduce_due' : 'account_credit');
  const series = await lockSeries(
    client,
    schema,
    tenant,
    req.series ?? DEFAULT_SERIES.credit_note,
    'credit_note',
  );
  const issueDate = localDate(at.getTime(), inv.timezone);
  const { number } = takeNumber(series, Number(issueDate.slice(0, 4)));
  const c = canonicalCreditNote(
    {
      number,
      issueDate,
      invoiceNumber: inv.number!,
      invoiceDate: inv.issueDate!,
      currency: inv.currency,
      kind: req.kind,
      reason: req.reason,
      seller: inv.seller,
      buyer: inv.buyer,
      subtotalNano,
      taxNano,
      lines: credit.map((l, i) => ({ ...l, seq: i + 1 })),
    },
    series.lastHash,
  );
  // From the caller's reference (unique per tenant): a note whose commit failed after its credit
  // landed, asked again with that reference, credits nothing twice (credit-note:{id} replays).
  const id = derivedId('credit-note', tenant, req.reference);
  await client.query(
    `INSERT INTO ${schema}.credit_notes (id, tenant, invoice_id, series, number, issue_date, reason, kind, subtotal_nano,
       tax_nano, total_nano, effect, canonical_json, document_hash, prev_hash, reference, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
    [
      id,
      tenant,
      inv.id,
      series.code,
      number,
      issueDate,
      req.reason,
      req.kind,
      subtotalNano.toString(),
      taxNano.toString(),
      totalNano.toString(),
      effect,
      c.text,
      c.hash,
      series.lastHash,
      req.reference,
      at,
    ],
  );
  await client.query(
    `INSERT INTO ${schema}.credit_note_lines (credit_note_id, seq, invoice_line_seq, amount_nano, tax_nano)
     SELECT $1, * FROM unnest($2::int[], $3::int[], $4::bigint[], $5::bigint[])`,
    [
      id,
      credit.map((_, i) => i + 1),
      credit.map((l) => l.invoiceLineSeq),
      credit.map((l) => l.amountNano.toString()),
      credit.map((l) => l.taxNano.toString()),
    ],
  );
  series.lastHash = c.hash;
  await saveSeries(client, schema, tenant, series);
  const reduce = effect === 'reduce_due' ? (totalNano < due ? totalNano : due) : 0n;
  await client.query(
    `UPDATE ${schema}.invoices SET credited_nano = credited_nano + $2, amount_due_nano = amount_due_nano - $3,
            status = CASE WHEN $4 THEN 'void' ELSE status END, voided_at = CASE WHEN $4 THEN $5::timestamptz ELSE voided_at END
      WHERE id = $1`,
    [
      inv.id,
      totalNano.toString(),
      req.kind === 'cancellation' ? due.toString() : reduce.toString(),
      req.kind === 'cancellation',
      at,
    ],
  );
  const detail = {
    number,
    invoiceNumber: inv.number,
    total: totalNano.toString(),
    currency: inv.currency,
    effect,
    hash: c.hash,
  };
  await journal(client, schema, [
    {
      tenant,
      documentId: id,
      accountId: inv.accountId,
      action: 'issued',
      event: 'credit_note.issued',
      actor: 'api',
      at,
      detail,
    },
    ...(req.kind === 'cancellation'
      ? [
          {
            tenant,
            documentId: inv.id,
            accountId: inv.accountId,
            action: 'voided',
            event: 'invoice.voided',
            actor: 'api',
            at,
            detail: { creditNote: number, reason: req.reason },
          },
        ]
      : []),
  ]);
  await hooks?.postCredit?.(client, {
    id,
    tenant,
    invoiceId: inv.id,
    accountId: inv.accountId,
    number,
    currency: inv.currency,
    totalNano,
    effect,
  });
  const total = formatMoney(totalNano, inv.currency);
  return {
    id,
    number,
    invoiceId: inv.id,
    kind: req.kind,
    effect,
    totalNano,
    total,
    currency: inv.currency,
    hash: c.hash,
  };
}

export async function creditNoteIn(
  client: PoolClient,
  schema: string,
  tenant: string,
  invoiceId: string,
  req: CreditRequest,
  at: Date,
  hooks?: DocumentHooks,
) {
  const inv = await lockInvoice(client, schema, tenant, invoiceId);
  const lines = await creditable(client, schema, invoiceId);
  const credit = req.lines
    ? creditByLines(lines, req.lines, inv.currency)
    : creditByAmount(lines, req.amountNano ?? 0n, inv.currency);
  return writeNote(client, schema, tenant, inv, credit, { ...req, kind: 'partial' }, at, hooks);
}

/** Void = a cancellation note for everything left; refused once anything was paid (409). */
export async function voidIn(
  client: PoolClient,
  schema: string,
  tenant: string,
  invoiceId: string,
  req: Omit<CreditRequest, 'lines' | 'amountNano'>,
  at: Date,
  hooks?: DocumentHooks,
) {
  const inv = await lockInvoice(client, schema, tenant, invoiceId);
  if (inv.status === 'paid' || BigInt(inv.amountDueNano) + BigInt(inv.creditedNano) < BigInt(inv.totalNano))
    throw new DocumentError(
      'INVOICE_HAS_PAYMENTS',
      `invoice ${inv.number} has payments: credit it partially and refund`,
    );
  const credit = creditAll(await creditable(client, schema, invoiceId));
  return writeNote(
    client,
    schema,
    tenant,
    inv,
    credit,
    { ...req, effect: req.effect ?? 'reduce_due', kind: 'cancellation' },
    at,
    hooks,
  );
}

export const issueCreditNote = (
  db: DocumentsDb,
  tenant: string,
  invoiceId: string,
  req: CreditRequest,
  at: Date,
  hooks?: DocumentHooks,
) => inTransaction(db.pool, (c) => creditNoteIn(c, db.schema, tenant, invoiceId, req, at, hooks));

export const voidInvoice = (
  db: DocumentsDb,
  tenant: string,
  invoiceId: string,
  req: Omit<CreditRequest, 'lines' | 'amountNano'>,
  at: Date,
  hooks?: DocumentHooks,
) => inTransaction(db.pool, (c) => voidIn(c, db.schema, tenant, invoiceId, req, at, hooks));
