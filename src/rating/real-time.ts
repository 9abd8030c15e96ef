/**
 * Whether a time already in ISO-8601 shape names a real instant the engine can keep. Date.parse
 * rolls 31 November over to 1 December and takes year 0000; PostgreSQL refuses both, and a year past
 * 9999 (9999-12-31T23:00-12:00) or before the epoch has no monthly partition to go to, so a CDR
 * holding one would stop a whole import. Checked with character arithmetic: it runs once per CDR line.
 */

/** The years a time may be written in (epoch ms stay positive; UTC stays within four digits). */
export const FIRST_YEAR = 1970;
export const LAST_YEAR = 9998;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The two-digit number at `at`. */
function two(s: string, at: number): number {
  return (s.charCodeAt(at) - 48) * 10 + s.charCodeAt(at + 1) - 48;
}

function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}

/**
 * `s` matches YYYY-MM-DDThh:mm[:ss[.f]](Z|±hh[:]mm): a year FIRST_YEAR … LAST_YEAR, a day its month has,
 * hours 00-23, minutes and seconds 00-59, an offset of at most 14:00 (the widest in use).
 */
export function isRealTime(s: string): boolean {
  const year = two(s, 0) * 100 + two(s, 2);
  const month = two(s, 5);
  if (year < FIRST_YEAR || year > LAST_YEAR || month < 1 || month > 12) return false;
  const day = two(s, 8);
  if (day < 1 || day > daysIn(year, month)) return false;
  if (two(s, 11) > 23 || two(s, 14) > 59) return false;
  if (s.charCodeAt(16) === 58 && two(s, 17) > 59) return false; // ':' then seconds
  if (s.endsWith('Z')) return true;
  const hours = two(s, s.length - (s.charCodeAt(s.length - 3) === 58 ? 5 : 4));
  const minutes = two(s, s.length - 2);
  return minutes <= 59 && hours * 60 + minutes <= 14 * 60;
}
