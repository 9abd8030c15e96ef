/**
 * Proration of fees and bundle allowances over partial periods, by local days: the fraction is
 * activeDays / periodDays, the start day counted and the end day not. A fee is multiplied out
 * exactly and rounded once, half-up to the nano; the document then rounds the line to the minor unit.
 */
import { divRoundHalfUp } from './currency.js';
import { assertInstant, zoneClock } from './local-time.js';

export type ProrationPolicy = 'prorate' | 'full' | 'none';

/** Local calendar days from one instant to another: the start day counted, the end day not. */
export function localDaysBetween(fromMs: number, toMs: number, zone: string): number {
  assertInstant(fromMs, 'fromMs');
  assertInstant(toMs, 'toMs');
  if (toMs < fromMs) throw new RangeError('toMs is before fromMs');
  const clock = zoneClock(zone);
  return clock.dayNumber(toMs) - clock.dayNumber(fromMs);
}

function checkFraction(activeDays: number, periodDays: number): void {
  if (!Number.isInteger(periodDays) || periodDays < 1)
    throw new RangeError('periodDays must be a positive integer');
  if (!Number.isInteger(activeDays) || activeDays < 0 || activeDays > periodDays) {
    throw new RangeError('activeDays must be an integer from 0 to periodDays');
  }
}

function checkQuantity(quantity: number): void {
  if (!Number.isSafeInteger(quantity) || quantity < 0)
    throw new RangeError('quantity must be a non-negative integer');
}

/** fee × quantity × activeDays / periodDays, rounded half-up (away from zero) to the nano. */
export function prorate(feeNano: bigint, quantity: number, activeDays: number, periodDays: number): bigint {
  checkQuantity(quantity);
  checkFraction(activeDays, periodDays);
  return divRoundHalfUp(feeNano * BigInt(quantity) * BigInt(activeDays), BigInt(periodDays));
}

/** The fee of a partial period under a plan's proration policy: `full` charges it whole, `none` not at all. */
export function partialFee(
  feeNano: bigint,
  quantity: number,
  activeDays: number,
  periodDays: number,
  policy: ProrationPolicy,
): bigint {
  if (policy === 'full') return prorate(feeNano, quantity, periodDays, periodDays);
  if (policy === 'none')
    return activeDays === periodDays ? prorate(feeNano, quantity, periodDays, periodDays) : 0n;
  return prorate(feeNano, quantity, activeDays, periodDays);
}

/** floor(allowance × activeDays / periodDays / unitIncrement) × unitIncrement: never grants a partial unit. */
export function prorateAllowance(
  allowance: bigint,
  activeDays: number,
  periodDays: number,
  unitIncrement: bigint,
): bigint {
  checkFraction(activeDays, periodDays);
  if (allowance < 0n) throw new RangeError('allowance must not be negative');
  if (unitIncrement < 1n) throw new RangeError('unitIncrement must be positive');
  const units = (allowance * BigInt(activeDays)) / (BigInt(periodDays) * unitIncrement);
  return units * unitIncrement;
}
