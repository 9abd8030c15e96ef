/**
 * Bill cycles and plan periods as UTC instants computed in the account's IANA zone.
 *
 * Every cycle is a sequence of anchors indexed by an integer k: a month cycle anchors at local
 * midnight of `billCycleDay` (29–31 clamp to the month's last day and return to the anchor day the
 * next month: 31 Jan → 28/29 Feb → 31 Mar), a week cycle at local midnight of an ISO weekday, a day
 * cycle at every local midnight. Period k is [anchor(k−1), anchor(k)). Anchors only depend on local
 * dates and are strictly increasing, so periods tile time with no gap and no overlap, and a DST
 * day simply has 23 or 25 hours.
 */
import { assertInstant, daysFromCivil, daysInMonth, zoneClock, type ZoneClock } from './local-time.js';
import { civilFromDays } from '../../rating/calendar.js';

export { isValidZone, localDate } from './local-time.js';

export type PlanPeriod = 'month' | 'week' | 'day';

export interface Period {
  /** UTC ms, inclusive. */
  start: number;
  /** UTC ms, exclusive. */
  end: number;
}

interface Cycle {
  /** The local day number of anchor k. */
  anchorDay(k: number): number;
  /** An index whose anchor is on or before the given local day (the search walks forward from it). */
  indexBefore(dayNumber: number): number;
}

function monthCycle(billCycleDay: number): Cycle {
  return {
    anchorDay(k) {
      const year = Math.floor(k / 12);
      const month = k - year * 12 + 1;
      return daysFromCivil(year, month, Math.min(billCycleDay, daysInMonth(year, month)));
    },
    indexBefore(dayNumber) {
      const c = civilFromDays(dayNumber);
      return c.year * 12 + c.month - 2;
    },
  };
}

/** ISO weekday 1 (Monday) … 7 (Sunday); 1970-01-01 (day 0) was a Thursday. */
function weekCycle(weekDay: number): Cycle {
  const first = (((weekDay - 4) % 7) + 7) % 7;
  return {
    anchorDay: (k) => first + 7 * k,
    indexBefore: (dayNumber) => Math.floor((dayNumber - first) / 7) - 1,
  };
}

const dayCycle: Cycle = { anchorDay: (k) => k, indexBefore: (dayNumber) => dayNumber - 1 };

function cycleOf(period: PlanPeriod, anchorDay: number): Cycle {
  switch (period) {
    case 'month':
      if (!Number.isInteger(anchorDay) || anchorDay < 1 || anchorDay > 31) {
        throw new RangeError('billCycleDay must be an integer from 1 to 31');
      }
      return monthCycle(anchorDay);
    case 'week':
      if (!Number.isInteger(anchorDay) || anchorDay < 1 || anchorDay > 7) {
        throw new RangeError('the anchor of a week period is an ISO weekday from 1 (Monday) to 7 (Sunday)');
      }
      return weekCycle(anchorDay);
    case 'day':
      return dayCycle;
    default:
      throw new RangeError(`unknown period "${String(period)}"`);
  }
}

const anchorAt = (clock: ZoneClock, cycle: Cycle, k: number): number => clock.startOfDay(cycle.anchorDay(k));

/** The index of the first anchor strictly after the instant. */
function firstIndexAfter(clock: ZoneClock, cycle: Cycle, ms: number): number {
  let k = cycle.indexBefore(clock.dayNumber(ms));
  while (anchorAt(clock, cycle, k) > ms) k--;
  while (anchorAt(clock, cycle, k) <= ms) k++;
  return k;
}

/** The first local midnight on billCycleDay (clamped to month end) strictly after the instant. */
export function nextAnchor(afterUtcMs: number, billCycleDay: number, zone: string): number {
  assertInstant(afterUtcMs, 'afterUtcMs');
  const clock = zoneClock(zone);
  const cycle = cycleOf('month', billCycleDay);
  return anchorAt(clock, cycle, firstIndexAfter(clock, cycle, afterUtcMs));
}

/** The bill period [start, end) containing the instant. */
export function billPeriodAt(instantMs: number, billCycleDay: number, zone: string): Period {
  assertInstant(instantMs, 'instantMs');
  const clock = zoneClock(zone);
  const cycle = cycleOf('month', billCycleDay);
  const k = firstIndexAfter(clock, cycle, instantMs);
  return { start: anchorAt(clock, cycle, k - 1), end: anchorAt(clock, cycle, k) };
}

function checkCount(count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > 12) {
    throw new RangeError('count must be an integer from 1 to 12');
  }
}

/**
 * The end of a plan period that starts at startMs: the count-th anchor strictly after it. A start on
 * an anchor gives a whole period; a start between anchors (a mid-cycle assignment) gives the partial
 * stretch to the next anchor plus count − 1 whole periods. anchorDay: day of month for 'month', ISO
 * weekday for 'week', ignored for 'day'.
 */
export function planPeriodEnd(
  startMs: number,
  period: PlanPeriod,
  count: number,
  anchorDay: number,
  zone: string,
): number {
  assertInstant(startMs, 'startMs');
  checkCount(count);
  const clock = zoneClock(zone);
  const cycle = cycleOf(period, anchorDay);
  return anchorAt(clock, cycle, firstIndexAfter(clock, cycle, startMs) + count - 1);
}

/** The start of the whole plan period that ends at endMs (an anchor): count anchors earlier. */
export function planPeriodStart(
  endMs: number,
  period: PlanPeriod,
  count: number,
  anchorDay: number,
  zone: string,
): number {
  assertInstant(endMs, 'endMs');
  checkCount(count);
  const clock = zoneClock(zone);
  const cycle = cycleOf(period, anchorDay);
  const k = firstIndexAfter(clock, cycle, endMs - 1);
  if (anchorAt(clock, cycle, k) !== endMs) throw new RangeError('endMs is not an anchor of this cycle');
  return anchorAt(clock, cycle, k - count);
}
