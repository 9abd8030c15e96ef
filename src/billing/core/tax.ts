/**
 * Tax rates and tax amounts on a document.
 *
 * A rate is a decimal fraction with at most 6 decimals ("0.20" is 20 %), held as `rateMicros`
 * (rate × 10^6). Two rounding modes: `per_rate` (default; EN 16931 BR-CO-17: each rate's tax is
 * round(Σ taxable amounts × rate), then allocated back to the lines by largest remainder so the line
 * taxes add up to it exactly) and `per_line` (each line's tax rounded, the rate's tax is their sum).
 */
import { divFloor, divRoundHalfUp, minorStepNano } from './currency.js';

export const RATE_SCALE = 1_000_000n;
const MAX_RATE_MICROS = 10n * RATE_SCALE;

export class RateFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RateFormatError';
  }
}

/** "0.20" → 200_000n. A fraction from 0 to 10 (excise taxes may pass 100 %) with ≤ 6 decimals. */
export function parseRate(text: string): bigint {
  const m = /^(\d{1,2})(?:\.(\d{1,6}))?$/.exec(text);
  if (m === null)
    throw new RateFormatError(`"${text}" is not a tax rate (a fraction such as "0.20", ≤ 6 decimals)`);
  const micros = BigInt(m[1]! + (m[2] ?? '').padEnd(6, '0'));
  if (micros > MAX_RATE_MICROS) throw new RateFormatError(`"${text}" is above the largest rate (10)`);
  return micros;
}

export interface DatedRate {
  code: string;
  /** First local date the rate applies, "YYYY-MM-DD". */
  validFrom: string;
  /** First local date it no longer applies (exclusive), if it ends. */
  validTo?: string;
  rateMicros: bigint;
  /** The rate's legal mention (e.g. the article a zero or reduced rate rests on), printed on the invoice. */
  legalText?: string;
}

/**
 * The rate of `code` in force on the tax point date ("YYYY-MM-DD"); the latest `validFrom` wins
 * when ranges overlap. ISO dates compare correctly as strings.
 */
export function rateInForce<R extends DatedRate>(
  rates: readonly R[],
  code: string,
  date: string,
): R | undefined {
  let best: R | undefined;
  for (const r of rates) {
    if (r.code !== code || r.validFrom > date || (r.validTo !== undefined && date >= r.validTo)) continue;
    if (best === undefined || r.validFrom > best.validFrom) best = r;
  }
  return best;
}

export type TaxMode = 'per_rate' | 'per_line';

export interface TaxableLine {
  /** Already rounded to the minor unit (may be negative: discounts, credits). */
  amountNano: bigint;
  rateMicros: bigint;
}

export interface TaxSummary {
  rateMicros: bigint;
  baseNano: bigint;
  taxNano: bigint;
  /** The legal mention(s) of this rate's lines (buildDocument); absent when there is none. */
  legalText?: string;
}

/** amount × rate rounded half-up to the minor unit, in nano. */
export function taxOf(amountNano: bigint, rateMicros: bigint, currency: string): bigint {
  const step = minorStepNano(currency);
  return divRoundHalfUp(amountNano * rateMicros, step * RATE_SCALE) * step;
}

/**
 * Hamilton's largest-remainder method: shares of `total` (minor units) proportional to the exact
 * products, each the floor of its product or one more; ties go to the earlier line.
 */
function allocate(exactScaled: bigint[], unitScaled: bigint, total: bigint): bigint[] {
  if (exactScaled.length === 1) return [total];
  const floors = exactScaled.map((e) => divFloor(e, unitScaled));
  let left = total;
  for (const f of floors) left -= f;
  if (left === 0n) return floors;
  const order = exactScaled
    .map((e, i) => ({ i, rest: e - floors[i]! * unitScaled }))
    .sort((a, b) => (a.rest === b.rest ? a.i - b.i : a.rest > b.rest ? -1 : 1));
  for (let j = 0; left > 0n; j++, left--) floors[order[j]!.i]! += 1n;
  return floors;
}

/** Line indexes by rate, rates highest first; checks each line on the way. */
function groupByRate(lines: readonly TaxableLine[], step: bigint): [bigint, number[]][] {
  const groups = new Map<bigint, number[]>();
  for (let i = 0; i < lines.length; i++) {
    const { amountNano, rateMicros } = lines[i]!;
    if (rateMicros < 0n) throw new RangeError('rateMicros must not be negative');
    if (amountNano % step !== 0n) throw new RangeError('line amounts must be rounded to the minor unit');
    const group = groups.get(rateMicros);
    if (group === undefined) groups.set(rateMicros, [i]);
    else group.push(i);
  }
  return [...groups].sort((a, b) => (a[0] > b[0] ? -1 : a[0] < b[0] ? 1 : 0));
}

/**
 * Line taxes and the per-rate summary (sorted by rate, highest first) under a rounding mode.
 * `inclusive` (prepaid statements): the amounts already include the tax, which is extracted as
 * round(gross × rate / (1 + rate)) by the same mode; the summary's base is then the net (gross − tax).
 */
export function taxLines(
  lines: readonly TaxableLine[],
  mode: TaxMode,
  currency: string,
  inclusive = false,
): { lineTaxNano: bigint[]; summary: TaxSummary[] } {
  const step = minorStepNano(currency);
  const lineTaxNano: bigint[] = new Array<bigint>(lines.length).fill(0n);
  const summary: TaxSummary[] = [];
  for (const [rateMicros, indexes] of groupByRate(lines, step)) {
    // tax = amount × rate / unit, in minor units
    const unit = (inclusive ? RATE_SCALE + rateMicros : RATE_SCALE) * step;
    let grossNano = 0n;
    for (const i of indexes) grossNano += lines[i]!.amountNano;
    let taxNano = 0n;
    if (mode === 'per_line') {
      for (const i of indexes) {
        taxNano += lineTaxNano[i] = divRoundHalfUp(lines[i]!.amountNano * rateMicros, unit) * step;
      }
    } else {
      taxNano = divRoundHalfUp(grossNano * rateMicros, unit) * step;
      const exact = indexes.map((i) => lines[i]!.amountNano * rateMicros);
      const shares = allocate(exact, unit, taxNano / step);
      indexes.forEach((i, j) => (lineTaxNano[i] = shares[j]! * step));
    }
    summary.push({ rateMicros, baseNano: inclusive ? grossNano - taxNano : grossNano, taxNano });
  }
  return { lineTaxNano, summary };
}

/** Tax included in a gross amount (prepaid statements): tax = round(gross × rate / (1 + rate)). */
export function inclusiveTax(
  grossNano: bigint,
  rateMicros: bigint,
  currency: string,
): { netNano: bigint; taxNano: bigint } {
  if (rateMicros < 0n) throw new RangeError('rateMicros must not be negative');
  const step = minorStepNano(currency);
  const taxNano = divRoundHalfUp(grossNano * rateMicros, (RATE_SCALE + rateMicros) * step) * step;
  return { netNano: grossNano - taxNano, taxNano };
}
