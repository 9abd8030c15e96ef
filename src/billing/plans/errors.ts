/**
 * Refusals of the plans module: each code is a problem `cause` of the HTTP catalog
 * (src/http/errors.ts), so routes pass them through unchanged. A refusal changes nothing.
 */
export type PlansCode =
  | 'INVALID_REQUEST'
  | 'INVALID_PLAN'
  | 'PLAN_NOT_FOUND'
  | 'ACCOUNT_NOT_FOUND'
  | 'NO_PRICE_FOR_CURRENCY'
  | 'CONFLICT'
  | 'INSUFFICIENT_CREDIT'
  | 'ASSIGNMENT_NOT_FOUND'
  | 'ASSIGNMENT_NOT_ACTIVE'
  | 'TAX_RATE_OVERLAP'
  | 'UNKNOWN_TAX_CODE'
  | 'TAX_PROFILE_NOT_FOUND'
  | 'SERIES_NOT_FOUND'
  | 'COUPON_NOT_FOUND'
  | 'COUPON_EXPIRED'
  | 'COUPON_EXHAUSTED'
  | 'COUPON_ALREADY_REDEEMED'
  | 'COUPON_NOT_APPLICABLE'
  | 'BILLING_STARTED'
  | 'CHANGE_PENDING';

export class PlansError extends Error {
  constructor(
    readonly code: PlansCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'PlansError';
  }
}
