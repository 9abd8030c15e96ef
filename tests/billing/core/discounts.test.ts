/**
 * E.6 #12 — coupons apply to the fee before tax, in redemption order, each on what the previous
 * ones left, and never make the fee negative. (Which periods a `repeating` coupon covers is the
 * plans service's rule, tested with the plans.)
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { minorStepNano, parseMoney } from '../../../src/billing/core/currency.js';
import { applyCoupons, type Coupon } from '../../../src/billing/core/discounts.js';
import { buildDocument } from '../../../src/billing/core/document.js';

const gbp = (text: string): bigint => parseMoney(text, 'GBP');
const percent = (p: number): Coupon => ({ kind: 'percent', percentMicros: BigInt(Math.round(p * 1e6)) });
const fixed = (text: string): Coupon => ({ kind: 'fixed', amountNano: gbp(text) });

describe('coupons in order', () => {
  it('10 % then fixed 5.00 on 20.00: −2.00, −5.00, net 13.00; tax 20 % on the net', () => {
    const { discounts, netNano } = applyCoupons(gbp('20.00'), [percent(10), fixed('5.00')], 'GBP');
    expect(discounts).toEqual([gbp('-2.00'), gbp('-5.00')]);
    expect(netNano).toBe(gbp('13.00'));
    const doc = buildDocument(
      [
        { kind: 'fee', description: 'Plan', exactNano: gbp('20.00'), rateMicros: 200_000n },
        ...discounts.map((d) => ({
          kind: 'discount' as const,
          description: 'Coupon',
          exactNano: d,
          rateMicros: 200_000n,
        })),
      ],
      { currency: 'GBP', mode: 'per_rate' },
    );
    expect([doc.subtotalNano, doc.discountNano, doc.taxNano, doc.totalNano]).toEqual([
      gbp('20.00'),
      gbp('-7.00'),
      gbp('2.60'),
      gbp('15.60'),
    ]);
  });

  it('the order matters: fixed 5.00 then 10 % is −5.00, −1.50', () => {
    expect(applyCoupons(gbp('20.00'), [fixed('5.00'), percent(10)], 'GBP')).toEqual({
      discounts: [gbp('-5.00'), gbp('-1.50')],
      netNano: gbp('13.50'),
    });
  });

  it('never below zero: fixed 5.00 on 3.00 takes 3.00, the next coupon nothing', () => {
    expect(applyCoupons(gbp('3.00'), [fixed('5.00'), percent(10), fixed('1.00')], 'GBP')).toEqual({
      discounts: [gbp('-3.00'), 0n, 0n],
      netNano: 0n,
    });
  });

  it('a prorated fee is rounded to the minor unit first; percents round half-up', () => {
    expect(applyCoupons(7_004_999_999n, [percent(12.5)], 'GBP')).toEqual({
      discounts: [gbp('-0.88')],
      netNano: gbp('6.12'),
    });
    expect(applyCoupons(1_000_000_000_000n, [percent(33.3333)], 'JPY')).toEqual({
      discounts: [-333_000_000_000n],
      netNano: 667_000_000_000n,
    });
  });

  it('a credit or zero fee gets no discount', () => {
    expect(applyCoupons(gbp('-5.00'), [percent(10), fixed('1.00')], 'GBP')).toEqual({
      discounts: [0n, 0n],
      netNano: gbp('-5.00'),
    });
  });

  it('refuses a percent above 100 or a negative amount', () => {
    expect(() => applyCoupons(gbp('1.00'), [percent(100.01)], 'GBP')).toThrow(RangeError);
    expect(() => applyCoupons(gbp('1.00'), [fixed('-1.00')], 'GBP')).toThrow(RangeError);
  });

  it('each discount ≤ 0, net ≥ 0, fee + discounts = net, all in minor units (property)', () => {
    const coupon = fc.oneof(
      fc
        .integer({ min: 0, max: 100_000_000 })
        .map((p): Coupon => ({ kind: 'percent', percentMicros: BigInt(p) })),
      fc
        .bigInt({ min: 0n, max: 10n ** 12n })
        .map((minor): Coupon => ({ kind: 'fixed', amountNano: minor * 10_000_000n })),
    );
    fc.assert(
      fc.property(
        fc.constantFrom('GBP', 'BHD', 'JPY'),
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        fc.array(coupon, { maxLength: 5 }),
        (currency, fee, coupons) => {
          const step = minorStepNano(currency);
          const fixedCoupons = coupons.map((c) =>
            c.kind === 'fixed' ? { ...c, amountNano: (c.amountNano / step) * step } : c,
          );
          const { discounts, netNano } = applyCoupons(fee, fixedCoupons, currency);
          const rounded = ((fee * 2n + step) / (2n * step)) * step;
          expect(discounts).toHaveLength(coupons.length);
          expect(discounts.every((d) => d <= 0n && d % step === 0n)).toBe(true);
          expect(netNano >= 0n).toBe(true);
          expect(rounded + discounts.reduce((a, b) => a + b, 0n)).toBe(netNano);
        },
      ),
    );
  });
});
