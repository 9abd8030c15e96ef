/**
 * Tariff rounding of an exact rational amount, done once on a total (never per increment).
 *
 * `up` rounds toward +infinity, `down` toward -infinity, `middle` half away from zero... for
 * positive amounts (CGRateS's `*middle` is floor(x + 0.5), which is what we do for all signs).
 * Negative `decimals` round to tens, hundreds, ...
 */
import type { RoundingMethod } from './model.js';
import { pow10 } from './money.js';

/** Floor division for BigInt (BigInt `/` truncates toward zero). */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function roundQuotient(num: bigint, den: bigint, method: RoundingMethod): bigint {
  switch (method) {
    case 'down':
      return floorDiv(num, den);
    case 'up':
      return -floorDiv(-num, den);
    case 'middle':
      return floorDiv(2n * num + den, 2n * den);
  }
}

/**
 * Rounds num/den to `decimals` with `method`. Returns the result as `value / 10^scale`, where
 * scale = max(decimals, 0); for negative decimals the value is a multiple of 10^-decimals.
 */
export function roundRational(
  num: bigint,
  den: bigint,
  decimals: number,
  method: RoundingMethod,
): { value: bigint; scale: number } {
  if (den <= 0n) throw new Error('denominator must be positive');
  if (decimals >= 0) {
    return { value: roundQuotient(num * pow10(decimals), den, method), scale: decimals };
  }
  const step = pow10(-decimals);
  return { value: roundQuotient(num, den * step, method) * step, scale: 0 };
}
