/**
 * E.6 #1 — bill cycles: over random (billCycleDay, zone, start) across 400 years, periods tile time
 * with no gap and no overlap and each anchor is the first instant of the expected local date; day 31
 * goes to Feb 28/29 and back to Mar 31; DST days are 23/25 hours with correct local dates.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  billPeriodAt,
  isValidZone,
  localDate,
  nextAnchor,
  planPeriodEnd,
  planPeriodStart,
} from '../../../src/billing/core/periods.js';
import { localDaysBetween } from '../../../src/billing/core/proration.js';

const HOUR = 3_600_000;
const YEAR_1800 = Date.UTC(1800, 0, 1);
const YEAR_2200 = Date.UTC(2200, 0, 1);

/** Ordinary, half-hour, 45-minute, southern-hemisphere, midnight-DST and day-skipping zones. */
const ZONES = [
  'UTC',
  'Europe/Madrid',
  'Australia/Sydney',
  'America/New_York',
  'America/Santiago',
  'America/Sao_Paulo',
  'America/St_Johns',
  'Asia/Kolkata',
  'Asia/Tehran',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'Pacific/Apia',
  'Pacific/Kiritimati',
  'Africa/Casablanca',
  'Asia/Beirut',
];

/** Independent of the code under test: the anchor date of a month, day clamped to month end. */
function expectedAnchorDate(year: number, month: number, billCycleDay: number): string {
  const last = new Date(Date.UTC(2000, month, 0)).setUTCFullYear(year, month, 0);
  const day = Math.min(billCycleDay, new Date(last).getUTCDate());
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** The local date straight from ICU, independently of src/billing/core/local-time.ts. */
const formatters = new Map<string, Intl.DateTimeFormat>();
function icuDate(ms: number, zone: string): string {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone: zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f.format(ms);
}

/** An anchor must be the first instant of its local date (or of a later one, when that date was skipped). */
function expectFirstInstantOf(anchor: number, date: string, zone: string): void {
  expect(icuDate(anchor, zone) >= date).toBe(true);
  expect(icuDate(anchor - 1, zone) < date).toBe(true);
  expect(localDate(anchor, zone)).toBe(icuDate(anchor, zone));
}

function monthAfter(date: string): [number, number] {
  const [y, m] = date.split('-').map(Number) as [number, number];
  return m === 12 ? [y + 1, 1] : [y, m + 1];
}

describe('bill periods tile time (property, 400 years)', () => {
  it('consecutive periods share their boundary, contain their instants and anchor on the right local date', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 31 }),
        fc.constantFrom(...ZONES),
        fc.integer({ min: YEAR_1800, max: YEAR_2200 }),
        (billCycleDay, zone, start) => {
          expect(localDate(start, zone)).toBe(icuDate(start, zone));
          let period = billPeriodAt(start, billCycleDay, zone);
          expect(period.start <= start && start < period.end).toBe(true);
          expect(nextAnchor(start, billCycleDay, zone)).toBe(period.end);
          for (let i = 0; i < 14; i++) {
            const next = billPeriodAt(period.end, billCycleDay, zone);
            expect(next.start).toBe(period.end); // no gap, no overlap
            expect(next.end).toBeGreaterThan(next.start);
            expect(billPeriodAt(next.end - 1, billCycleDay, zone)).toEqual(next);
            const [y, m] = monthAfter(localDate(period.end, zone));
            expectFirstInstantOf(next.end, expectedAnchorDate(y, m, billCycleDay), zone);
            period = next;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('walks 400 years of day-31 periods in Europe/Madrid and day-30 periods in Australia/Sydney', () => {
    for (const [zone, billCycleDay] of [
      ['Europe/Madrid', 31],
      ['Australia/Sydney', 30],
    ] as const) {
      let anchor = nextAnchor(YEAR_1800, billCycleDay, zone);
      let months = 0;
      while (anchor < YEAR_2200) {
        const next = nextAnchor(anchor, billCycleDay, zone);
        expect(billPeriodAt(anchor, billCycleDay, zone)).toEqual({ start: anchor, end: next });
        const [y, m] = monthAfter(localDate(anchor, zone));
        expectFirstInstantOf(next, expectedAnchorDate(y, m, billCycleDay), zone);
        anchor = next;
        months++;
      }
      expect(months).toBeGreaterThanOrEqual(4799);
    }
  });
});

describe('month-end anchors clamp and return', () => {
  it.each([
    [2027, ['2027-01-31', '2027-02-28', '2027-03-31', '2027-04-30', '2027-05-31']],
    [2028, ['2028-01-31', '2028-02-29', '2028-03-31', '2028-04-30', '2028-05-31']],
  ])('day 31 in %i: Jan 31 → Feb end → Mar 31', (year, dates) => {
    let at = Date.UTC(year, 0, 15);
    for (const date of dates) {
      at = nextAnchor(at, 31, 'Europe/Madrid');
      expect(localDate(at, 'Europe/Madrid')).toBe(date);
      expect(localDate(at - 1, 'Europe/Madrid')).not.toBe(date);
    }
  });
});

describe('DST', () => {
  const dayLength = (date: string, zone: string): { hours: number; start: string; end: string } => {
    const [y, m, d] = date.split('-').map(Number) as [number, number, number];
    const start = planPeriodEnd(Date.UTC(y, m - 1, d) - 20 * HOUR, 'day', 1, 0, zone);
    const end = planPeriodEnd(start, 'day', 1, 0, zone);
    return { hours: (end - start) / HOUR, start: localDate(start, zone), end: localDate(end, zone) };
  };

  it.each([
    ['2026-03-29', 'Europe/Madrid', 23],
    ['2026-10-25', 'Europe/Madrid', 25],
    ['2026-03-28', 'Europe/Madrid', 24],
    ['2026-04-05', 'Australia/Sydney', 25],
    ['2026-10-04', 'Australia/Sydney', 23],
    ['2022-09-11', 'America/Santiago', 23], // the clock jumps from 00:00 to 01:00
    ['2026-10-04', 'Australia/Lord_Howe', 23.5],
  ])('%s in %s lasts %s hours', (date, zone, hours) => {
    const day = dayLength(date, zone);
    expect(day).toEqual({ hours, start: date, end: day.end });
    expect(day.end > date).toBe(true);
  });

  it('a month period holding a DST day is 31 local days of 743 or 745 hours', () => {
    const march = billPeriodAt(Date.UTC(2026, 2, 15), 1, 'Europe/Madrid');
    expect(localDate(march.start, 'Europe/Madrid')).toBe('2026-03-01');
    expect(localDate(march.end, 'Europe/Madrid')).toBe('2026-04-01');
    expect((march.end - march.start) / HOUR).toBe(31 * 24 - 1);
    const october = billPeriodAt(Date.UTC(2026, 9, 15), 1, 'Europe/Madrid');
    expect((october.end - october.start) / HOUR).toBe(31 * 24 + 1);
    const sydney = billPeriodAt(Date.UTC(2026, 3, 15), 1, 'Australia/Sydney');
    expect(localDate(sydney.start, 'Australia/Sydney')).toBe('2026-04-01');
    expect((sydney.end - sydney.start) / HOUR).toBe(30 * 24 + 1);
  });

  it('a local date that never happened (Pacific/Apia skipped 2011-12-30) anchors on the next day', () => {
    const anchor = nextAnchor(Date.UTC(2011, 11, 1), 30, 'Pacific/Apia');
    expect(localDate(anchor, 'Pacific/Apia')).toBe('2011-12-31');
    expect(localDate(anchor - 1, 'Pacific/Apia')).toBe('2011-12-29');
    expect(localDate(nextAnchor(anchor, 30, 'Pacific/Apia'), 'Pacific/Apia')).toBe('2012-01-30');
  });
});

describe('plan periods', () => {
  const zone = 'Europe/London';
  const at = (iso: string): number => Date.parse(iso);

  it('months: an aligned start gives whole periods, a mid-cycle start the stretch to the next anchor', () => {
    expect(planPeriodEnd(at('2026-11-01T00:00:00Z'), 'month', 1, 1, zone)).toBe(at('2026-12-01T00:00:00Z'));
    expect(planPeriodEnd(at('2026-11-17T10:00:00Z'), 'month', 1, 1, zone)).toBe(at('2026-12-01T00:00:00Z'));
    expect(planPeriodEnd(at('2026-11-17T10:00:00Z'), 'month', 3, 1, zone)).toBe(at('2027-02-01T00:00:00Z'));
    expect(planPeriodStart(at('2027-02-01T00:00:00Z'), 'month', 3, 1, zone)).toBe(at('2026-11-01T00:00:00Z'));
    expect(planPeriodEnd(at('2027-01-31T00:00:00Z'), 'month', 1, 31, zone)).toBe(at('2027-02-28T00:00:00Z'));
  });

  it('weeks anchor on an ISO weekday; days on every local midnight', () => {
    // 2026-12-07 is a Monday.
    expect(planPeriodEnd(at('2026-12-09T12:00:00Z'), 'week', 1, 1, zone)).toBe(at('2026-12-14T00:00:00Z'));
    expect(planPeriodEnd(at('2026-12-09T12:00:00Z'), 'week', 2, 7, zone)).toBe(at('2026-12-20T00:00:00Z'));
    expect(planPeriodStart(at('2026-12-14T00:00:00Z'), 'week', 1, 1, zone)).toBe(at('2026-12-07T00:00:00Z'));
    expect(planPeriodEnd(at('2026-07-01T23:30:00Z'), 'day', 1, 0, zone)).toBe(at('2026-07-02T23:00:00Z'));
  });

  it('plan periods tile, last whole local days and find their start again (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('month' as const, 'week' as const, 'day' as const),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 31 }),
        fc.constantFrom(
          'Europe/Madrid',
          'Australia/Sydney',
          'America/Santiago',
          'Australia/Lord_Howe',
          'UTC',
        ),
        fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2060, 0, 1) }),
        (period, count, day, zone, start) => {
          const anchorDay = period === 'week' ? ((day - 1) % 7) + 1 : day;
          const first = planPeriodEnd(start, period, count, anchorDay, zone);
          expect(first).toBeGreaterThan(start);
          expect(planPeriodStart(first, period, count, anchorDay, zone)).toBeLessThanOrEqual(start);
          let from = first;
          for (let i = 0; i < 3; i++) {
            const to = planPeriodEnd(from, period, count, anchorDay, zone);
            expect(planPeriodStart(to, period, count, anchorDay, zone)).toBe(from);
            const days = localDaysBetween(from, to, zone);
            if (period === 'day') expect(days).toBe(count);
            if (period === 'week') expect(days).toBe(7 * count);
            if (period === 'month') expect(days >= 28 * count && days <= 31 * count).toBe(true);
            expect(icuDate(to - 1, zone) < icuDate(to, zone)).toBe(true);
            from = to;
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a cycle day of 0 or 32, a bad weekday, a bad count, a zone that is not IANA', () => {
    expect(() => nextAnchor(0, 0, zone)).toThrow(RangeError);
    expect(() => nextAnchor(0, 32, zone)).toThrow(RangeError);
    expect(() => nextAnchor(0, 1.5, zone)).toThrow(RangeError);
    expect(() => planPeriodEnd(0, 'week', 1, 8, zone)).toThrow(RangeError);
    expect(() => planPeriodEnd(0, 'month', 13, 1, zone)).toThrow(RangeError);
    expect(() => planPeriodStart(1, 'month', 1, 1, zone)).toThrow(RangeError);
    expect(() => billPeriodAt(0, 1, 'Mars/Olympus')).toThrow(RangeError);
    expect(() => billPeriodAt(Number.NaN, 1, zone)).toThrow(RangeError);
    expect(isValidZone('Europe/Madrid')).toBe(true);
    expect(isValidZone('UTC')).toBe(true);
    for (const bad of ['Mars/Olympus', '+01:00', '', 'Europe/Madrid ', '../etc/passwd']) {
      expect(isValidZone(bad)).toBe(false);
    }
  });
});
