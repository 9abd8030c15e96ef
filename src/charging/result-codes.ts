/** Diameter credit-control result codes (RFC 4006 / 8506, 3GPP TS 32.299) used in answers. */
import { BalanceCode } from '../balances/codes.js';

export const ResultCode = {
  DIAMETER_SUCCESS: 2001,
  DIAMETER_END_USER_SERVICE_DENIED: 4010,
  DIAMETER_CREDIT_CONTROL_NOT_APPLICABLE: 4011,
  DIAMETER_CREDIT_LIMIT_REACHED: 4012,
  DIAMETER_UNKNOWN_SESSION_ID: 5002,
  DIAMETER_USER_UNKNOWN: 5030,
  DIAMETER_RATING_FAILED: 5031,
  DIAMETER_UNABLE_TO_COMPLY: 5012,
} as const;

export type ResultName = keyof typeof ResultCode;

export function result(name: ResultName): { resultCode: number; resultName: ResultName } {
  return { resultCode: ResultCode[name], resultName: name };
}

export function nameOf(code: number): ResultName {
  return (
    (Object.keys(ResultCode) as ResultName[]).find((n) => ResultCode[n] === code) ??
    'DIAMETER_UNABLE_TO_COMPLY'
  );
}

/**
 * The answer to an operation the balance store refused, the same for sessions and one-shot events:
 * no credit is 4012, a suspended or closed account 4010, a vanished account 5030; anything else
 * is a store state the request cannot fix (5012).
 */
export function refusalResult(storeCode: string): ResultName {
  switch (storeCode) {
    case BalanceCode.INSUFFICIENT:
      return 'DIAMETER_CREDIT_LIMIT_REACHED';
    case BalanceCode.ACCOUNT_INACTIVE:
      return 'DIAMETER_END_USER_SERVICE_DENIED';
    case BalanceCode.ACCOUNT_NOT_FOUND:
      return 'DIAMETER_USER_UNKNOWN';
    default:
      return 'DIAMETER_UNABLE_TO_COMPLY';
  }
}
