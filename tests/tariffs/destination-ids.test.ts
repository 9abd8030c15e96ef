/** Destination ids stay usable in balance filters: no ',' (the scripts' separator), no leading '!'. */
import { describe, expect, it } from 'vitest';
import { validateTariff } from '../../src/tariffs/validate.js';
import { buildPlan, slot } from '../support/plans.js';

const planWith = (id: string) =>
  buildPlan({
    destinations: { [id]: ['+44'] },
    rates: { R: [slot('0.6', 60, 1)] },
    bindings: [{ destination: id, rate: 'R' }],
  });

describe('destination ids', () => {
  it.each(['UK,MOBILE', '!UK'])('refuses %s', (id) => {
    expect(validateTariff(planWith(id)).map((p) => p.field)).toContain('id');
  });

  it('accepts a plain id', () => {
    expect(validateTariff(planWith('UK_MOBILE'))).toEqual([]);
  });
});
