import { describe, expect, it } from 'vitest';
import { formatQuantity, parseDuration, parseQuantity } from '../../src/tariffs/quantities.js';

describe('tariff quantities in base units', () => {
  it.each([
    ['60s', 60e9],
    ['1m', 60e9],
    ['1h', 3600e9],
    ['1m30s', 90e9],
    ['1.5s', 1.5e9],
    ['500ms', 5e8],
    ['0s', 0],
    ['1024', 1024], // bare: base units (bytes, messages, nanoseconds)
    ['0', 0],
    ['1KiB', 1024],
    ['1MiB', 1048576],
    ['1MB', 1_000_000],
    ['2GB', 2e9],
  ])('%s = %d', (text, base) => expect(parseQuantity(text)).toBe(base));

  it.each(['', '-1', '1.5', 'abc', '10x', '1s2', '1.5B', 's'])('refuses %j', (text) =>
    expect(parseQuantity(text)).toBeUndefined(),
  );

  it('parses Go durations as CGRateS writes them', () => {
    expect(parseDuration('2h45m')).toBe((2 * 3600 + 45 * 60) * 1e9);
    expect(parseDuration('1m0s')).toBe(60e9);
  });

  it('writes whole seconds as durations and the rest as base units', () => {
    expect(formatQuantity(60e9, 'second')).toBe('60s');
    expect(formatQuantity(5e8, 'second')).toBe('500000000');
    expect(formatQuantity(60e9, 'unit')).toBe('60000000000');
    for (const n of [0, 1, 1024, 60e9, 5e8]) expect(parseQuantity(formatQuantity(n, 'second'))).toBe(n);
  });
});
