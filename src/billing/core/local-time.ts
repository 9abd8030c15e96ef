/**
 * Local days of an IANA time zone, to the millisecond, for bill periods: which local day an instant
 * is in and the first instant of a local day. Pure (zone rules come from the runtime's ICU data).
 *
 * Why not src/rating/calendar.ts: it caches offsets per quarter hour and maps a local midnight that
 * does not exist (a DST gap at 00:00, as in America/Santiago) to an instant of the previous day.
 * Period boundaries must be exact and monotonic over centuries of zone history (LMT offsets with
 * seconds, Pacific/Apia skipping 2011-12-30), so the start of a day here is defined as the first
 * instant whose local date is that day or later.
 */
import { civilFromDays } from '../../rating/calendar.js';

export const MS_PER_DAY = 86_400_000;
const MS_PER_HOUR = 3_600_000;
/** Widest distance between UTC and any zone's wall clock, with margin (real offsets stay within ±15 h). */
const SEARCH_MS = 40 * MS_PER_HOUR;
/** Instants between 0001-01-01 and 9999-12-31 only: ICU formats other years with eras. */
const MIN_MS = -62_135_596_800_000;
const MAX_MS = 253_402_300_799_999;

export interface ZoneClock {
  readonly zone: string;
  /** Days since 1970-01-01 of the local date of the instant. */
  dayNumber(ms: number): number;
  /** The first instant whose local date is `dayNumber` or later. */
  startOfDay(dayNumber: number): number;
}

export function isValidZone(zone: string): boolean {
  if (typeof zone !== 'string' || zone.length > 64 || !/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function assertInstant(ms: number, name: string): void {
  if (!Number.isSafeInteger(ms) || ms < MIN_MS || ms > MAX_MS) {
    throw new RangeError(`${name} must be an integer epoch ms between years 1 and 9999`);
  }
}

const clocks = new Map<string, ZoneClock>();

/** One clock per zone, memoized (bounded): building a formatter costs far more than using it. */
export function zoneClock(zone: string): ZoneClock {
  let clock = clocks.get(zone);
  if (clock === undefined) {
    if (!isValidZone(zone)) throw new RangeError(`"${zone}" is not an IANA time zone`);
    clock = makeZoneClock(zone);
    if (clocks.size > 1000) clocks.clear();
    clocks.set(zone, clock);
  }
  return clock;
}

function makeZoneClock(zone: string): ZoneClock {
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const starts = new Map<number, number>();
  const isUtc = zone === 'UTC' || zone === 'Etc/UTC';

  /** Local wall clock minus UTC at a whole second, in ms (ICU has no finer offsets). */
  function exactOffsetAt(second: number): number {
    const p: Record<string, number> = {};
    for (const part of fmt.formatToParts(second))
      if (part.type !== 'literal') p[part.type] = Number(part.value);
    const wall = new Date(0);
    wall.setUTCFullYear(p.year!, p.month! - 1, p.day!);
    wall.setUTCHours(p.hour!, p.minute!, p.second!, 0);
    return wall.getTime() - second;
  }

  // Offsets per UTC hour: when an hour starts and ends on the same offset it holds throughout (no zone
  // changes twice within an hour); an hour with a transition inside is asked to the second each time.
  const hourOffsets = new Map<number, number | null>();

  function offsetAt(ms: number): number {
    if (isUtc) return 0;
    const second = ms - (((ms % 1000) + 1000) % 1000);
    const hour = Math.floor(ms / MS_PER_HOUR);
    let offset = hourOffsets.get(hour);
    if (offset === undefined) {
      const first = exactOffsetAt(hour * MS_PER_HOUR);
      offset = first === exactOffsetAt((hour + 1) * MS_PER_HOUR - 1000) ? first : null;
      if (hourOffsets.size > 200_000) hourOffsets.clear();
      hourOffsets.set(hour, offset);
    }
    return offset ?? exactOffsetAt(second);
  }

  const reached = (ms: number, wallMs: number): boolean => ms + offsetAt(ms) >= wallMs;

  function computeStart(dayNumber: number): number {
    const wallMs = dayNumber * MS_PER_DAY;
    // Usually two fixed-point steps land on local midnight; check that it is the first such instant.
    let guess = wallMs - offsetAt(wallMs);
    for (let i = 0; i < 2; i++) {
      if (reached(guess, wallMs) && !reached(guess - 1, wallMs)) return guess;
      guess = wallMs - offsetAt(guess);
    }
    // Midnight falls in a gap (or a day was skipped): the day starts at the transition itself.
    let lo = wallMs - SEARCH_MS;
    let hi = wallMs + SEARCH_MS;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (reached(mid, wallMs)) hi = mid;
      else lo = mid;
    }
    return hi;
  }

  return {
    zone,
    dayNumber: (ms) => Math.floor((ms + offsetAt(ms)) / MS_PER_DAY),
    startOfDay(dayNumber) {
      let start = starts.get(dayNumber);
      if (start === undefined) {
        start = computeStart(dayNumber);
        if (starts.size > 200_000) starts.clear();
        starts.set(dayNumber, start);
      }
      return start;
    },
  };
}

/** Days since 1970-01-01 of a civil date, proleptic Gregorian (H. Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : MONTH_DAYS[month - 1]!;
}

/** "YYYY-MM-DD" of a day number. */
export function isoDate(dayNumber: number): string {
  const c = civilFromDays(dayNumber);
  return `${String(c.year).padStart(4, '0')}-${String(c.month).padStart(2, '0')}-${String(c.day).padStart(2, '0')}`;
}

/** The local date of an instant in a zone, "YYYY-MM-DD". */
export function localDate(ms: number, zone: string): string {
  assertInstant(ms, 'instant');
  return isoDate(zoneClock(zone).dayNumber(ms));
}
