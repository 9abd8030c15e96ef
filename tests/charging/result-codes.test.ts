/** One mapping of balance store refusals to Diameter answers, shared by sessions and events. */
import { describe, expect, it } from 'vitest';
import { BalanceCode } from '../../src/balances/codes.js';
import { refusalResult, result } from '../../src/charging/result-codes.js';

describe('refusalResult', () => {
  it.each([
    [BalanceCode.INSUFFICIENT, 4012],
    [BalanceCode.ACCOUNT_INACTIVE, 4010],
    [BalanceCode.ACCOUNT_NOT_FOUND, 5030],
    [BalanceCode.BALANCE_NOT_FOUND, 5012],
    ['SOMETHING_NEW', 5012],
  ])('%s is answered %d', (code, expected) => {
    expect(result(refusalResult(code)).resultCode).toBe(expected);
  });
});
