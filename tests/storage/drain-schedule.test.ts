import { describe, expect, it } from 'vitest';
import { DRAIN_EVERY_MS, FULL_DRAIN_EVERY } from '../../src/storage/outbox.js';

// A drain runs on the event loop: a second's worth of entries at once held every request in flight
// for tens of milliseconds (bench/RESULTS.md, 2026-12-07). Drains are small and frequent instead.
describe('drain schedule', () => {
  it('drains at least ten times a second', () => {
    expect(DRAIN_EVERY_MS).toBeLessThanOrEqual(100);
  });

  it('still reads every outbox about every five minutes', () => {
    expect(DRAIN_EVERY_MS * FULL_DRAIN_EVERY).toBe(300_000);
  });
});
