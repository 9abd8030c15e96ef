/** Why a voucher request was refused; each code is a `cause` of the HTTP catalog (src/http/errors.ts). */
export type VoucherErrorCode =
  | 'INVALID_REQUEST'
  | 'NOT_FOUND'
  | 'ACCOUNT_NOT_FOUND'
  | 'CONFLICT'
  | 'VOUCHER_INVALID'
  | 'TOO_MANY_ATTEMPTS'
  | 'GONE'
  | 'VOUCHER_BATCH_GENERATING'
  | 'VOUCHER_REDEEMED'
  | 'UNAVAILABLE';

export class VoucherError extends Error {
  constructor(
    readonly code: VoucherErrorCode,
    message: string,
    readonly invalidParams?: { param: string; reason: string }[],
    /** Seconds, for 429. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export const invalid = (param: string, reason: string) =>
  new VoucherError('INVALID_REQUEST', `${param}: ${reason}`, [{ param, reason }]);
