/** The one encoding of a charge's arguments (debit, step operations, CDR batches). */
import { describe, expect, it } from 'vitest';
import { CHARGE_ARGS, chargeArgs } from '../../src/balances/charge-args.js';
import { stepArgs } from '../../src/balances/step.js';

const charge = { unit: 'voice' as const, units: 60, amountNano: 500, destination: 'UK', ratingGroup: 1 };

describe('chargeArgs', () => {
  it('lists the fields readCharge reads, priced or not, and blanks for no charge', () => {
    expect(chargeArgs(charge)).toEqual(['voice', 60, 500, 'UK', '', 1, '', '']);
    expect(chargeArgs(charge, { covered: 20, moneyNano: 333 })).toEqual([
      'voice',
      60,
      500,
      'UK',
      '',
      1,
      20,
      333,
    ]);
    expect(chargeArgs(undefined)).toEqual(Array(CHARGE_ARGS).fill(''));
  });

  it.each([
    ['units', { ...charge, units: 2 ** 53 }],
    ['amountNano', { ...charge, amountNano: 1.5 }],
    ['amountNano', { ...charge, amountNano: -1 }],
  ])('refuses %s Lua would not hold exactly', (_what, bad) => {
    expect(() => chargeArgs(bad)).toThrow(/INVALID_AMOUNT|safe integer/);
  });

  it('is what a step sends for each operation, and a priced one carries its price', () => {
    const args = stepArgs({
      stepId: 's',
      fingerprint: 'f',
      answer: 'a',
      retentionSeconds: 60,
      ops: [{ verb: 'debit', charge, priced: { covered: 20, moneyNano: 333 } }],
    });
    expect(args.slice(-13)).toEqual([
      'debit',
      '',
      '',
      ...chargeArgs(charge, { covered: 20, moneyNano: 333 }),
      '',
      '',
    ]);
  });
});
