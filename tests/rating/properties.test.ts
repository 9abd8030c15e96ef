/**
 * Property tests of the rating invariants users rely on: a price is never negative, never falls
 * as usage grows, is the same every time for the same event, and equals an independent
 * decimal.js computation for single-slot tariffs.
 */
import fc from 'fast-check';
import { Decimal } from 'decimal.js';
import { describe, expect, it } from 'vitest';
import { rateObject } from '../../src/cli/rate-lines.js';
import {
  compactBreakdown,
  compactBreakdownJson,
  parseEvent,
  rateEvent,
  type CompiledTariff,
  type RatingEvent,
} from '../../src/rating/index.js';
import { build, slot, timing } from '../support/plans.js';

const money = fc.integer({ min: 0, max: 100_000 }).map((n) => new Decimal(n).div(10_000).toFixed());
const seconds = fc.constantFrom(1, 6, 10, 30, 45, 60);
const method = fc.constantFrom('up' as const, 'down' as const, 'middle' as const);

const tariffArb = fc
  .record({
    slots: fc.array(fc.record({ rate: money, unit: fc.constantFrom(1, 60), inc: seconds, fee: money }), {
      minLength: 1,
      maxLength: 3,
    }),
    starts: fc.uniqueArray(fc.integer({ min: 1, max: 600 }), { minLength: 2, maxLength: 2 }),
    offpeakRate: money,
    peakWeight: fc.integer({ min: 0, max: 20 }),
    roundingMethod: method,
    roundingDecimals: fc.integer({ min: -1, max: 9 }),
    maxCost: fc.option(money, { nil: undefined }),
  })
  .map((p) => {
    const starts = [0, ...p.starts.sort((a, b) => a - b)];
    return build({
      destinations: { UK: ['+44'] },
      timings: [timing('PEAK', '08:00:00', [1, 2, 3, 4, 5]), timing('ALL', '00:00:00')],
      rates: {
        PEAK: p.slots.map((s, i) => slot(s.rate, s.unit, s.inc, starts[i], s.fee)),
        OFF: [slot(p.offpeakRate, 60, 1)],
      },
      bindings: [
        {
          destination: 'UK',
          rate: 'PEAK',
          timing: 'PEAK',
          weight: p.peakWeight,
          roundingMethod: p.roundingMethod,
          roundingDecimals: p.roundingDecimals,
          maxCost: p.maxCost ?? '0',
          maxCostStrategy: p.maxCost ? 'free' : null,
        },
        {
          destination: 'UK',
          rate: 'OFF',
          timing: 'ALL',
          weight: 10,
          roundingMethod: p.roundingMethod,
          roundingDecimals: p.roundingDecimals,
        },
      ],
    });
  });

// Any instant in one week (crossing peak/off-peak boundaries and a weekend).
const answerTime = fc
  .integer({ min: 0, max: 7 * 86400 - 1 })
  .map((s) => new Date(Date.UTC(2026, 10, 16) + s * 1000).toISOString());

function cost(t: CompiledTariff, answer: string, usage: number): Decimal {
  const out = rateObject(t, {
    id: 1,
    tenant: 't',
    category: 'call',
    subject: 's',
    destination: '+4420',
    answerTime: answer,
    usage,
    tor: 'voice',
  });
  if ('error' in out) throw new Error(out.error.message);
  return new Decimal(out.cost);
}

describe('rating invariants', () => {
  it('a cost is never negative and never falls as usage grows', () => {
    fc.assert(
      fc.property(
        tariffArb,
        answerTime,
        fc.integer({ min: 0, max: 7200 }),
        fc.integer({ min: 0, max: 3600 }),
        (t, at, u, more) => {
          const a = cost(t, at, u);
          const b = cost(t, at, u + more);
          expect(a.isNegative()).toBe(false);
          expect(b.greaterThanOrEqualTo(a)).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('the CDR breakdown as text is the breakdown, whatever was priced before it', () => {
    fc.assert(
      fc.property(
        tariffArb,
        fc.array(fc.tuple(answerTime, fc.integer({ min: 0, max: 7200 })), { minLength: 1, maxLength: 8 }),
        (t, events) => {
          for (const [at, u] of [...events, ...events]) {
            const ev = parseEvent({
              tenant: 't',
              category: 'call',
              subject: 's',
              destination: '+4420',
              answerTime: at,
              usage: u,
              tor: 'voice',
            });
            const r = rateEvent(t, ev as RatingEvent);
            if (!r.ok) continue;
            expect(JSON.parse(compactBreakdownJson(r))).toEqual(compactBreakdown(r));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the same event always gets the same price and breakdown', () => {
    fc.assert(
      fc.property(tariffArb, answerTime, fc.integer({ min: 0, max: 7200 }), (t, at, u) => {
        const ev = {
          id: 'x',
          tenant: 't',
          category: 'call',
          subject: 's',
          destination: '+4420',
          answerTime: at,
          usage: u,
          tor: 'voice',
        };
        expect(rateObject(t, ev)).toEqual(rateObject(t, { ...ev }));
      }),
      { numRuns: 300 },
    );
  });

  it('single-slot prices equal an independent decimal.js computation', () => {
    fc.assert(
      fc.property(
        money,
        fc.constantFrom(1, 60, 3600),
        seconds,
        money,
        method,
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 1, max: 20000 }),
        (rate, unit, inc, fee, m, dp, usage) => {
          const t = build({
            destinations: { UK: ['+44'] },
            rates: { R: [slot(rate, unit, inc, 0, fee)] },
            bindings: [{ destination: 'UK', rate: 'R', roundingMethod: m, roundingDecimals: dp }],
          });
          const rated = Math.ceil(usage / inc) * inc;
          const exact = new Decimal(fee).plus(new Decimal(rated).times(rate).div(unit));
          const mode =
            m === 'up' ? Decimal.ROUND_CEIL : m === 'down' ? Decimal.ROUND_FLOOR : Decimal.ROUND_HALF_UP;
          expect(cost(t, '2026-11-16T10:00:00Z', usage).toFixed()).toBe(
            exact.toDecimalPlaces(dp, mode).toFixed(),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });
});
