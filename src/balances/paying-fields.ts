/**
 * The fields of a balance's meta that the paying chain reads besides its filters (docs/BALANCES.md):
 * `blocker`, and the `*zero<step>` rating subject with the step it is consumed in, resolved once
 * here so that the Lua planner reads a number (`unitIncrement`, base units).
 */
import { zeroIncrement } from '../rating/balance-match.js';
import { BalanceStoreError } from './codes.js';

export interface PayingFields {
  blocker: boolean;
  ratingSubject: string;
  unitIncrement: number;
}

export function payingFields(blocker = false, ratingSubject = ''): PayingFields {
  if (ratingSubject === '') return { blocker, ratingSubject, unitIncrement: 1 };
  const step = zeroIncrement(ratingSubject);
  if (step === null) {
    throw new BalanceStoreError(
      'INVALID_REQUEST',
      `ratingSubject must be *zero<step> (e.g. *zero1m), got ${ratingSubject}`,
    );
  }
  return { blocker, ratingSubject, unitIncrement: step };
}
