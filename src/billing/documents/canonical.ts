/**
 * The canonical JSON of an issued document: what is hashed, stored, exported and rendered to PDF.
 * Field names are the CRM's invoice-template vocabulary (`invoice_number`, `date`, `due_date`,
 * `start_date`, `end_date`, `total_amount` before tax, `total_tax`); money as decimal strings with
 * exactly the currency's minor digits. The hash is SHA-256 of the canonical text, which carries the
 * previous document's hash of the series (`prev_hash`), so the series is a chain. Pure: no I/O.
 */
import { canonicalJson, documentHash } from '../core/document.js';
import { formatMoney } from '../core/currency.js';

export interface HeaderForCanonical {
  documentType: 'invoice' | 'statement';
  number: string;
  issueDate: string;
  dueDate: string;
  startDate: string;
  endDate: string;
  currency: string;
  subtotalNano: bigint;
  discountNano: bigint;
  taxNano: bigint;
  totalNano: bigint;
  seller: unknown;
  buyer: unknown;
  taxSummary: { rate: string | null; baseNano: string; taxNano: string; legalText?: string }[];
}

export interface LineForCanonical {
  seq: number;
  kind: string;
  description: string;
  periodStart: Date | null;
  periodEnd: Date | null;
  quantity: string | null;
  unit: string | null;
  amountNano: bigint;
  taxCode: string | null;
  taxRate: string | null;
  taxNano: bigint;
}

export interface Canonical {
  value: Record<string, unknown>;
  text: string;
  hash: string;
}

function sealed(value: Record<string, unknown>): Canonical {
  const text = canonicalJson(value);
  return { value, text, hash: documentHash(text) };
}

export function canonicalInvoice(h: HeaderForCanonical, lines: LineForCanonical[], prevHash: string | null) {
  const m = (n: bigint) => formatMoney(n, h.currency);
  return sealed({
    document_type: h.documentType,
    invoice_number: h.number,
    date: h.issueDate,
    due_date: h.dueDate,
    start_date: h.startDate,
    end_date: h.endDate,
    currency: h.currency,
    subtotal: m(h.subtotalNano),
    discount: m(h.discountNano),
    total_amount: m(h.totalNano - h.taxNano),
    total_tax: m(h.taxNano),
    total: m(h.totalNano),
    amount_due: m(h.totalNano),
    seller: h.seller,
    client: h.buyer,
    lines: lines.map((l) => ({
      seq: l.seq,
      kind: l.kind,
      description: l.description,
      period:
        l.periodStart && l.periodEnd
          ? { start: l.periodStart.toISOString(), end: l.periodEnd.toISOString() }
          : null,
      quantity: l.quantity,
      unit: l.unit,
      amount: m(l.amountNano),
      tax_code: l.taxCode,
      tax_rate: l.taxRate,
      tax: m(l.taxNano),
    })),
    tax_summary: h.taxSummary.map((t) => ({
      rate: t.rate,
      base: m(BigInt(t.baseNano)),
      tax: m(BigInt(t.taxNano)),
      legal_text: t.legalText ?? null,
    })),
    prev_hash: prevHash,
  });
}

export interface CreditNoteForCanonical {
  number: string;
  issueDate: string;
  invoiceNumber: string;
  invoiceDate: string;
  currency: string;
  kind: 'partial' | 'cancellation';
  reason: string;
  seller: unknown;
  buyer: unknown;
  lines: {
    seq: number;
    invoiceLineSeq: number;
    description: string;
    amountNano: bigint;
    taxRate: string | null;
    taxNano: bigint;
  }[];
  subtotalNano: bigint;
  taxNano: bigint;
}

/** A credit note's amounts are positive: what is taken off the invoice it names. */
export function canonicalCreditNote(c: CreditNoteForCanonical, prevHash: string | null) {
  const m = (n: bigint) => formatMoney(n, c.currency);
  return sealed({
    document_type: 'credit_note',
    credit_note_number: c.number,
    date: c.issueDate,
    invoice_number: c.invoiceNumber,
    invoice_date: c.invoiceDate,
    currency: c.currency,
    kind: c.kind,
    reason: c.reason,
    seller: c.seller,
    client: c.buyer,
    lines: c.lines.map((l) => ({
      seq: l.seq,
      invoice_line_seq: l.invoiceLineSeq,
      description: l.description,
      amount: m(l.amountNano),
      tax_rate: l.taxRate,
      tax: m(l.taxNano),
    })),
    total_amount: m(c.subtotalNano),
    total_tax: m(c.taxNano),
    total: m(c.subtotalNano + c.taxNano),
    prev_hash: prevHash,
  });
}
