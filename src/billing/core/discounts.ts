/**
 * Coupons on a fee, before tax: in redemption order, each on what the previous ones left (Lago's
 * order semantics), never below zero. Work happens in minor units: the fee is rounded to the minor
 * unit first (as its document line will be), so every discount line and the net are exact minor
 * amounts and the document adds up without a second rounding.
 */
import { divRoundHalfUp, minorStepNano, roundToMinor } from './currency.js';

/** percentMicros: percent × 10^6 (10 % → 10_000_000n; up to 4 decimals of a percent are exact). */
export type Coupon = { kind: 'percent'; percentMicros: bigint } | { kind: 'fixed'; amountNano: bigint };

const HUNDRED_PERCENT_MICROS = 100_000_000n;

function discountOf(coupon: Coupon, remainingNano: bigint, currency: string): bigint {
  if (coupon.kind === 'percent') {
    if (coupon.percentMicros < 0n || coupon.percentMicros > HUNDRED_PERCENT_MICROS) {
      throw new RangeError('percentMicros must be from 0 to 100_000_000 (100 %)');
    }
    const step = minorStepNano(currency);
    return divRoundHalfUp(remainingNano * coupon.percentMicros, HUNDRED_PERCENT_MICROS * step) * step;
  }
  if (coupon.amountNano < 0n) throw new RangeError('a fixed coupon amount must not be negative');
  return roundToMinor(coupon.amountNano, currency);
}

/**
 * The discount of each coupon (≤ 0, minor-rounded) and the net fee (≥ 0). A fee that is zero or a
 * credit (negative) gets no discount.
 */
export function applyCoupons(
  feeNano: bigint,
  coupons: readonly Coupon[],
  currency: string,
): { discounts: bigint[]; netNano: bigint } {
  let remaining = roundToMinor(feeNano, currency);
  const discounts: bigint[] = [];
  for (const coupon of coupons) {
    const wanted = discountOf(coupon, remaining > 0n ? remaining : 0n, currency);
    const taken = remaining <= 0n ? 0n : wanted < remaining ? wanted : remaining;
    discounts.push(-taken);
    remaining -= taken;
  }
  return { discounts, netNano: remaining };
}
