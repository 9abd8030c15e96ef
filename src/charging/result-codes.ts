/** Diameter credit-control result codes (RFC 4006 / 8506, 3GPP TS 32.299) used in answers. */
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
