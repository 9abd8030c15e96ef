/** The one conversion between event usage (seconds for voice) and base units (nanoseconds). */
import { describe, expect, it } from 'vitest';
import { baseToUsage, usageToBase, wholeUsage } from '../../src/rating/units.js';

describe('voice seconds and base units', () => {
  it.each([
    ['voice', 60, 60_000_000_000],
    ['voice', 0.5, 500_000_000],
    ['voice', 0.1, 100_000_000], // no float drift: 0.1 * 1e9 is 100000000.00000001
    ['data', 1024, 1024],
  ] as const)('%s %d is %d base units', (tor, usage, base) => {
    expect(usageToBase(tor, usage)).toBe(base);
    expect(baseToUsage(tor, base)).toBe(usage);
  });

  it.each([
    ['voice', 59_999_999_999, 59],
    ['voice', 60_000_000_000, 60],
    ['sms', 3, 3],
  ] as const)('%s %d base units pay for %d whole units', (tor, base, whole) => {
    expect(wholeUsage(tor, base)).toBe(whole);
  });
});
