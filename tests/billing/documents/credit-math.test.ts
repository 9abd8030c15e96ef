/**
 * The credit arithmetic (pure), as a property over random invoices and random sequences of partial
 * credits: a line is never credited beyond its amount or its tax, a refusal comes exactly when the
 * ask passes what is left, and voiding what is left after any partial notes gives back the
 * invoice's total to the nano.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { taxOf } from '../../../src/billing/core/tax.js';
import {
  creditAll,
  creditByAmount,
  creditByLines,
  type CreditableLine,
} from '../../../src/billing/documents/credit-math.js';
import { DocumentError } from '../../../src/billing/documents/model.js';

const CENT = 10_000_000n; // GBP minor unit in nano
const RATES = ['0.200000', '0.050000', '0.000000', null] as const;
const micros = (r: string | null) => (r === null ? 0n : BigInt(r.replace('.', '')));

const lineArb = fc.record({
  cents: fc.bigInt({ min: -5_000n, max: 2_000_000n }),
  rate: fc.constantFrom(...RATES),
});
const askArb = fc.oneof(
  fc.record({
    kind: fc.constant('lines' as const),
    index: fc.nat(20),
    cents: fc.bigInt({ min: 1n, max: 2_000_000n }),
  }),
  fc.record({ kind: fc.constant('amount' as const), cents: fc.bigInt({ min: 1n, max: 4_000_000n }) }),
);

function invoiceOf(lines: { cents: bigint; rate: string | null }[]): CreditableLine[] {
  return lines.map((l, i) => {
    const amountNano = l.cents * CENT;
    return {
      seq: i + 1,
      description: `line ${i + 1}`,
      amountNano,
      taxNano: taxOf(amountNano, micros(l.rate), 'GBP'),
      taxRate: l.rate,
      creditedNano: 0n,
      creditedTaxNano: 0n,
    };
  });
}

describe('credit arithmetic', () => {
  it('never credits past a line, refuses exactly past it, and a void returns the whole total', () => {
    fc.assert(
      fc.property(
        fc.array(lineArb, { minLength: 1, maxLength: 12 }),
        fc.array(askArb, { maxLength: 15 }),
        (ls, asks) => {
          const inv = invoiceOf(ls);
          for (const ask of asks) {
            const before = inv.map((l) => ({ ...l }));
            try {
              const credit =
                ask.kind === 'lines'
                  ? creditByLines(
                      inv,
                      [{ seq: (ask.index % inv.length) + 1, amountNano: ask.cents * CENT }],
                      'GBP',
                    )
                  : creditByAmount(inv, ask.cents * CENT, 'GBP');
              for (const c of credit) {
                const l = inv[c.invoiceLineSeq - 1]!;
                l.creditedNano += c.amountNano;
                l.creditedTaxNano += c.taxNano;
              }
            } catch (err) {
              expect(err).toBeInstanceOf(DocumentError);
              expect((err as DocumentError).code).toBe('CREDIT_EXCEEDS_INVOICE');
              const left = (l: CreditableLine) => l.amountNano - l.creditedNano;
              if (ask.kind === 'lines')
                expect(ask.cents * CENT).toBeGreaterThan(left(inv[ask.index % inv.length]!));
              else
                expect(ask.cents * CENT).toBeGreaterThan(
                  inv.reduce((s, l) => s + (left(l) > 0n ? left(l) : 0n), 0n),
                );
              expect(inv).toEqual(before); // a refusal credits nothing
            }
            for (const l of inv) {
              if (l.amountNano >= 0n) expect(l.creditedNano).toBeLessThanOrEqual(l.amountNano);
              if (l.taxNano >= 0n) expect(l.creditedTaxNano).toBeLessThanOrEqual(l.taxNano);
              expect(l.creditedNano % CENT).toBe(0n);
              expect(l.creditedTaxNano % CENT).toBe(0n);
            }
          }
          const rest = creditAll(inv);
          const credited = (k: 'creditedNano' | 'creditedTaxNano') => inv.reduce((s, l) => s + l[k], 0n);
          const sum = (k: 'amountNano' | 'taxNano') => inv.reduce((s, l) => s + l[k], 0n);
          expect(credited('creditedNano') + rest.reduce((s, c) => s + c.amountNano, 0n)).toBe(
            sum('amountNano'),
          );
          expect(credited('creditedTaxNano') + rest.reduce((s, c) => s + c.taxNano, 0n)).toBe(sum('taxNano'));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('recomputes a partial line tax from its rate, half-up to the minor unit', () => {
    const inv = invoiceOf([{ cents: 1_000n, rate: '0.200000' }]); // 10.00, tax 2.00
    const [c] = creditByLines(inv, [{ seq: 1, amountNano: 333n * CENT }], 'GBP'); // 3.33 → 0.666 → 0.67
    expect(c).toMatchObject({ amountNano: 333n * CENT, taxNano: 67n * CENT });
  });
});
