/** Why an event could not be priced. One table, stable string codes (used by the CLI, API and CDR rejects). */
export const RatingErrorCode = {
  /** No rating profile for the subject, nor for `*any`, active at the event time. */
  RATING_PLAN_NOT_FOUND: 'RATING_PLAN_NOT_FOUND',
  /** A profile exists, but no plan reachable through it and its fallbacks prices the number. */
  UNAUTHORIZED_DESTINATION: 'UNAUTHORIZED_DESTINATION',
  /** The event itself is malformed; `field` names what. */
  INVALID_EVENT: 'INVALID_EVENT',
} as const;

export type RatingErrorCode = (typeof RatingErrorCode)[keyof typeof RatingErrorCode];

export interface RatingError {
  ok: false;
  code: RatingErrorCode;
  message: string;
  field?: string;
}

export function ratingError(code: RatingErrorCode, message: string, field?: string): RatingError {
  return field === undefined ? { ok: false, code, message } : { ok: false, code, message, field };
}
