/**
 * Reads of documents as the API shows them: money as decimal strings with the currency's minor
 * digits, dates as ISO. A customer (self-care) sees only its own account's documents: any other id
 * reads as unknown, like another tenant's.
 */
import type { Pool } from 'pg';
import { formatMoney } from '../core/currency.js';

export interface Reader {
  tenant: string;
  /** Self-care: the only account whose documents may be read. */
  accountId?: string;
}

const HEADER = `i.id, i.account_id AS "accountId", i.bill_seq AS "billSeq", i.document_type AS "documentType", i.status,
  i.series, i.number, i.issue_date::text AS "issueDate", i.due_date::text AS "dueDate", i.period_start AS "periodStart",
  i.period_end AS "periodEnd", i.cutoff_at AS "cutoffAt", i.currency, i.subtotal_nano::text AS "subtotalNano",
  i.discount_nano::text AS "discountNano", i.tax_nano::text AS "taxNano", i.total_nano::text AS "totalNano",
  i.amount_due_nano::text AS "amountDueNano", i.credited_nano::text AS "creditedNano", i.seller, i.buyer,
  i.tax_summary AS "taxSummary", i.document_hash AS "hash", i.prev_hash AS "prevHash", i.pdf_status AS "pdfStatus",
  i.needs_review AS "needsReview", i.created_at AS "createdAt", i.finalized_at AS "finalizedAt",
  i.voided_at AS "voidedAt", (extract(epoch FROM i.created_at) * 1000000)::bigint::text AS "createdMicros"`;

type HeaderRow = Record<string, unknown> & {
  id: string;
  currency: string;
  createdMicros: string;
  taxSummary: { rate: string | null; baseNano: string; taxNano: string; legalText?: string }[];
};

function presentHeader(r: HeaderRow) {
  const m = (k: string) => formatMoney(BigInt(r[k] as string), r.currency);
  const {
    createdMicros: _c,
    subtotalNano: _s,
    discountNano: _d,
    taxNano: _t,
    totalNano: _n,
    amountDueNano: _a,
    creditedNano: _cr,
    ...rest
  } = r;
  return {
    ...rest,
    subtotal: m('subtotalNano'),
    discount: m('discountNano'),
    tax: m('taxNano'),
    total: m('totalNano'),
    amountDue: m('amountDueNano'),
    credited: m('creditedNano'),
    taxSummary: r.taxSummary.map((t) => ({
      rate: t.rate,
      base: formatMoney(BigInt(t.baseNano), r.currency),
      tax: formatMoney(BigInt(t.taxNano), r.currency),
      legalText: t.legalText ?? null,
    })),
  };
}

const own = (who: Reader, first: number) =>
  who.accountId === undefined ? '' : ` AND i.account_id = $${first}`;
const ownArgs = (who: Reader) => (who.accountId === undefined ? [] : [who.accountId]);

export async function getInvoice(pool: Pool, schema: string, who: Reader, id: string) {
  const r = await pool.query<HeaderRow>(
    `SELECT ${HEADER}, i.canonical_json AS document FROM ${schema}.invoices i WHERE i.tenant = $1 AND i.id = $2${own(who, 3)}`,
    [who.tenant, id, ...ownArgs(who)],
  );
  const head = r.rows[0];
  if (!head) return undefined;
  const lines = await pool.query(
    `SELECT seq, kind, description, period_start AS "periodStart", period_end AS "periodEnd", quantity::text,
            unit, amount_nano::text AS "amountNano", tax_code AS "taxCode", tax_rate::text AS "taxRate",
            tax_nano::text AS "taxNano", source
       FROM ${schema}.invoice_lines WHERE invoice_id = $1 ORDER BY seq`,
    [id],
  );
  const notes = await pool.query(
    `SELECT id, number, kind, total_nano::text AS "totalNano", issue_date::text AS "issueDate"
       FROM ${schema}.credit_notes WHERE invoice_id = $1 ORDER BY number`,
    [id],
  );
  const m = (n: string) => formatMoney(BigInt(n), head.currency);
  return {
    ...presentHeader(head),
    lines: lines.rows.map(({ amountNano, taxNano, ...l }) => ({
      ...l,
      amount: m(amountNano),
      tax: m(taxNano),
    })),
    creditNotes: notes.rows.map(({ totalNano, ...n }) => ({
      ...n,
      total: m(totalNano),
      links: { self: `/v1/credit-notes/${n.id}` },
    })),
    links: { self: `/v1/invoices/${id}`, pdf: `/v1/invoices/${id}/pdf` },
  };
}

