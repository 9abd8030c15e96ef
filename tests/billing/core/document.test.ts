/**
 * E.6 #11 (the document) — EN 16931 arithmetic (BR-CO-10, 13–17 style) holds on 1,000 random
 * documents, checked twice: by the production checker and by an independent decimal.js model of
 * the rules. Exempt documents carry no tax; totals past 2^53 nano stay exact; canonical JSON and
 * its hash are stable.
 */
import fc from 'fast-check';
import { Decimal as BaseDecimal } from 'decimal.js';
import { describe, expect, it } from 'vitest';
import { minorExponent, nanoToDecimal, parseMoney } from '../../../src/billing/core/currency.js';
import {
  buildDocument,
  canonicalJson,
  checkDocument,
  documentHash,
  type DraftLine,
  type LineKind,
} from '../../../src/billing/core/document.js';

/** Enough digits that the model never rounds by accident (the default is 20 significant digits). */
const Decimal = BaseDecimal.clone({ precision: 80 });
type Decimal = BaseDecimal;

const KINDS: LineKind[] = [
  'fee',
  'setup',
  'proration',
  'usage',
  'usage_included',
  'one_off',
  'discount',
  'adjustment',
  'late_usage',
];
const RATES = ['0', '0.05', '0.055', '0.1', '0.2', '0.21', '0.000001'];

const lineArb = fc.record({
  kind: fc.constantFrom(...KINDS),
  exact: fc.bigInt({ min: -(10n ** 12n), max: 10n ** 14n }),
  rate: fc.constantFrom(...RATES),
});

/** The rules written out in decimals, independently of src/billing/core. */
function model(
  lines: { kind: LineKind; exact: bigint; rate: string }[],
  currency: string,
  mode: string,
  exempt: boolean,
  inclusive: boolean,
) {
  const exponent = minorExponent(currency)!;
  const round = (d: Decimal): Decimal => d.toDecimalPlaces(exponent, Decimal.ROUND_HALF_UP);
  const amounts = lines.map((l) => round(new Decimal(nanoToDecimal(l.exact))));
  const rates = lines.map((l) => new Decimal(exempt ? '0' : l.rate));
  // Exclusive: tax = amount × rate. Inclusive (tax inside the amount): amount × rate / (1 + rate).
  const factor = (rate: Decimal): Decimal => (inclusive ? rate.div(rate.plus(1)) : rate);
  const byRate = new Map<string, { base: Decimal; lineTax: Decimal }>();
  lines.forEach((_, i) => {
    const key = rates[i]!.toString();
    const g = byRate.get(key) ?? { base: new Decimal(0), lineTax: new Decimal(0) };
    byRate.set(key, {
      base: g.base.plus(amounts[i]!),
      lineTax: g.lineTax.plus(round(amounts[i]!.times(factor(rates[i]!)))),
    });
  });
  let tax = new Decimal(0);
  for (const [rate, g] of byRate) {
    tax = tax.plus(mode === 'per_rate' ? round(g.base.times(factor(new Decimal(rate)))) : g.lineTax);
  }
  const sumOf = (pick: (k: LineKind) => boolean) =>
    amounts.filter((_, i) => pick(lines[i]!.kind)).reduce((a, b) => a.plus(b), new Decimal(0));
  const subtotal = sumOf((k) => k !== 'discount');
  const discount = sumOf((k) => k === 'discount');
  return { subtotal, discount, tax, total: subtotal.plus(discount).plus(inclusive ? 0 : tax) };
}

const dec = (nano: bigint): string => new Decimal(nanoToDecimal(nano)).toString();

