/**
 * The float rule of the CGRateS facade (src/cgrates-api/money.ts): a float64 Value is the shortest
 * decimal that reads back as it, taken exactly in nano units or refused, never rounded; and what
 * the facade writes reads back as the same float a CGRateS client would have sent.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CgrError } from '../../src/cgrates-api/errors.js';
import { floatToNano, nanoNumber, writeJson } from '../../src/cgrates-api/money.js';

/** Nano amounts up to 10^15 (a million in money): every such decimal has at most 15 digits. */
const nano = fc.integer({ min: -1e15, max: 1e15 });

describe('money on the CGRateS wire', () => {
  it('a decimal with at most 9 decimals, sent as a float, is taken exactly', () => {
    fc.assert(
      fc.property(nano, (n) => {
        const text = nanoNumber(n).text;
        expect(floatToNano(Number(text), 'Value')).toBe(n);
      }),
    );
  });

  it('what is written reads back as the same float, as a number or as a string', () => {
    fc.assert(
      fc.property(nano, (n) => {
        const asNumber = JSON.parse(writeJson({ v: nanoNumber(n) }, false)) as { v: number };
        const asString = JSON.parse(writeJson({ v: nanoNumber(n) }, true)) as { v: string };
        expect(asNumber.v).toBe(Number(nanoNumber(n).text));
        expect(asString.v).toBe(nanoNumber(n).text);
        expect(floatToNano(asNumber.v, 'Value')).toBe(n);
      }),
    );
  });

  it('a float whose shortest form has more than 9 decimals is refused, not rounded', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), (x) => {
        const decimals = /e-(\d+)$/.test(String(x)) ? Infinity : (String(x).split('.')[1]?.length ?? 0);
        if (decimals <= 9)
          expect(floatToNano(x, 'Value')).toBe(Math.round(x * 1e9) + 0); // -0 is 0
        else expect(() => floatToNano(x, 'Value')).toThrow(CgrError);
      }),
    );
  });

  it.each([
    [0.1, 100_000_000],
    [10.3, 10_300_000_000],
    [1e-9, 1],
    [-2.5, -2_500_000_000],
    [9007199.25474099, 9007199254740990],
  ])('%s is %s nano', (x, n) => {
    expect(floatToNano(x, 'Value')).toBe(n);
  });
});
