/**
 * E.6 #2 — proration by local days, exact and rounded once: 15.00 GBP from 2026-11-17 with bill
 * cycle day 1 is 14/30 of the fee = 7.00; JPY (no decimals) and BHD (3 decimals) examples; the
 * prorated pieces of a period add up to the whole within one minor unit per piece.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMoney, minorStepNano, parseMoney, roundToMinor } from '../../../src/billing/core/currency.js';
import { billPeriodAt } from '../../../src/billing/core/periods.js';
import {
  localDaysBetween,
  partialFee,
  prorate,
  prorateAllowance,
} from '../../../src/billing/core/proration.js';

/** The fee line of a plan assigned at `startIso`, as the document shows it. */
function firstPeriodFee(fee: string, currency: string, startIso: string, zone: string, quantity = 1): string {
  const start = Date.parse(startIso);
  const period = billPeriodAt(start, 1, zone);
  const active = localDaysBetween(start, period.end, zone);
  const whole = localDaysBetween(period.start, period.end, zone);
  const exact = prorate(parseMoney(fee, currency), quantity, active, whole);
  return formatMoney(roundToMinor(exact, currency), currency);
}

describe('proration examples', () => {
  it('15.00 GBP from 2026-11-17, cycle day 1: 14/30 of the fee = 7.00', () => {
    expect(
      localDaysBetween(
        Date.parse('2026-11-17T09:30:00Z'),
        Date.parse('2026-12-01T00:00:00Z'),
        'Europe/London',
      ),
    ).toBe(14);
    expect(firstPeriodFee('15.00', 'GBP', '2026-11-17T09:30:00Z', 'Europe/London')).toBe('7.00');
  });

  it('JPY has no minor digits: 3000 JPY × 19/28 from 2026-02-10 = 2035.71… → 2036', () => {
    expect(firstPeriodFee('3000', 'JPY', '2026-02-10T01:00:00Z', 'Asia/Tokyo')).toBe('2036');
  });

  it('BHD has three: 10.000 BHD × 14/30 = 4.6666… → 4.667; quantity 3 → 14.000', () => {
    expect(firstPeriodFee('10.000', 'BHD', '2026-11-17T08:00:00Z', 'Asia/Bahrain')).toBe('4.667');
    expect(firstPeriodFee('10.000', 'BHD', '2026-11-17T08:00:00Z', 'Asia/Bahrain', 3)).toBe('14.000');
  });

  it('counts local days: 23:30 UTC on 16 Nov is already the 17th in Madrid', () => {
    expect(firstPeriodFee('15.00', 'GBP', '2026-11-16T23:30:00Z', 'Europe/Madrid')).toBe('7.00');
    expect(firstPeriodFee('15.00', 'GBP', '2026-11-16T23:30:00Z', 'Europe/London')).toBe('7.50');
  });

  it('a DST month counts calendar days, not hours', () => {
    const march = billPeriodAt(Date.UTC(2026, 2, 10), 1, 'Europe/Madrid');
    expect(localDaysBetween(march.start, march.end, 'Europe/Madrid')).toBe(31);
  });

  it('policies: full charges the whole period, none nothing for a partial one', () => {
    const fee = parseMoney('15.00', 'GBP');
    expect(partialFee(fee, 1, 14, 30, 'prorate')).toBe(7_000_000_000n);
    expect(partialFee(fee, 2, 14, 30, 'full')).toBe(30_000_000_000n);
    expect(partialFee(fee, 1, 14, 30, 'none')).toBe(0n);
    expect(partialFee(fee, 1, 30, 30, 'none')).toBe(fee);
  });

  it('rounds the exact fraction once, half-up to the nano', () => {
    expect(prorate(10_000_000_000n, 1, 1, 3)).toBe(3_333_333_333n);
    expect(prorate(20_000_000_000n, 1, 1, 3)).toBe(6_666_666_667n);
    expect(prorate(-20_000_000_000n, 1, 1, 3)).toBe(-6_666_666_667n);
  });

  it('allowances floor to whole increments: 1 GiB × 14/30 in MiB', () => {
    const gib = 1024n ** 3n;
    expect(prorateAllowance(gib, 14, 30, 1024n ** 2n)).toBe(477n * 1024n ** 2n);
    expect(prorateAllowance(gib, 30, 30, 1024n ** 2n)).toBe(gib);
    expect(prorateAllowance(100n, 1, 3, 1n)).toBe(33n);
  });

  it('refuses impossible fractions and quantities', () => {
    expect(() => prorate(1n, -1, 1, 30)).toThrow(RangeError);
    expect(() => prorate(1n, 1, 31, 30)).toThrow(RangeError);
    expect(() => prorate(1n, 1, 1, 0)).toThrow(RangeError);
    expect(() => prorateAllowance(1n, 1, 30, 0n)).toThrow(RangeError);
    expect(() => localDaysBetween(2, 1, 'UTC')).toThrow(RangeError);
  });
});

describe('prorated pieces add up (property)', () => {
  it('pieces of a real period sum to the whole fee within one minor unit per piece', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('GBP', 'JPY', 'BHD'),
        fc.constantFrom('Europe/Madrid', 'Australia/Sydney', 'America/New_York', 'Asia/Tokyo'),
        fc.integer({ min: 1, max: 31 }),
        fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) }),
        fc.bigInt({ min: 0n, max: 10n ** 8n }),
        fc.integer({ min: 1, max: 1000 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
        (currency, zone, billCycleDay, at, feeMinor, quantity, cuts) => {
          const fee = feeMinor * minorStepNano(currency);
          const period = billPeriodAt(at, billCycleDay, zone);
          const instants = [
            period.start,
            ...cuts
              .map((c) => period.start + Math.floor(c * (period.end - period.start)))
              .sort((a, b) => a - b),
            period.end,
          ];
          const periodDays = localDaysBetween(period.start, period.end, zone);
          let sum = 0n;
          let days = 0;
          for (let i = 1; i < instants.length; i++) {
            const active = localDaysBetween(instants[i - 1]!, instants[i]!, zone);
            days += active;
            sum += roundToMinor(prorate(fee, quantity, active, periodDays), currency);
          }
          expect(days).toBe(periodDays);
          const pieces = BigInt(instants.length - 1);
          const whole = fee * BigInt(quantity);
          // One rounding per piece: at most half a minor unit (plus the nano rounding) each, so
          // well within the one minor unit per piece the acceptance test allows.
          const bound = pieces * (minorStepNano(currency) / 2n + 1n);
          const gap = sum - whole;
          expect(gap <= bound && gap >= -bound).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
