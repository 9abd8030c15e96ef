/**
 * Result codes the Lua scripts return, and the one place that names them. A replayed operation
 * returns its first result, failures included.
 */
export const BalanceCode = {
  OK: 'OK',
  /** The operation id was used before with a different request. */
  CONFLICT: 'CONFLICT',
  ACCOUNT_NOT_FOUND: 'ACCOUNT_NOT_FOUND',
  ACCOUNT_EXISTS: 'ACCOUNT_EXISTS',
  /** Suspended or closed: no debit or reservation (credits and releases still work). */
  ACCOUNT_INACTIVE: 'ACCOUNT_INACTIVE',
  BALANCE_NOT_FOUND: 'BALANCE_NOT_FOUND',
  BALANCE_EXISTS: 'BALANCE_EXISTS',
  /** The balance is expired or not yet active at the operation time. */
  BALANCE_INACTIVE: 'BALANCE_INACTIVE',
  /** Not enough available (value - held), or postpaid below minus its credit limit. */
  INSUFFICIENT: 'INSUFFICIENT',
  RESERVATION_NOT_FOUND: 'RESERVATION_NOT_FOUND',
  RESERVATION_EXISTS: 'RESERVATION_EXISTS',
  /** A commit asked for more than the reservation holds on a balance. */
  RESERVATION_EXCEEDED: 'RESERVATION_EXCEEDED',
  SUBSCRIPTION_TAKEN: 'SUBSCRIPTION_TAKEN',
  /** Internal, never recorded nor returned by the store: units are partly covered, price the rest. */
  NEED_PRICE: 'NEED_PRICE',
  /** A step's operation would move other amounts than the caller expected (so the step applied nothing). */
  EXPECTATION: 'EXPECTATION',
} as const;

/**
 * How a charging step (lua/step.lua) ended: APPLIED, or nothing written and why — DEVIATED (an
 * operation went otherwise than expected), REPLAY (the stored answer), CONFLICT (the id was used
 * for another request), TOO_OLD (an answer no longer kept), STALE (another engine moved the
 * session), CHANGED (the account's subject or subscription changed).
 */
export const StepStatus = {
  APPLIED: 'APPLIED',
  DEVIATED: 'DEVIATED',
  REPLAY: 'REPLAY',
  CONFLICT: 'CONFLICT',
  TOO_OLD: 'TOO_OLD',
  STALE: 'STALE',
  CHANGED: 'CHANGED',
} as const;

export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

export type BalanceCode = (typeof BalanceCode)[keyof typeof BalanceCode];

/**
 * The name an operator or API client reads for a store refusal: the store's INSUFFICIENT is
 * INSUFFICIENT_CREDIT everywhere outside it (HTTP problems, CDR rejects, summaries, rerate failures).
 */
export function refusalName(code: string): string {
  return code === BalanceCode.INSUFFICIENT ? 'INSUFFICIENT_CREDIT' : code;
}

export class BalanceStoreError extends Error {
  constructor(
    readonly code: BalanceCode | 'INVALID_AMOUNT' | 'INVALID_REQUEST',
    message: string,
  ) {
    super(message);
    this.name = 'BalanceStoreError';
  }
}
