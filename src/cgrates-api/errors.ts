/**
 * CGRateS's error strings (utils/consts.go, utils/errors.go) and Go net/rpc's own: a JSON-RPC
 * error is only this string, so a CRM that matches on it keeps working.
 */
export class CgrError extends Error {}

export const NOT_FOUND = 'NOT_FOUND';
export const UNAUTHORIZED_API = 'UNAUTHORIZED_API';
export const NOT_IMPLEMENTED = 'NOT_IMPLEMENTED';
export const INSUFFICIENT_CREDIT = 'INSUFFICIENT_CREDIT';

/*
 * Bad input is never SERVER_ERROR (that says the engine failed, and a client retries it): a value
 * that does not convert is NOT_CONVERTIBLE, text in an unknown format UNSUPPORTED_FORMAT, a feature
 * the facade does not offer NOT_IMPLEMENTED, each with what it refused after ": ".
 */
export const notConvertible = (detail: string) => new CgrError(`NOT_CONVERTIBLE: ${detail}`);
export const unsupportedFormat = (detail: string) => new CgrError(`UNSUPPORTED_FORMAT: ${detail}`);
export const notImplemented = (detail: string) => new CgrError(`${NOT_IMPLEMENTED}: ${detail}`);
/** A reference (ActionExtraData.Reference) already used for another request: utils.ErrExists. */
export const exists = (detail: string) => new CgrError(`EXISTS: ${detail}`);

/** utils.NewErrMandatoryIeMissing: Go prints the []string as `[A B]`. */
export const mandatoryMissing = (fields: string[]) =>
  new CgrError(`MANDATORY_IE_MISSING: [${fields.join(' ')}]`);

/** utils.NewErrServerError: the engine failed (never for what a caller sent). */
export const serverError = (detail: string) => new CgrError(`SERVER_ERROR: ${detail}`);

/** encoding/json's refusal of a value of the wrong JSON type for a struct field. */
export const unmarshalError = (got: string, struct: string, field: string, goType: string) =>
  new CgrError(`json: cannot unmarshal ${got} into Go struct field ${struct}.${field} of type ${goType}`);

/** The JSON type name encoding/json uses in its messages. */
export function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'object' : typeof v;
}