export interface ListQuery {
  account?: string;
  status?: string;
  /** Issue dates from and to (inclusive, YYYY-MM-DD); drafts have none and are left out then. */
  from?: string;
  to?: string;
  cursor?: string;
  limit: number;
}

export const cursorOf = (micros: string, id: string) => Buffer.from(`${micros}|${id}`).toString('base64url');

/** The cursor as the list wrote it, or undefined when it is not one (the route answers 400). */
export function parseCursor(cursor: string): [string, string] | undefined {
  const m = /^(\d{1,19})\|([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString());
  return m ? [m[1]!, m[2]!] : undefined;
}

/** Oldest first, keyset on (created_at, id): a page never repeats or skips a row. */
export async function listInvoices(pool: Pool, schema: string, who: Reader, q: ListQuery) {
  const where = ['i.tenant = $1'];
  const args: unknown[] = [who.tenant];
  const add = (sql: string, v: unknown) => {
    args.push(v);
    where.push(sql.replace('?', `$${args.length}`));
  };
  if (who.accountId !== undefined) add('i.account_id = ?', who.accountId);
  if (q.account !== undefined) add('i.account_id = ?', q.account);
  if (q.status !== undefined) add('i.status = ?', q.status);
  if (q.from !== undefined) add('i.issue_date >= ?::date', q.from);
  if (q.to !== undefined) add('i.issue_date <= ?::date', q.to);
  const after = q.cursor ? parseCursor(q.cursor) : undefined;
  if (after) {
    args.push(after[0], after[1]);
    where.push(
      `(i.created_at, i.id) > (to_timestamp($${args.length - 1}::numeric / 1000000), $${args.length}::uuid)`,
    );
  }
  args.push(q.limit + 1);
  const r = await pool.query<HeaderRow>(
    `SELECT ${HEADER} FROM ${schema}.invoices i WHERE ${where.join(' AND ')} ORDER BY i.created_at, i.id LIMIT $${args.length}`,
    args,
  );
  const page = r.rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    invoices: page.map(presentHeader),
    nextCursor: r.rows.length > q.limit && last ? cursorOf(last.createdMicros, last.id) : null,
  };
}

export async function getCreditNote(pool: Pool, schema: string, who: Reader, id: string) {
  const r = await pool.query(
    `SELECT n.id, n.invoice_id AS "invoiceId", i.account_id AS "accountId", n.series, n.number,
            n.issue_date::text AS "issueDate", n.reason, n.kind, n.effect, i.currency, n.subtotal_nano::text AS "subtotalNano",
            n.tax_nano::text AS "taxNano", n.total_nano::text AS "totalNano", n.document_hash AS hash,
            n.prev_hash AS "prevHash", n.pdf_status AS "pdfStatus", n.canonical_json AS document, n.created_at AS "createdAt"
       FROM ${schema}.credit_notes n JOIN ${schema}.invoices i ON i.id = n.invoice_id
      WHERE n.tenant = $1 AND n.id = $2${own(who, 3)}`,
    [who.tenant, id, ...ownArgs(who)],
  );
  const n = r.rows[0] as
    | (Record<string, unknown> & {
        currency: string;
        subtotalNano: string;
        taxNano: string;
        totalNano: string;
      })
    | undefined;
  if (!n) return undefined;
  const { subtotalNano, taxNano, totalNano, ...rest } = n;
  const m = (v: string) => formatMoney(BigInt(v), n.currency);
  return {
    ...rest,
    subtotal: m(subtotalNano),
    tax: m(taxNano),
    total: m(totalNano),
    links: {
      self: `/v1/credit-notes/${n.id as string}`,
      pdf: `/v1/credit-notes/${n.id as string}/pdf`,
      invoice: `/v1/invoices/${n.invoiceId as string}`,
    },
  };
}
