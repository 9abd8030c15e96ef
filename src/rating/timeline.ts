/**
 * Which binding is in force when: timings have a start and no end; at any instant the binding
 * with the highest weight among those whose timing matches the day and has started wins, ties
 * going to the latest start. A voice call is cut at local midnight and wherever a binding of
 * equal or higher weight starts (CGRateS semantics).
 */
import type { Calendar, LocalDay } from './calendar.js';
import type { BindingSet, CompiledBinding, CompiledTiming } from './compile.js';

const MS_PER_DAY = 86_400_000;

export function timingMatches(t: CompiledTiming, day: LocalDay): boolean {
  if (t.always) return true;
  return (
    (t.weekDays === null || t.weekDays.has(day.weekDay)) &&
    (t.monthDays === null || t.monthDays.has(day.monthDay)) &&
    (t.months === null || t.months.has(day.month)) &&
    (t.years === null || t.years.has(day.year))
  );
}

function startMsOf(cal: Calendar, day: LocalDay, t: CompiledTiming): number {
  return t.startSecond === 0 ? day.startMs : cal.wallToUtc(day.dayNumber * MS_PER_DAY + t.startSecond * 1000);
}

export interface Change {
  startMs: number;
  binding: CompiledBinding;
}

/** The points of a day at which the binding in force changes, in order. Memoised per set and day. */
export function dayChanges(set: BindingSet, cal: Calendar, day: LocalDay): Change[] {
  if (set.lastDay === day.dayNumber) return set.lastChanges;
  const cache = set.days;
  let changes = cache.get(day.dayNumber);
  if (changes) {
    set.lastDay = day.dayNumber;
    return (set.lastChanges = changes);
  }
  const candidates: Change[] = [];
  for (const b of set.bindings) {
    if (timingMatches(b.timing, day)) candidates.push({ startMs: startMsOf(cal, day, b.timing), binding: b });
  }
  candidates.sort((a, b) => a.startMs - b.startMs || b.binding.weight - a.binding.weight);
  changes = [];
  let active: Change | undefined;
  for (const c of candidates) {
    if (active && c.startMs === active.startMs) continue; // the heaviest at this start is already in
    if (!active || c.binding.weight >= active.binding.weight) {
      changes.push(c);
      active = c;
    }
  }
  if (cache.size > 4096) cache.clear();
  cache.set(day.dayNumber, changes);
  set.lastDay = day.dayNumber;
  return (set.lastChanges = changes);
}

/** The binding in force at an instant, or null when none of the set's timings covers it. */
export function activeAt(set: BindingSet, cal: Calendar, atMs: number): CompiledBinding | null {
  if (set.constant) return set.constant;
  const changes = dayChanges(set, cal, cal.dayOf(atMs));
  let active: CompiledBinding | null = null;
  for (const c of changes) {
    if (c.startMs > atMs) break;
    active = c.binding;
  }
  return active;
}

export interface TimeSpan {
  /** Offsets from the event start, base units (ns for voice). */
  from: number;
  to: number;
  binding: CompiledBinding;
  /** Index of the activation segment (set by the caller). */
  segment: number;
}

/**
 * Cuts [from, to) of a voice event (offsets in ns from `answerMs`) into spans by local day and
 * binding changes. Returns null when part of the range has no binding in force.
 */
export function voiceSpans(
  set: BindingSet,
  cal: Calendar,
  answerMs: number,
  from: number,
  to: number,
  out: TimeSpan[],
): boolean {
  let x = from;
  while (x < to) {
    const day = cal.dayOf(Math.floor(answerMs + x / 1e6));
    const limit = Math.min(to, (day.endMs - answerMs) * 1e6);
    if (set.constant) {
      out.push({ from: x, to: limit, binding: set.constant, segment: 0 });
      x = limit;
      continue;
    }
    let active: CompiledBinding | null = null;
    let spanStart = x;
    for (const c of dayChanges(set, cal, day)) {
      const at = (c.startMs - answerMs) * 1e6;
      if (at <= x) {
        active = c.binding;
        continue;
      }
      if (at >= limit) break;
      if (!active) return false;
      out.push({ from: spanStart, to: at, binding: active, segment: 0 });
      active = c.binding;
      spanStart = at;
    }
    if (!active) return false;
    out.push({ from: spanStart, to: limit, binding: active, segment: 0 });
    x = limit;
  }
  return true;
}
