/**
 * What the plan, profile, tax and coupon routes share: the refusals of src/billing/plans/ as
 * problems (their codes are the catalog's causes), and the schemas of codes and money maps.
 */
import { Type } from 'typebox';
import { PlansError } from '../../billing/plans/errors.js';
import { AppError, ERRORS, type ErrorCode } from '../errors.js';

/** Plan, tax, tax-profile and coupon codes. */
export const Code = Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9_-]+$' });
export const DateText = Type.String({
  pattern: '^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$',
  maxLength: 10,
});
export const Money = Type.String({ maxLength: 40, pattern: '^\\d+(\\.\\d{1,9})?$' });
export const MoneyByCurrency = Type.Record(Type.String({ pattern: '^[A-Z]{3}$' }), Money, {
  maxProperties: 64,
});

/** Runs a plans service call; its refusals become problems with their own cause. */
export async function planCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof PlansError)) throw err;
    const code = (err.code in ERRORS ? err.code : 'INVALID_REQUEST') as ErrorCode;
    throw new AppError(code, err.message, err.extra);
  }
}
