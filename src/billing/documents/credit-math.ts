/**
 * What a credit note takes off each invoice line, pure. A line can be credited at most what is left
 * of it after earlier notes (net and tax apart). Tax is recomputed from the line's rate and rounded
 * half-up to the currency's minor unit, capped at the line's tax left; crediting all that is left
 * of a line takes all its tax left, so a full credit gives back the invoice's total exactly.
 */
import { parseRate, taxOf } from '../core/tax.js';
import { DocumentError } from './model.js';

export interface CreditableLine {
  seq: number;
  description: string;
  amountNano: bigint;
  taxNano: bigint;
  taxRate: string | null;
  creditedNano: bigint;
  creditedTaxNano: bigint;
}

export interface CreditLine {
  invoiceLineSeq: number;
  description: string;
  amountNano: bigint;
  taxNano: bigint;
  taxRate: string | null;
}

function creditOne(l: CreditableLine, amountNano: bigint, currency: string): CreditLine {
  const left = l.amountNano - l.creditedNano;
  const taxLeft = l.taxNano - l.creditedTaxNano;
  if (amountNano <= 0n || amountNano > left)
    throw new DocumentError('CREDIT_EXCEEDS_INVOICE', `line ${l.seq}: ${left} nano is left to credit`, {
      seq: l.seq,
    });
  const computed = l.taxRate === null ? 0n : taxOf(amountNano, parseRate(l.taxRate), currency);
  const taxNano = amountNano === left ? taxLeft : computed < taxLeft ? computed : taxLeft;
  return { invoiceLineSeq: l.seq, description: l.description, amountNano, taxNano, taxRate: l.taxRate };
}

/** Credits the given amounts of the given lines (seq → net amount, positive). */
export function creditByLines(
  lines: CreditableLine[],
  asked: { seq: number; amountNano: bigint }[],
  currency: string,
) {
  const bySeq = new Map(lines.map((l) => [l.seq, l]));
  const seen = new Set<number>();
  return asked.map((a) => {
    const l = bySeq.get(a.seq);
    if (!l) throw new DocumentError('INVALID_REQUEST', `the invoice has no line ${a.seq}`, { seq: a.seq });
    if (seen.has(a.seq)) throw new DocumentError('INVALID_REQUEST', `line ${a.seq} is named twice`);
    seen.add(a.seq);
    return creditOne(l, a.amountNano, currency);
  });
}

/** Credits a net amount taken from the lines in order, each up to what is left of it. */
export function creditByAmount(lines: CreditableLine[], amountNano: bigint, currency: string): CreditLine[] {
  const out: CreditLine[] = [];
  let rest = amountNano;
  for (const l of lines) {
    const left = l.amountNano - l.creditedNano;
    if (rest <= 0n || left <= 0n) continue;
    const take = left < rest ? left : rest;
    out.push(creditOne(l, take, currency));
    rest -= take;
  }
  if (amountNano <= 0n || rest > 0n)
    throw new DocumentError('CREDIT_EXCEEDS_INVOICE', `${amountNano - rest} nano is left to credit`);
  return out;
}

/** Everything left of every line (a cancellation), negative lines (discounts) included. */
export function creditAll(lines: CreditableLine[]): CreditLine[] {
  return lines
    .filter((l) => l.amountNano !== l.creditedNano || l.taxNano !== l.creditedTaxNano)
    .map((l) => ({
      invoiceLineSeq: l.seq,
      description: l.description,
      amountNano: l.amountNano - l.creditedNano,
      taxNano: l.taxNano - l.creditedTaxNano,
      taxRate: l.taxRate,
    }));
}
