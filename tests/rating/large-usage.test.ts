/**
 * Very large usages, rated by the core directly (past the edge limit `MAX_USAGE`): the price is
 * exact, computed here independently (usage × rate, or the hours of each timing counted by hand),
 * and the work is per time span, never per increment. Beyond what a JS number holds exactly the
 * core refuses at once instead of looping (a CDR with 10^13 s once ran a worker out of memory).
 */
import { describe, expect, it } from 'vitest';
import { rateEvent, type CompiledTariff, type RatingEvent } from '../../src/rating/index.js';
import { MAX_EXACT_USAGE } from '../../src/rating/rate.js';
import { MAX_USAGE } from '../../src/rating/units.js';
import { build, slot, timing, S } from '../support/plans.js';

const HOUR = 3600;
const DAY = 24 * HOUR;
// 2026-11-16 is a Monday.
const MON_MIDNIGHT = Date.UTC(2026, 10, 16);

function voice(usageSeconds: number, answerTimeMs = MON_MIDNIGHT + 10 * HOUR * 1000): RatingEvent {
  return {
    tenant: 't',
    category: 'call',
    subject: 'u1',
    destination: '+441234',
    answerTimeMs,
    usage: usageSeconds * S,
    tor: 'voice',
  };
}

/** The rounded cost in nano units; throws on a rating error so a failure names it. */
function costNano(t: CompiledTariff, ev: RatingEvent): bigint {
  const r = rateEvent(t, ev);
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r.costNano;
}

const NANO = 1_000_000_000n;

describe('one rate: the price is usage × rate at any size', () => {
  // 0.6 per minute, per second: 0.01 per second = 10,000,000 nano per second.
  const t = build({
    destinations: { UK: ['+44'] },
    rates: { R: [slot('0.6', 60, 1)] },
    bindings: [{ destination: 'UK', rate: 'R' }],
  });
  it.each([1, DAY, MAX_USAGE.voice - 1, MAX_USAGE.voice, MAX_USAGE.voice + HOUR, 50 * DAY + 7])(
    '%i s',
    (seconds) => {
      expect(costNano(t, voice(seconds))).toBe(BigInt(seconds) * 10_000_000n);
    },
  );

  it('a 60 s increment rounds the whole call up once, however many midnights it crosses', () => {
    const t60 = build({
      destinations: { UK: ['+44'] },
      rates: { R: [slot('0.6', 60, 60)] },
      bindings: [{ destination: 'UK', rate: 'R' }],
    });
    // From 23:59:30: every midnight falls 30 s into a minute, so each day's span overruns into the
    // next; the call is still charged ceil(usage / 60) whole minutes at 0.6.
    const start = MON_MIDNIGHT + DAY * 1000 - 30_000;
    for (const seconds of [MAX_USAGE.voice, MAX_USAGE.voice + 1, 40 * DAY + 61]) {
      const minutes = BigInt(Math.ceil(seconds / 60));
      expect(costNano(t60, voice(seconds, start)), `${seconds} s`).toBe((minutes * 6n * NANO) / 10n);
    }
  });
});

describe('peak 08:00-20:00 at 1/min, off-peak 0.5/min, per second, across many midnights', () => {
  const t = build({
    destinations: { UK: ['+44'] },
    rates: { P: [slot('1', 60, 1)], O: [slot('0.5', 60, 1)] },
    timings: [timing('PEAK', '08:00:00'), timing('OFF', '20:00:00')],
    bindings: [
      { destination: 'UK', rate: 'O', timing: '*any', weight: 10 },
      { destination: 'UK', rate: 'P', timing: 'PEAK', weight: 20 },
      { destination: 'UK', rate: 'O', timing: 'OFF', weight: 20 },
    ],
  });
  const price = (peakHours: number, offHours: number) =>
    BigInt(peakHours * 60) * NANO + (BigInt(offHours * 60) * NANO) / 2n;

  it('72 h (MAX_USAGE) from Monday 10:00: 36 h peak, 36 h off-peak', () => {
    // Peak: Mon 10-20 (10 h), Tue and Wed 12 h each, Thu 08-10 (2 h) = 36 h; the rest off-peak.
    expect(MAX_USAGE.voice).toBe(72 * HOUR);
    expect(costNano(t, voice(72 * HOUR))).toBe(price(36, 36)); // 2160 + 1080 = 3240
  });

  it('73 h, a little beyond MAX_USAGE: one more peak hour (Thu 10-11)', () => {
    expect(costNano(t, voice(73 * HOUR))).toBe(price(37, 36));
  });

  it('50 days from Monday 00:00: 12 h of each every day', () => {
    expect(costNano(t, voice(50 * DAY, MON_MIDNIGHT))).toBe(price(600, 600)); // 36000 + 18000
  });

  it('is priced per time span (a few per day), not per increment', () => {
    const r = rateEvent(t, voice(MAX_USAGE.voice));
    // Mon 10-20, 20-24; then per day 00-08, 08-20, 20-24 (Tue, Wed); Thu 00-08, 08-10.
    expect(r.ok && r.spans.length).toBe(10);
    expect(r.ok && r.spans.reduce((n, s) => n + s.increments, 0)).toBe(MAX_USAGE.voice);
  });
});

describe('data: a terabyte and a little more', () => {
  // 0.001 per MiB in 1 KiB increments: each KiB costs 0.001 / 1024.
  const t = build({
    rates: {
      D: [{ connectFee: '0', rate: '0.001', rateUnit: 1048576, rateIncrement: 1024, groupIntervalStart: 0 }],
    },
    bindings: [{ destination: '*any', rate: 'D', roundingDecimals: 9 }],
  });
  const data = (bytes: number): RatingEvent => ({ ...voice(0), destination: '', tor: 'data', usage: bytes });
  it.each([MAX_USAGE.data, MAX_USAGE.data + 1, 5 * MAX_USAGE.data + 4096])('%i bytes', (bytes) => {
    const kib = BigInt(Math.ceil(bytes / 1024));
    // kib × 0.001 / 1024 currency = kib × 10^6 / 1024 nano, rounded half up to the nano.
    expect(costNano(t, data(bytes))).toBe((kib * 1_000_000n + 512n) / 1024n);
  });
});

describe('beyond what the core holds exactly', () => {
  const t = build({
    destinations: { UK: ['+44'] },
    rates: { R: [slot('0.6', 60, 1)] },
    bindings: [{ destination: 'UK', rate: 'R' }],
  });
  it.each([4294967295, 1e13])('%i s of voice is refused at once, naming usage', (seconds) => {
    const r = rateEvent(t, voice(seconds));
    expect(r).toMatchObject({ ok: false, code: 'INVALID_EVENT', field: 'usage' });
  });

  it('the largest usage it takes is still priced exactly', () => {
    // 2^52 ns = 4,503,599.627... s, charged in whole seconds: 4,503,600 s at 0.01 = 45036.
    expect(costNano(t, { ...voice(0), usage: MAX_EXACT_USAGE })).toBe(45_036n * NANO);
    expect(rateEvent(t, { ...voice(0), usage: MAX_EXACT_USAGE + 1 })).toMatchObject({ ok: false });
  });
});