describe('EN 16931 arithmetic on 1,000 random documents (property)', () => {
  it('lines round once, per-rate taxes come from the rate base, everything adds up', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('GBP', 'EUR', 'JPY', 'BHD', 'CLP'),
        fc.constantFrom('per_rate' as const, 'per_line' as const),
        fc.boolean(),
        fc.boolean(),
        fc.array(lineArb, { minLength: 0, maxLength: 40 }),
        (currency, mode, exempt, inclusive, raw) => {
          const draft: DraftLine[] = raw.map((l, i) => ({
            kind: l.kind,
            description: `line ${i}`,
            exactNano: l.exact,
            rateMicros: BigInt(new Decimal(l.rate).times(1e6).toFixed(0)),
          }));
          const opts = { currency, mode, exempt, inclusive };
          const doc = buildDocument(draft, opts);
          expect(checkDocument(doc, opts)).toEqual([]);
          const m = model(raw, currency, mode, exempt, inclusive);
          expect([
            dec(doc.subtotalNano),
            dec(doc.discountNano),
            dec(doc.taxNano),
            dec(doc.totalNano),
          ]).toEqual([m.subtotal.toString(), m.discount.toString(), m.tax.toString(), m.total.toString()]);
          expect(doc.lines.map((l) => l.seq)).toEqual(draft.map((_, i) => i + 1));
          if (exempt) expect(doc.taxNano).toBe(0n);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('the checker notices a broken document', () => {
    const opts = { currency: 'GBP', mode: 'per_rate' as const };
    const doc = buildDocument(
      [{ kind: 'fee', description: 'Plan', exactNano: 10_000_000_000n, rateMicros: 200_000n }],
      opts,
    );
    expect(checkDocument({ ...doc, taxNano: doc.taxNano + 10_000_000n }, opts)).toContain('BR-CO-14');
    expect(checkDocument({ ...doc, totalNano: doc.totalNano - 10_000_000n }, opts)).toContain('BR-CO-15');
    const bumped = doc.lines.map((l) => ({ ...l, taxNano: l.taxNano + 10_000_000n }));
    expect(checkDocument({ ...doc, lines: bumped }, opts)).toContain('line taxes add up');
  });
});

describe('a prepaid statement with tax included', () => {
  it('extracts the tax per rate: 12.00 + 10.00 gross at 20 % → tax 3.67, net 18.33, total 22.00', () => {
    const opts = { currency: 'GBP', mode: 'per_rate' as const, inclusive: true };
    const doc = buildDocument(
      [
        { kind: 'fee', description: 'Plan', exactNano: 12_000_000_000n, rateMicros: 200_000n },
        { kind: 'usage', description: 'data', exactNano: 10_000_000_000n, rateMicros: 200_000n },
      ],
      opts,
    );
    expect(doc.taxSummary).toEqual([
      { rateMicros: 200_000n, baseNano: 18_330_000_000n, taxNano: 3_670_000_000n },
    ]);
    expect(doc.lines.map((l) => l.taxNano)).toEqual([2_000_000_000n, 1_670_000_000n]);
    expect([doc.subtotalNano, doc.taxNano, doc.totalNano]).toEqual([
      22_000_000_000n,
      3_670_000_000n,
      22_000_000_000n,
    ]);
    expect(checkDocument(doc, opts)).toEqual([]);
  });
});

describe('a document in JPY past 2^53 nano', () => {
  it('totals 500 lines of 98,765 JPY + 10 % exactly', () => {
    const line = parseMoney('98765', 'JPY');
    const draft: DraftLine[] = Array.from({ length: 500 }, (_, i) => ({
      kind: 'usage',
      description: `site ${i}`,
      exactNano: line,
      rateMicros: 100_000n,
    }));
    const doc = buildDocument(draft, { currency: 'JPY', mode: 'per_rate' });
    expect(doc.totalNano > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(nanoToDecimal(doc.subtotalNano)).toBe('49382500');
    expect(nanoToDecimal(doc.taxNano)).toBe('4938250');
    expect(nanoToDecimal(doc.totalNano)).toBe('54320750');
  });
});

describe('canonical JSON and hash', () => {
  it('sorts keys at every depth, drops undefined, no whitespace', () => {
    const text = canonicalJson({
      b: 1,
      a: { d: [true, null, 'é'], c: 'x' },
      z: undefined,
      invoice_number: 'INV-1',
    });
    expect(text).toBe('{"a":{"c":"x","d":[true,null,"é"]},"b":1,"invoice_number":"INV-1"}');
    expect(canonicalJson({ total_amount: '7.00', date: '2026-12-01' })).toBe(
      canonicalJson({ date: '2026-12-01', total_amount: '7.00' }),
    );
  });

  it('writes any JSON value as the plain model does: keys sorted by code unit, undefined left out', () => {
    // The model: the first, obviously right implementation; the engine's is a faster rewrite.
    const model = (v: unknown): string => {
      if (v === null || typeof v !== 'object') return JSON.stringify(v);
      if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : model(x))).join(',')}]`;
      const entries = Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${model(x)}`).join(',')}}`;
    };
    const text = fc.string({ unit: 'binary' });
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.integer(),
        text,
        fc.array(tie('v')),
        fc.dictionary(text, fc.option(tie('v'), { nil: undefined }), { noNullPrototype: true }),
      ),
    })).v;
    fc.assert(
      fc.property(value, (v) => canonicalJson(v) === model(v)),
      { numRuns: 2000 },
    );
  });

  it('refuses values that are not plain JSON data', () => {
    expect(() => canonicalJson({ total: 1n })).toThrow(TypeError);
    expect(() => canonicalJson({ at: new Date(0) })).toThrow(TypeError);
    expect(() => canonicalJson([Number.NaN])).toThrow(TypeError);
  });

  it('hashes UTF-8 with SHA-256 (known vectors)', () => {
    expect(documentHash('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(documentHash('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});
