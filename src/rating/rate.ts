/**
 * Prices one event: profile and destination (resolve.ts), time spans (timeline.ts), slots by
 * elapsed usage, increments, exact cost, connect fee, max cost, and one rounding of the total.
 * Pure and allocation-light: this is the hot path (see bench/rating.bench.ts).
 */
import type { CompiledBinding, CompiledSlot, CompiledTariff } from './compile.js';
import { ratingError, RatingErrorCode, type RatingError } from './errors.js';
import type { RatingEvent } from './event.js';
import type { RoundingMethod, Tor } from './model.js';
import { NANO_DECIMALS, pow10 } from './money.js';
import { activationCuts, resolve, type Resolution } from './resolve.js';
import { roundRational } from './rounding.js';
import { activeAt, voiceSpans, type TimeSpan } from './timeline.js';

/** What priced one part of the event (more than one only when a voice call crosses an activation). */
export interface Segment {
  subject: string;
  activationTime: string;
  ratingPlan: string;
  destination: string;
  matchedPrefix: string;
}

export interface RatedSpan {
  segment: number;
  /** Offset of the span from the event start and the usage it covers, base units. */
  from: number;
  usage: number;
  /** Usage charged: `usage` rounded up to whole increments. */
  ratedUsage: number;
  increments: number;
  binding: CompiledBinding;
  slot: CompiledSlot;
  /** Exact span cost = costNum / costDen. */
  costNum: bigint;
  costDen: bigint;
}

export interface RatingResult {
  ok: true;
  tor: Tor;
  usage: number;
  ratedUsage: number;
  segments: Segment[];
  spans: RatedSpan[];
  /** Charged connect fee as num / 10^scale (0 when none). */
  connectFee: { num: bigint; scale: number };
  /** Exact total before rounding (after a `free` max cost cap). */
  exactNum: bigint;
  exactDen: bigint;
  maxCostApplied: boolean;
  rounding: { method: RoundingMethod; decimals: number };
  /** The rounded cost: value / 10^scale. */
  cost: { value: bigint; scale: number };
  /** The rounded cost in nano units (half-up if the tariff rounds finer than 1e-9). */
  costNano: bigint;
}

interface Fraction {
  n: bigint;
  d: bigint;
}

function add(acc: Fraction, n: bigint, d: bigint): void {
  if (d === acc.d) acc.n += n;
  else if (acc.d % d === 0n) acc.n += n * (acc.d / d);
  else if (d % acc.d === 0n) {
    acc.n = acc.n * (d / acc.d) + n;
    acc.d = d;
  } else {
    acc.n = acc.n * d + n * acc.d;
    acc.d *= d;
  }
}

/**
 * Adds a span's cost under a `free` max cost: the running total (connect fee included) may reach
 * the cap but not pass it; a total already above the cap (from spans of other bindings) stays as
 * it is. Returns whether the cap held the total.
 */
function addCapped(total: Fraction, n: bigint, d: bigint, cap: { num: bigint; scale: number }): boolean {
  const capDen = pow10(cap.scale);
  const before = { n: total.n, d: total.d };
  add(total, n, d);
  if (total.n * capDen <= cap.num * total.d) return false;
  if (before.n * capDen >= cap.num * before.d) {
    total.n = before.n;
    total.d = before.d;
  } else {
    total.n = cap.num;
    total.d = capDen;
  }
  return true;
}

function slotAt(b: CompiledBinding, elapsed: number): CompiledSlot {
  const slots = b.rate.slots;
  let s = slots[0]!;
  for (let i = 1; i < slots.length && slots[i]!.groupIntervalStart <= elapsed; i++) s = slots[i]!;
  return s;
}

/** Cuts spans again wherever a slot's group interval start (elapsed usage) falls inside them. */
function splitBySlots(spans: TimeSpan[], elapsedBefore: number): { span: TimeSpan; slot: CompiledSlot }[] {
  const out: { span: TimeSpan; slot: CompiledSlot }[] = [];
  for (const span of spans) {
    const slots = span.binding.rate.slots;
    let from = span.from;
    for (const s of slots) {
      const at = s.groupIntervalStart - elapsedBefore;
      if (at > from && at < span.to) {
        out.push({ span: { ...span, from, to: at }, slot: slotAt(span.binding, from + elapsedBefore) });
        from = at;
      }
    }
    out.push({ span: { ...span, from }, slot: slotAt(span.binding, from + elapsedBefore) });
  }
  return out;
}

function segmentOf(r: Resolution): Segment {
  return {
    subject: r.profile.subject,
    activationTime: r.activation.activationTime,
    ratingPlan: r.activation.plan.id,
    destination: r.match.destination,
    matchedPrefix: r.match.matchedPrefix,
  };
}

function unresolved(code: string, ev: RatingEvent): RatingError {
  return code === RatingErrorCode.RATING_PLAN_NOT_FOUND
    ? ratingError(
        RatingErrorCode.RATING_PLAN_NOT_FOUND,
        `no rating profile for tenant "${ev.tenant}", category "${ev.category}", subject "${ev.subject}" or *any`,
      )
    : ratingError(
        RatingErrorCode.UNAUTHORIZED_DESTINATION,
        `no rating plan prices destination "${ev.destination}"`,
      );
}

