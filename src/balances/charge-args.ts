/**
 * A charge as the scripts read it (readCharge in lua/common.lua): the one encoding of a charge's
 * arguments, for debit, the step's operations and CDR batches alike.
 */
import { BalanceStoreError } from './codes.js';
import type { Charge } from './model.js';

/** A partly covered charge: the units bundles cover and the exact money for the rest. */
export interface Priced {
  covered: number;
  moneyNano: number;
}

/** Fields of one charge in ARGV. */
export const CHARGE_ARGS = 8;

export function assertAmount(n: number, what: string, allowZero = false): void {
  if (!Number.isSafeInteger(n) || n < 0 || (!allowZero && n === 0)) {
    throw new BalanceStoreError(
      'INVALID_AMOUNT',
      `${what} must be a safe integer > ${allowZero ? '=' : ''} 0, got ${n}`,
    );
  }
}

/**
 * unit, units, amountNano, destination, category, rating group, and for a priced charge the units
 * covered and the money for the rest ('' = none). Amounts cross as integers Lua holds exactly.
 */
export function chargeArgs(c: Charge | undefined, priced?: Priced): (string | number)[] {
  if (!c) return Array<string>(CHARGE_ARGS).fill('');
  assertAmount(c.units, 'units', true);
  assertAmount(c.amountNano, 'amountNano', true);
  if (c.ratingGroup !== undefined) assertAmount(c.ratingGroup, 'ratingGroup', true);
  if (priced) {
    assertAmount(priced.covered, 'covered units', true);
    assertAmount(priced.moneyNano, 'priced money', true);
  }
  return [
    c.unit,
    c.units,
    c.amountNano,
    c.destination ?? '',
    c.category ?? '',
    c.ratingGroup ?? '',
    priced?.covered ?? '',
    priced?.moneyNano ?? '',
  ];
}
