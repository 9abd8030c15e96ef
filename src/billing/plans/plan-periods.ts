/**
 * A plan's periods on an account (pure): the anchor (the bill cycle day for monthly plans, the start's
 * weekday for weekly ones), the first period from an assignment's start (partial, prorated by local
 * days) and the whole ones after it, and the expiry of a rollover kept for n periods.
 */
import { localDate, planPeriodEnd, planPeriodStart } from '../core/periods.js';
import { localDaysBetween } from '../core/proration.js';
import type { PlanVersionBody } from './plan-body.js';

export interface PlanClock {
  period: PlanVersionBody['period'];
  count: number;
  anchorDay: number;
  zone: string;
}

/** ISO weekday (1 = Monday) of the local date of an instant. */
function isoWeekday(ms: number, zone: string): number {
  const [y, m, d] = localDate(ms, zone).split('-').map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
  return day === 0 ? 7 : day;
}

export function anchorDayFor(
  plan: PlanVersionBody,
  billCycleDay: number,
  startMs: number,
  zone: string,
): number {
  if (plan.period === 'month') return billCycleDay;
  if (plan.period === 'week') return isoWeekday(startMs, zone);
  return 1;
}

/** The end of the period that starts at (or contains) `ms`. */
export function periodEndAfter(k: PlanClock, ms: number): number {
  return planPeriodEnd(ms, k.period, k.count, k.anchorDay, k.zone);
}

/** The first period of an assignment: [start, end), with its share of the whole period in local days. */
export function firstPeriod(k: PlanClock, startMs: number) {
  const end = periodEndAfter(k, startMs);
  const wholeStart = planPeriodStart(end, k.period, k.count, k.anchorDay, k.zone);
  return {
    start: startMs,
    end,
    activeDays: localDaysBetween(startMs, end, k.zone),
    periodDays: localDaysBetween(wholeStart, end, k.zone),
  };
}

/** When a rollover made at a period whose end is `endMs` expires: `periods` periods later. */
export function rolloverExpiry(k: PlanClock, endMs: number, periods: number): number {
  let e = endMs;
  for (let i = 1; i < periods; i++) e = periodEndAfter(k, e);
  return e;
}

export const isoOf = (ms: number) => new Date(ms).toISOString();
