/**
 * Money on billing documents: ISO 4217 minor units, strict parsing (more decimals than the currency
 * allows is refused), half-up rounding away from zero, formatting, and exact totals past 2^53 nano.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MoneyFormatError,
  formatMoney,
  minorExponent,
  nanoToDecimal,
  parseMoney,
  roundToMinor,
} from '../../../src/billing/core/currency.js';

describe('minorExponent', () => {
  it.each([
    ['GBP', 2],
    ['EUR', 2],
    ['JPY', 0],
    ['CLP', 0],
    ['KRW', 0],
    ['BHD', 3],
    ['KWD', 3],
    ['CLF', 4],
  ])('%s has %i decimals', (code, exponent) => expect(minorExponent(code)).toBe(exponent));

  it.each(['gbp', 'XXX', 'GB', ''])('%j is unknown', (code) => expect(minorExponent(code)).toBeUndefined());
});

describe('parseMoney', () => {
  it.each([
    ['15.00', 'GBP', 15_000_000_000n],
    ['15', 'GBP', 15_000_000_000n],
    ['15.5', 'GBP', 15_500_000_000n],
    ['-0.50', 'GBP', -500_000_000n],
    ['1500', 'JPY', 1_500_000_000_000n],
    ['0.125', 'BHD', 125_000_000n],
    ['0', 'CLP', 0n],
  ])('%s %s → %s nano', (text, currency, nano) => expect(parseMoney(text, currency)).toBe(nano));

  function reasonOf(text: string, currency: string): string {
    try {
      parseMoney(text, currency);
      return 'accepted';
    } catch (e) {
      expect(e).toBeInstanceOf(MoneyFormatError);
      return (e as MoneyFormatError).reason;
    }
  }

  it.each([
    ['15.001', 'GBP', 'too_many_decimals'],
    ['15.000', 'GBP', 'too_many_decimals'],
    ['1500.5', 'JPY', 'too_many_decimals'],
    ['1500.0', 'JPY', 'too_many_decimals'],
    ['0.1250', 'BHD', 'too_many_decimals'],
    ['1.0000000001', 'GBP', 'too_many_decimals'],
    ['1e3', 'GBP', 'malformed'],
    [' 1', 'GBP', 'malformed'],
    ['1.', 'GBP', 'malformed'],
    ['.5', 'GBP', 'malformed'],
    ['+1', 'GBP', 'malformed'],
    ['1,00', 'GBP', 'malformed'],
    ['', 'GBP', 'malformed'],
    ['0x10', 'GBP', 'malformed'],
    ['1', 'XXX', 'unknown_currency'],
    ['9223372037', 'GBP', 'too_large'],
    ['99999999999999999999999', 'JPY', 'too_large'],
    [`1${'0'.repeat(60)}`, 'GBP', 'malformed'],
  ])('%j %s is refused: %s', (text, currency, reason) => expect(reasonOf(text, currency)).toBe(reason));

  it('round-trips every minor amount through formatMoney', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('GBP', 'JPY', 'BHD', 'CLF'),
        fc.bigInt({ min: -9n * 10n ** 9n, max: 9n * 10n ** 9n }),
        (currency, minor) => {
          const nano = minor * 10n ** BigInt(9 - minorExponent(currency)!);
          expect(parseMoney(formatMoney(nano, currency), currency)).toBe(nano);
        },
      ),
    );
  });
});

describe('roundToMinor and formatMoney', () => {
  it.each([
    [5_000_000n, 'GBP', '0.01'],
    [4_999_999n, 'GBP', '0.00'],
    [-5_000_000n, 'GBP', '-0.01'],
    [-4_999_999n, 'GBP', '0.00'],
    [7_000_000_000n, 'GBP', '7.00'],
    [-500_000_000n, 'GBP', '-0.50'],
    [500_000_000n, 'JPY', '1'],
    [-500_000_000n, 'JPY', '-1'],
    [1_500_000_000_000n, 'JPY', '1500'],
    [4_666_666_667n, 'BHD', '4.667'],
    [125_000_000n, 'BHD', '0.125'],
  ])('%s nano %s → %s', (nano, currency, text) => {
    expect(formatMoney(roundToMinor(nano, currency), currency)).toBe(text);
    expect(formatMoney(nano, currency)).toBe(text);
  });

  it('rounds to the nearest minor unit, ties away from zero, and is odd-symmetric', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), (nano) => {
        const r = roundToMinor(nano, 'GBP');
        expect(r % 10_000_000n).toBe(0n);
        const error = r - nano;
        expect(error <= 5_000_000n && error >= -5_000_000n).toBe(true);
        if (error === 5_000_000n || error === -5_000_000n) expect(r > 0n === nano > 0n).toBe(true);
        expect(roundToMinor(-nano, 'GBP')).toBe(-r);
      }),
    );
  });

  it('nanoToDecimal keeps full precision', () => {
    expect(nanoToDecimal(1n)).toBe('0.000000001');
    expect(nanoToDecimal(-12_500_000_000n)).toBe('-12.5');
    expect(nanoToDecimal(98_765_432_109_876_543_210n)).toBe('98765432109.87654321');
  });
});

describe('totals beyond 2^53 nano (JPY, CLP)', () => {
  it('sums and formats exactly where a float would not', () => {
    const line = parseMoney('9007199', 'JPY'); // 9,007,199,000,000,000 nano: just under 2^53 on its own
    const total = [line, line, line, parseMoney('1', 'JPY')].reduce((a, b) => a + b);
    expect(total > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(formatMoney(total, 'JPY')).toBe('27021598');
    expect(formatMoney(parseMoney('9007199254', 'CLP') + 1_000_000_000n, 'CLP')).toBe('9007199255');
    // The same sum through a JS number would drift: 2^53 + 1 nano is not representable.
    expect(BigInt(Number(2n ** 53n + 1n))).not.toBe(2n ** 53n + 1n);
  });
});
