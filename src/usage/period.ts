/**
 * Pure rules of the usage views: which days a query covers and which month a period names. Days are
 * UTC dates (YYYY-MM-DD), ranges inclusive of both ends.
 */

/** The longest range the daily view answers in one call. */
export const MAX_DAILY_DAYS = 93;

const DAY_MS = 86_400_000;
const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The date of YYYY-MM-DD as epoch ms at UTC midnight, or undefined when it is not a real date. */
export function parseDay(s: string): number | undefined {
  const m = ISO_DAY.exec(s);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(ms).toISOString().slice(0, 10) === s ? ms : undefined;
}

export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export type RangeProblem = { param: 'from' | 'to'; reason: string };

/**
 * The days a daily query covers: `to` defaults to today, `from` to 29 days before `to`. A problem
 * names the parameter at fault (a bad date, from after to, more than MAX_DAILY_DAYS days).
 */
export function dailyRange(
  q: { from?: string | undefined; to?: string | undefined },
  nowMs: number,
): { from: string; to: string; days: number } | RangeProblem {
  const to = q.to === undefined ? Math.floor(nowMs / DAY_MS) * DAY_MS : parseDay(q.to);
  if (to === undefined) return { param: 'to', reason: 'not a date (YYYY-MM-DD)' };
  const from = q.from === undefined ? to - 29 * DAY_MS : parseDay(q.from);
  if (from === undefined) return { param: 'from', reason: 'not a date (YYYY-MM-DD)' };
  if (from > to) return { param: 'from', reason: 'after to' };
  const days = (to - from) / DAY_MS + 1;
  if (days > MAX_DAILY_DAYS) return { param: 'from', reason: `more than ${MAX_DAILY_DAYS} days before to` };
  return { from: dayOf(from), to: dayOf(to), days };
}

/** Every day of an inclusive range, in order. */
export function daysOf(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = parseDay(from)!; d <= parseDay(to)!; d += DAY_MS) out.push(dayOf(d));
  return out;
}

/**
 * The calendar month (UTC) a summary period names: `current`, `previous`, or `YYYY-MM`; first and
 * last day, inclusive. Undefined for anything else.
 */
export function periodMonth(period: string, nowMs: number): { from: string; to: string } | undefined {
  const now = new Date(nowMs);
  let y = now.getUTCFullYear();
  let m = now.getUTCMonth();
  if (period === 'previous') m -= 1;
  else if (period !== 'current') {
    const p = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(period);
    if (!p) return undefined;
    y = Number(p[1]);
    m = Number(p[2]) - 1;
  }
  const first = Date.UTC(y, m, 1);
  const last = Date.UTC(y, m + 1, 1) - DAY_MS;
  return { from: dayOf(first), to: dayOf(last) };
}