/** Time spans of the whole event, per activation segment. */
function timeSpans(t: CompiledTariff, ev: RatingEvent, segments: Segment[]): TimeSpan[] | RatingError {
  const who = { tenant: ev.tenant, category: ev.category, destination: ev.destination };
  const endMs = ev.answerTimeMs + ev.usage / 1e6;
  const cuts = ev.tor === 'voice' ? activationCuts(t, who, ev.subject, ev.answerTimeMs, endMs) : [];
  const spans: TimeSpan[] = [];
  let from = 0;
  for (let i = 0; i <= cuts.length; i++) {
    const atMs = i === 0 ? ev.answerTimeMs : cuts[i - 1]!;
    const to = i < cuts.length ? (cuts[i]! - ev.answerTimeMs) * 1e6 : ev.usage;
    const r = resolve(t, who, ev.subject, atMs);
    if (typeof r === 'string') return unresolved(r, ev);
    segments.push(segmentOf(r));
    const before = spans.length;
    const set = r.match.bindings;
    if (ev.tor !== 'voice') {
      const b = activeAt(set, t.calendar, atMs);
      if (b) spans.push({ from, to, binding: b, segment: i });
    } else if (!voiceSpans(set, t.calendar, ev.answerTimeMs, from, to, spans)) {
      return ratingError(
        RatingErrorCode.UNAUTHORIZED_DESTINATION,
        `no rate is in force for part of the call`,
      );
    }
    for (let k = before; k < spans.length; k++) spans[k]!.segment = i;
    from = to;
  }
  return spans;
}

export function rateEvent(t: CompiledTariff, ev: RatingEvent): RatingResult | RatingError {
  const segments: Segment[] = [];
  const spans = timeSpans(t, ev, segments);
  if (!Array.isArray(spans)) return spans;
  if (ev.usage === 0 || spans.length === 0) return zeroResult(ev, segments);

  const elapsedBefore = ev.elapsedBefore ?? 0;
  const rated: RatedSpan[] = [];
  const total: Fraction = { n: 0n, d: 1n };
  const first = spans[0]!.binding;
  const fee = ev.firstSegment === false ? { num: 0n, scale: 0 } : first.rate.connectFee;
  if (fee.num !== 0n) add(total, fee.num, pow10(fee.scale));
  let maxCostApplied = false;
  let rounding = first;
  let cursor = 0; // increments may overrun a span: the next one starts where the last charge ended

  for (const { span, slot } of splitBySlots(spans, elapsedBefore)) {
    if (span.to <= cursor) continue;
    const from = Math.max(span.from, cursor);
    const usage = span.to - from;
    const increments = Math.ceil(usage / slot.rateIncrement);
    const ratedUsage = increments * slot.rateIncrement;
    cursor = from + ratedUsage;
    const costNum = BigInt(ratedUsage) * slot.rateNum;
    const b = span.binding;
    if (b.maxCost && b.maxCostStrategy === 'free') {
      maxCostApplied = addCapped(total, costNum, slot.rateDen, b.maxCost) || maxCostApplied;
    } else add(total, costNum, slot.rateDen);
    if (b.roundingDecimals > rounding.roundingDecimals) rounding = b;
    rated.push({
      segment: span.segment,
      from,
      usage,
      ratedUsage,
      increments,
      binding: b,
      slot,
      costNum,
      costDen: slot.rateDen,
    });
  }
  const cost = roundRational(total.n, total.d, rounding.roundingDecimals, rounding.roundingMethod);
  return {
    ok: true,
    tor: ev.tor,
    usage: ev.usage,
    ratedUsage: rated.reduce((s, r) => s + r.ratedUsage, 0),
    segments,
    spans: rated,
    connectFee: fee,
    exactNum: total.n,
    exactDen: total.d,
    maxCostApplied,
    rounding: { method: rounding.roundingMethod, decimals: rounding.roundingDecimals },
    cost,
    costNano: toNano(cost),
  };
}

function zeroResult(ev: RatingEvent, segments: Segment[]): RatingResult {
  return {
    ok: true,
    tor: ev.tor,
    usage: ev.usage,
    ratedUsage: 0,
    segments,
    spans: [],
    connectFee: { num: 0n, scale: 0 },
    exactNum: 0n,
    exactDen: 1n,
    maxCostApplied: false,
    rounding: { method: 'middle', decimals: 0 },
    cost: { value: 0n, scale: 0 },
    costNano: 0n,
  };
}

function toNano(cost: { value: bigint; scale: number }): bigint {
  if (cost.scale <= NANO_DECIMALS) return cost.value * pow10(NANO_DECIMALS - cost.scale);
  return roundRational(cost.value, pow10(cost.scale), NANO_DECIMALS, 'middle').value;
}
