/**
 * Calendar days in a tariff's time zone: which local day an instant falls in, when that day
 * starts and ends (in UTC ms), and its date parts. Pure: the time zone rules come from the
 * runtime's ICU data (Intl), never from the clock. UTC takes a pure-arithmetic fast path.
 */

const MS_PER_DAY = 86_400_000;

export interface LocalDay {
  /** Days since 1970-01-01 in local time. */
  dayNumber: number;
  /** UTC instants of local midnight and of the next local midnight. */
  startMs: number;
  endMs: number;
  year: number;
  /** 1..12 */
  month: number;
  /** 1..31 */
  monthDay: number;
  /** ISO: 1 = Monday .. 7 = Sunday */
  weekDay: number;
}

export interface Calendar {
  readonly timezone: string;
  /** The local day containing the UTC instant `ms`. */
  dayOf(ms: number): LocalDay;
  /** The UTC instant of a local wall-clock time, given as ms since the local epoch. */
  wallToUtc(wallMs: number): number;
}

/** Civil date from days since 1970-01-01 (H. Hinnant's algorithm, proleptic Gregorian). */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

function isoWeekDay(dayNumber: number): number {
  // 1970-01-01 was a Thursday (ISO 4).
  return ((((dayNumber + 3) % 7) + 7) % 7) + 1;
}

function makeDay(dayNumber: number, startMs: number, endMs: number): LocalDay {
  const c = civilFromDays(dayNumber);
  return {
    dayNumber,
    startMs,
    endMs,
    year: c.year,
    month: c.month,
    monthDay: c.day,
    weekDay: isoWeekDay(dayNumber),
  };
}

function utcCalendar(): Calendar {
  let last = makeDay(0, 0, MS_PER_DAY);
  const days = new Map<number, LocalDay>();
  return {
    timezone: 'UTC',
    dayOf(ms) {
      if (ms >= last.startMs && ms < last.endMs) return last;
      const n = Math.floor(ms / MS_PER_DAY);
      let day = days.get(n);
      if (day === undefined) {
        day = makeDay(n, n * MS_PER_DAY, (n + 1) * MS_PER_DAY);
        if (days.size > 100_000) days.clear();
        days.set(n, day);
      }
      return (last = day);
    },
    wallToUtc: (wallMs) => wallMs,
  };
}

export function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Builds a calendar for an IANA zone. Offsets are cached per quarter hour, days per day number. */
export function makeCalendar(timezone: string): Calendar {
  if (timezone === 'UTC' || timezone === 'Etc/UTC') return utcCalendar();
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const offsets = new Map<number, number>();
  const days = new Map<number, LocalDay>();
  let last: LocalDay = { dayNumber: NaN, startMs: 0, endMs: 0, year: 0, month: 0, monthDay: 0, weekDay: 0 };

  function offsetAt(ms: number): number {
    const bucket = Math.floor(ms / 900_000);
    let off = offsets.get(bucket);
    if (off === undefined) {
      const at = bucket * 900_000;
      const p: Record<string, number> = {};
      for (const part of fmt.formatToParts(at))
        if (part.type !== 'literal') p[part.type] = Number(part.value);
      const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
      off = wall - at;
      if (offsets.size > 100_000) offsets.clear();
      offsets.set(bucket, off);
    }
    return off;
  }

  function wallToUtc(wallMs: number): number {
    const guess = wallMs - offsetAt(wallMs);
    return wallMs - offsetAt(guess);
  }

  return {
    timezone,
    wallToUtc,
    dayOf(ms) {
      if (ms >= last.startMs && ms < last.endMs) return last;
      const n = Math.floor((ms + offsetAt(ms)) / MS_PER_DAY);
      let day = days.get(n);
      if (day === undefined) {
        day = makeDay(n, wallToUtc(n * MS_PER_DAY), wallToUtc((n + 1) * MS_PER_DAY));
        if (days.size > 100_000) days.clear();
        days.set(n, day);
      }
      return (last = day);
    },
  };
}
