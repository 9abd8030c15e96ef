/**
 * E.6 #11 (the tax arithmetic) — per_rate rounds each rate's tax once from its base (EN 16931
 * BR-CO-17) and allocates it back to lines by largest remainder so line taxes add up; per_line
 * rounds each line; the Lago off-by-one shape (many small lines × 20 %); rates change by date.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { minorStepNano, parseMoney } from '../../../src/billing/core/currency.js';
import {
  RateFormatError,
  inclusiveTax,
  parseRate,
  rateInForce,
  taxLines,
} from '../../../src/billing/core/tax.js';

const gbp = (text: string): bigint => parseMoney(text, 'GBP');
const TWENTY = 200_000n;

describe('parseRate', () => {
  it.each([
    ['0.20', 200_000n],
    ['0', 0n],
    ['0.055', 55_000n],
    ['0.000001', 1n],
    ['1.5', 1_500_000n],
    ['10', 10_000_000n],
  ])('%s → %s micros', (text, micros) => expect(parseRate(text)).toBe(micros));

  it.each(['20%', '-0.1', '0.0000001', '.2', '', '10.000001', '11', '1e-1'])('%j is refused', (text) =>
    expect(() => parseRate(text)).toThrow(RateFormatError),
  );
});

describe('rateInForce', () => {
  const rates = [
    { code: 'VAT', validFrom: '2008-12-01', validTo: '2010-01-01', rateMicros: 150_000n },
    { code: 'VAT', validFrom: '2010-01-01', validTo: '2011-01-04', rateMicros: 175_000n },
    { code: 'VAT', validFrom: '2011-01-04', rateMicros: 200_000n },
    { code: 'REDUCED', validFrom: '1997-09-01', rateMicros: 50_000n },
  ];
  it.each([
    ['VAT', '2009-06-30', 150_000n],
    ['VAT', '2010-01-01', 175_000n],
    ['VAT', '2011-01-03', 175_000n],
    ['VAT', '2011-01-04', 200_000n],
    ['VAT', '2026-12-07', 200_000n],
    ['REDUCED', '2026-12-07', 50_000n],
  ])('%s on %s is %s micros (the change applies by tax point date)', (code, date, micros) =>
    expect(rateInForce(rates, code, date)?.rateMicros).toBe(micros),
  );
  it('answers undefined before the first rate and for an unknown code', () => {
    expect(rateInForce(rates, 'VAT', '2008-11-30')).toBeUndefined();
    expect(rateInForce(rates, 'GST', '2026-01-01')).toBeUndefined();
  });
});

describe('the Lago off-by-one shape: many small lines × 20 %', () => {
  const lines = Array.from({ length: 10 }, () => ({ amountNano: gbp('0.33'), rateMicros: TWENTY }));

  it('per_rate: the tax is round(3.30 × 20 %) = 0.66 and the line taxes add up to it', () => {
    const { lineTaxNano, summary } = taxLines(lines, 'per_rate', 'GBP');
    expect(summary).toEqual([{ rateMicros: TWENTY, baseNano: gbp('3.30'), taxNano: gbp('0.66') }]);
    expect(lineTaxNano.reduce((a, b) => a + b)).toBe(gbp('0.66'));
    // 0.066 each: six lines get 0.07, four 0.06 (ties go to the earlier lines).
    expect(lineTaxNano).toEqual([...Array(6).fill(gbp('0.07')), ...Array(4).fill(gbp('0.06'))]);
  });

  it('per_line: each 0.066 rounds to 0.07, so 0.70 — 4 pence more, as expected', () => {
    const { lineTaxNano, summary } = taxLines(lines, 'per_line', 'GBP');
    expect(lineTaxNano).toEqual(Array(10).fill(gbp('0.07')));
    expect(summary[0]!.taxNano - gbp('0.66')).toBe(gbp('0.04'));
  });

  it('per_rate equals round(base × rate) and every line tax is within one minor unit of exact (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('GBP', 'JPY', 'BHD'),
        fc.array(
          fc.record({
            minor: fc.bigInt({ min: -10_000n, max: 1_000_000n }),
            rate: fc.constantFrom(0n, 50_000n, 55_000n, TWENTY, 210_000n, 1n),
          }),
          { minLength: 1, maxLength: 200 },
        ),
        (currency, raw) => {
          const step = minorStepNano(currency);
          const input = raw.map((r) => ({ amountNano: r.minor * step, rateMicros: r.rate }));
          const { lineTaxNano, summary } = taxLines(input, 'per_rate', currency);
          for (const s of summary) {
            const of = input
              .map((l, i) => ({ ...l, tax: lineTaxNano[i]! }))
              .filter((l) => l.rateMicros === s.rateMicros);
            const base = of.reduce((a, l) => a + l.amountNano, 0n);
            expect(s.baseNano).toBe(base);
            // round half-up away from zero of base × rate, computed in minor units here
            const scaled = base * s.rateMicros; // nano × 10^6
            const unit = step * 1_000_000n;
            const twice = (2n * (scaled < 0n ? -scaled : scaled) + unit) / (2n * unit);
            expect(s.taxNano).toBe((scaled < 0n ? -twice : twice) * step);
            expect(of.reduce((a, l) => a + l.tax, 0n)).toBe(s.taxNano);
            for (const l of of) {
              const error = l.tax * 1_000_000n - l.amountNano * l.rateMicros;
              expect(error < unit && error > -unit).toBe(true);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('mixed rates and credits', () => {
  it('groups by rate (highest first) and allocates within a rate even with a negative line', () => {
    const { lineTaxNano, summary } = taxLines(
      [
        { amountNano: gbp('10.00'), rateMicros: TWENTY },
        { amountNano: gbp('5.55'), rateMicros: 50_000n },
        { amountNano: gbp('-1.01'), rateMicros: TWENTY },
        { amountNano: gbp('2.00'), rateMicros: 0n },
      ],
      'per_rate',
      'GBP',
    );
    expect(summary).toEqual([
      { rateMicros: TWENTY, baseNano: gbp('8.99'), taxNano: gbp('1.80') },
      { rateMicros: 50_000n, baseNano: gbp('5.55'), taxNano: gbp('0.28') },
      { rateMicros: 0n, baseNano: gbp('2.00'), taxNano: 0n },
    ]);
    expect(lineTaxNano).toEqual([gbp('2.00'), gbp('0.28'), gbp('-0.20'), 0n]);
  });

  it('refuses line amounts that are not rounded to the minor unit', () => {
    expect(() => taxLines([{ amountNano: 1n, rateMicros: TWENTY }], 'per_rate', 'GBP')).toThrow(RangeError);
  });
});

describe('inclusiveTax (prepaid statements)', () => {
  it.each([
    ['12.00', TWENTY, '10.00', '2.00'],
    ['10.00', TWENTY, '8.33', '1.67'],
    ['-10.00', TWENTY, '-8.33', '-1.67'],
    ['0.01', TWENTY, '0.01', '0.00'],
    ['0.06', TWENTY, '0.05', '0.01'],
  ])('%s gross at %s micros → net %s + tax %s', (gross, rate, net, tax) => {
    expect(inclusiveTax(gbp(gross), rate, 'GBP')).toEqual({ netNano: gbp(net), taxNano: gbp(tax) });
  });

  it('net + tax = gross, and the tax is the nearest minor unit to gross × rate / (1 + rate) (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }),
        fc.bigInt({ min: 0n, max: 10_000_000n }),
        (grossMinor, rate) => {
          const gross = grossMinor * 10_000_000n;
          const { netNano, taxNano } = inclusiveTax(gross, rate, 'GBP');
          expect(netNano + taxNano).toBe(gross);
          // |tax × (1 + rate) − gross × rate| ≤ half a minor unit × (1 + rate), in nano × micros
          const error = taxNano * (1_000_000n + rate) - gross * rate;
          const bound = 5_000_000n * (1_000_000n + rate);
          expect(error <= bound && error >= -bound).toBe(true);
        },
      ),
    );
  });
});
