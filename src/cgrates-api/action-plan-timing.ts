/**
 * A CGRateS action plan's timings (apier/v1 AttrActionPlan) read as what the engine's plan renewal
 * can do (pure, no I/O): `*asap` runs once at binding; `*monthly`, `*weekly`, `*daily`,
 * `*month_end` and explicit MonthDays / WeekDays at midnight become a plan period and its anchor.
 * The RITiming kept beside it is what GetActionPlan shows.
 */
import { requestHash } from '../billing/plans/db.js';
import { CgrError, notImplemented } from './errors.js';
import { fields, type Obj } from './params.js';

/** engine.RITiming as CGRateS marshals it (unset lists are null, a default timing's are []). */
export interface RITiming {
  ID: string;
  Years: number[] | null;
  Months: number[] | null;
  MonthDays: number[] | null;
  WeekDays: number[] | null;
  StartTime: string;
  EndTime: string;
}

export type TimingKind = 'asap' | 'month' | 'week' | 'day';

export interface StoredTiming {
  uuid: string;
  actionsId: string;
  weight: number;
  kind: TimingKind;
  /** Month day 1-31 (31 = the month's last day), ISO weekday 1-7, 1 for days, 0 for *asap. */
  anchorDay: number;
  timing: RITiming;
}

export const ASAP = '*asap';
const MIDNIGHT = '00:00:00';

/** The ISO weekday (7 = Sunday) of Go's time.Weekday (0 = Sunday). */
const isoWeekday = (go: number) => (go === 0 ? 7 : go);

/** The defaults checkDefaultTiming knows: their period, anchor (from `now`, UTC) and shown lists. */
function defaultTiming(
  time: string,
  nowMs: number,
): Omit<StoredTiming, 'uuid' | 'actionsId' | 'weight'> | undefined {
  const now = new Date(nowMs);
  const day = now.getUTCDate();
  const timing = (monthDays: number[], weekDays: number[]): RITiming => ({
    ID: time,
    Years: [],
    Months: [],
    MonthDays: monthDays,
    WeekDays: weekDays,
    StartTime: MIDNIGHT,
    EndTime: '',
  });
  if (time === '*monthly' || time === '*monthly_estimated')
    return { kind: 'month', anchorDay: day, timing: timing([day], []) };
  if (time === '*month_end') return { kind: 'month', anchorDay: 31, timing: timing([-1], []) };
  if (time === '*weekly') {
    const go = now.getUTCDay();
    return { kind: 'week', anchorDay: isoWeekday(go), timing: timing([], [go]) };
  }
  if (time === '*daily') return { kind: 'day', anchorDay: 1, timing: timing([], []) };
  if (time === '*yearly' || time === '*hourly' || time === '*every_minute')
    throw notImplemented(`timing ${time} (plans renew by month, week or day)`);
  return undefined;
}

/** utils.Years/MonthDays/WeekDays.Parse: "" or *any = unset (null), else ";"-separated integers. */
function intList(s: string, field: string): number[] | null {
  if (s === '' || s === '*any') return null;
  const parts = s.split(';');
  if (!parts.every((p) => /^-?\d{1,4}$/.test(p))) throw new CgrError(`UNSUPPORTED_FORMAT:${field}:${s}`);
  return parts.map(Number);
}

/** apier/v1 verifyFormat: "", *asap or hh:mm:ss. */
function checkTime(time: string): void {
  const ok = time === '' || time === ASAP || (time.length <= 8 && /^\d+:\d+:\d+$/.test(time));
  if (!ok) throw new CgrError(`UNSUPPORTED_FORMAT:${time}`);
}

/** Explicit lists: one month day (or -1, the last) or one weekday, at midnight; none = every day. */
function explicitKind(t: RITiming): { kind: TimingKind; anchorDay: number } {
  if (t.Years || t.Months) throw notImplemented('Years and Months in an action plan timing');
  if (t.StartTime !== '' && !/^0+:0+:0+$/.test(t.StartTime))
    throw notImplemented(`Time ${t.StartTime} (plans renew at local midnight: give 00:00:00)`);
  const md = t.MonthDays;
  const wd = t.WeekDays;
  if (md && wd) throw notImplemented('both MonthDays and WeekDays in one timing');
  if (md) {
    const d = md[0]!;
    if (md.length !== 1 || !(d === -1 || (d >= 1 && d <= 31)))
      throw notImplemented(`MonthDays ${md.join(';')}: one day from 1 to 31, or -1 (the last)`);
    return { kind: 'month', anchorDay: d === -1 ? 31 : d };
  }
  if (wd) {
    const d = wd[0]!;
    if (wd.length !== 1 || d < 0 || d > 6)
      throw notImplemented(`WeekDays ${wd.join(';')}: one weekday from 0 (Sunday) to 6`);
    return { kind: 'week', anchorDay: isoWeekday(d) };
  }
  return { kind: 'day', anchorDay: 1 };
}

/** One AttrActionPlan entry, checked as SetActionPlan checks it (mandatory fields first). */
export function readTiming(a: Obj, uuid: string, nowMs: number): StoredTiming {
  const f = fields(a, 'AttrActionPlan');
  const actionsId = f.str('ActionsId');
  const time = f.str('Time');
  const weight = f.num('Weight');
  const missing = [!actionsId && 'ActionsId', !time && 'Time', !weight && 'Weight'].filter(Boolean);
  if (missing.length) throw new CgrError(`MANDATORY_IE_MISSING:Action:${actionsId}:[${missing.join(' ')}]`);
  const base = { uuid, actionsId, weight };
  const dflt = defaultTiming(time, nowMs);
  if (dflt) return { ...base, ...dflt };
  checkTime(time);
  const timing: RITiming = {
    ID: f.str('TimingID'),
    Years: intList(f.str('Years'), 'Years'),
    Months: intList(f.str('Months'), 'Months'),
    MonthDays: intList(f.str('MonthDays'), 'MonthDays'),
    WeekDays: intList(f.str('WeekDays'), 'WeekDays'),
    StartTime: time,
    EndTime: '',
  };
  if (time === ASAP) return { ...base, kind: 'asap', anchorDay: 0, timing };
  return { ...base, ...explicitKind(timing), timing };
}

/** The same timing as another (a retried Overwrite keeps the bindings): all but the uuid. */
export function sameTimings(a: StoredTiming[], b: StoredTiming[]): boolean {
  // Keys sorted: the stored timings come back from jsonb in its own key order.
  const strip = (t: StoredTiming[]) => requestHash(t.map(({ uuid: _uuid, ...rest }) => rest));
  return strip(a) === strip(b);
}
