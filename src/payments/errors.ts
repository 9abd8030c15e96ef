/** Why a payment or refund was refused; the routes answer it with the catalog's status (errors.ts). */
export type PaymentErrorCode =
  | 'ACCOUNT_NOT_FOUND'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'CURRENCY_MISMATCH'
  | 'ALLOCATION_EXCEEDS_DUE'
  | 'REFUND_EXCEEDS_PAYMENT'
  | 'INVALID_REQUEST'
  | 'UNAVAILABLE';

export class PaymentError extends Error {
  constructor(
    readonly code: PaymentErrorCode,
    message: string,
    readonly invalidParams?: { param: string; reason: string }[],
  ) {
    super(message);
  }
}
