/**
 * A bill's draft lines from what membership found (pure, no I/O): usage per (tor, category), late
 * usage, adjustments, applied charges — each with its tax code and rate from the account's tax
 * profile. The document arithmetic itself (rounding, taxes, totals) is the core's buildDocument.
 */
import type { DraftLine, LineKind } from '../core/document.js';
import { rateInForce, type DatedRate } from '../core/tax.js';
import type { ChargeRow, Corrects, UsageSum } from './membership.js';

/** A refusal that parks the account (billing.md E.3) with a machine-readable code. */
export class ParkError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface TaxContext {
  /** The profile's mapping: 'fee', 'one_off', 'tor:category' or 'tor:*' → tax code; null = no profile. */
  mapping: Record<string, string> | null;
  rates: readonly DatedRate[];
  /** The tax point: a local date "YYYY-MM-DD". */
  date: string;
}

const CHARGE_TAX_KEY: Record<ChargeRow['kind'], string> = {
  fee: 'fee',
  setup: 'fee',
  proration: 'fee',
  discount: 'fee',
  one_off: 'one_off',
  adjustment: 'one_off',
};

/**
 * The tax code, rate and the rate's legal mention of a line; a code without a rate in force at the
 * tax point parks the account.
 */
export function taxOf(
  ctx: TaxContext,
  keys: string[],
  explicit?: string | null,
): Pick<DraftLine, 'taxCode' | 'rateMicros' | 'legalText'> {
  const code = explicit ?? keys.map((k) => ctx.mapping?.[k]).find((c) => c !== undefined);
  if (!code) return {};
  const rate = rateInForce(ctx.rates, code, ctx.date);
  if (!rate) throw new ParkError('NO_TAX_RATE', `no rate of tax code ${code} in force on ${ctx.date}`);
  return rate.legalText
    ? { taxCode: code, rateMicros: rate.rateMicros, legalText: rate.legalText }
    : { taxCode: code, rateMicros: rate.rateMicros };
}

/**
 * The citation of the earlier invoice a late line corrects (a finalized invoice is never edited, it is
 * corrected on the next one); without that period's issued invoice, the period alone.
 */
function cited(description: string, kind: LineKind, c: Corrects | null): string {
  if (!c) return kind === 'late_usage' ? `${description} (earlier period)` : description;
  const period = `${c.startDate} to ${c.endDate}`;
  return `${description} (${c.invoiceNumber ? `corrects invoice ${c.invoiceNumber}, ` : 'period '}${period})`;
}

function usageLine(u: UsageSum, ctx: TaxContext): DraftLine {
  const kind: LineKind =
    u.source === 'adjustment'
      ? 'adjustment'
      : u.late
        ? 'late_usage'
        : u.chargedNano === 0n
          ? 'usage_included'
          : 'usage';
  const what = `${u.tor} ${u.category}`;
  const description =
    kind === 'adjustment'
      ? `${u.reason === 'rerate' ? 'Rerated' : 'Late reported'} ${what}`
      : kind === 'late_usage'
        ? `Late ${what}`
        : kind === 'usage_included'
          ? `${what} (included)`
          : what;
  const c = u.corrects;
  return {
    kind,
    description: cited(description, kind, c),
    // A corrected period is the line's period: the canonical JSON, CSV and PDF name it with the invoice.
    ...(c ? { periodStart: c.start, periodEnd: c.end } : {}),
    quantity: String(u.count),
    unit: 'records',
    exactNano: u.chargedNano,
    ...taxOf(ctx, [`${u.tor}:${u.category}`, `${u.tor}:*`, 'usage']),
    source: {
      source: u.source,
      tor: u.tor,
      category: u.category,
      usage: u.usage,
      ...(u.reason ? { reason: u.reason } : {}),
      ...(c
        ? {
            corrects: {
              invoice_number: c.invoiceNumber,
              bill_seq: c.billSeq,
              start_date: c.startDate,
              end_date: c.endDate,
            },
          }
        : {}),
    },
  };
}

function chargeLine(c: ChargeRow, ctx: TaxContext): DraftLine {
  return {
    kind: c.kind === 'adjustment' ? 'adjustment' : c.kind,
    description: c.description,
    ...(c.serviceStart ? { periodStart: c.serviceStart.getTime() } : {}),
    ...(c.serviceEnd ? { periodEnd: c.serviceEnd.getTime() } : {}),
    ...(c.quantity !== null ? { quantity: c.quantity } : {}),
    exactNano: c.amountNano,
    ...taxOf(ctx, [CHARGE_TAX_KEY[c.kind]], c.taxCode),
    source: { charge: c.id },
  };
}

/** CDRs and rated records of the same (tor, category, late) as one sum (adjustments by reason). */
function merged(usage: UsageSum[]): UsageSum[] {
  const by = new Map<string, UsageSum>();
  for (const u of usage) {
    const key = `${u.source === 'adjustment' ? `a:${u.reason}` : 'u'}|${u.late}|${u.tor}|${u.category}|${u.corrects?.billSeq ?? ''}`;
    const seen = by.get(key);
    if (!seen) by.set(key, { ...u });
    else {
      seen.count += u.count;
      seen.usage = (BigInt(seen.usage.split('.')[0]!) + BigInt(u.usage.split('.')[0]!)).toString();
      seen.chargedNano += u.chargedNano;
    }
  }
  return [...by.values()];
}

/**
 * The lines of one bill: charges first (fees, setup, proration, discounts, one-offs in the order
 * they were made), then usage by (tor, category), late usage, adjustments. Refuses a charge in
 * another currency than the account's (CURRENCY_MISMATCH).
 */
export function billLines(
  usage: UsageSum[],
  charges: ChargeRow[],
  currency: string,
  ctx: TaxContext,
): DraftLine[] {
  for (const c of charges)
    if (c.currency.trim() !== currency)
      throw new ParkError(
        'CURRENCY_MISMATCH',
        `charge ${c.id} is in ${c.currency}, the account in ${currency}`,
      );
  const rank = (u: UsageSum) => (u.source === 'adjustment' ? 2 : u.late ? 1 : 0);
  // Then by the period corrected: rows of one (tor, category) from two earlier periods are two lines,
  // in the same order whatever order the sums were read in (a rerun's document is hash-equal).
  const sorted = merged(usage).sort(
    (a, b) => rank(a) - rank(b) || (a.corrects?.billSeq ?? 0) - (b.corrects?.billSeq ?? 0),
  );
  return [...charges.map((c) => chargeLine(c, ctx)), ...sorted.map((u) => usageLine(u, ctx))];
}
