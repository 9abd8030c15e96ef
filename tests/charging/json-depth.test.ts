/** How deep a request may nest, checked without recursion on the text and on values. */
import { describe, expect, it } from 'vitest';
import { fingerprintOf as eventFingerprint, type EventRequest } from '../../src/charging/events.js';
import { MAX_JSON_DEPTH, textDeeperThan, valueDeeperThan } from '../../src/charging/json-depth.js';
import {
  fingerprintOf as sessionFingerprint,
  type SessionRequest,
} from '../../src/charging/session-model.js';

const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
};

describe('textDeeperThan', () => {
  it.each([
    ['a scalar', '1', 0, false],
    ['an empty object at depth 1', '{}', 1, false],
    ['an empty object past depth 0', '{}', 0, true],
    ['32 levels', JSON.stringify(nested(32)), 32, false],
    ['33 levels', JSON.stringify(nested(33)), 32, true],
    ['brackets inside a string', `{"a":"${'[{'.repeat(100)}"}`, 1, false],
    ['an escaped quote inside a string', `{"a":"\\"[[[["}`, 1, false],
    ['an escaped backslash before the closing quote', `{"a":"\\\\"}`, 1, false],
    ['siblings do not add up', `[${'[],'.repeat(100)}[]]`, 2, false],
  ])('%s', (_name, text, max, deeper) => {
    expect(textDeeperThan(text, max)).toBe(deeper);
  });

  it('scans a million levels without a stack', () => {
    expect(textDeeperThan('['.repeat(1e6) + ']'.repeat(1e6), MAX_JSON_DEPTH)).toBe(true);
  });
});

describe('valueDeeperThan', () => {
  it.each([
    ['a scalar', 1, 0, false],
    ['null', null, 0, false],
    ['32 levels', nested(32), 32, false],
    ['33 levels', nested(33), 32, true],
    ['a wide shallow value', { a: [1, 2, 3], b: { c: 'x' } }, 2, false],
  ])('%s', (_name, value, max, deeper) => {
    expect(valueDeeperThan(value, max)).toBe(deeper);
  });
});

describe('fingerprints', () => {
  const deep = nested(100_000);
  const event = { serviceInformation: { ps: deep } } as unknown as EventRequest;
  const session = { requestNumber: 0, serviceInformation: { ps: deep } } as unknown as SessionRequest;

  it('refuse a value nested past the limit instead of overflowing the stack', () => {
    expect(() => eventFingerprint(event)).toThrow(/nests deeper than 32/);
    expect(() => sessionFingerprint('initiate', session)).toThrow(/nests deeper than 32/);
  });

  it('hash a request within the limit as before', () => {
    const ok = { requestNumber: 0, serviceInformation: { ps: nested(20) } } as unknown as SessionRequest;
    expect(sessionFingerprint('initiate', ok)).toMatch(/^[0-9a-f]{40}$/);
  });
});
