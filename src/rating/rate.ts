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
import {
  activationCuts,
  profilesOf,
  resolve,
  type Resolution,
  type Unresolved,
  type Who,
} from './resolve.js';
import { roundRational } from './rounding.js';
import { activeAt, voiceSpans, type TimeSpan } from './timeline.js';

export interface RatedSpan {
  /** Index into `segments` (more than one only when a voice call crosses a profile activation). */
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
  segments: Resolution[];
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

function unresolved(code: Unresolved, ev: RatingEvent): RatingError {
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

/** Time spans of the whole event, per activation segment (voice calls are cut at activations). */
function timeSpans(t: CompiledTariff, ev: RatingEvent, segments: Resolution[]): TimeSpan[] | RatingError {
  const who: Who = ev;
  const profiles = profilesOf(t, who);
  const cuts =
    ev.tor === 'voice'
      ? activationCuts(profiles, ev.subject, ev.answerTimeMs, ev.answerTimeMs + ev.usage / 1e6)
      : null;
  const spans: TimeSpan[] = [];
  const n = cuts ? cuts.length : 0;
  let from = 0;
  for (let i = 0; i <= n; i++) {
    const atMs = i === 0 ? ev.answerTimeMs : cuts![i - 1]!;
    const to = i < n ? (cuts![i]! - ev.answerTimeMs) * 1e6 : ev.usage;
    const r = resolve(t, profiles, who, ev.subject, atMs);
    if (typeof r === 'string') return unresolved(r, ev);
    segments.push(r);
    const before = spans.length;
    if (ev.tor !== 'voice') {
      const b = activeAt(r.bindings, t.calendar, atMs);
      if (b) spans.push({ from, to, binding: b, segment: i });
    } else if (!voiceSpans(r.bindings, t.calendar, ev.answerTimeMs, from, to, spans)) {
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

/** Accumulates the cost of the rated spans, with the increment overrun rule and max cost. */
class Pricer {
  readonly total: Fraction = { n: 0n, d: 1n };
  readonly rated: RatedSpan[] = [];
  maxCostApplied = false;
  rounding: CompiledBinding;
  /** Increments may overrun a span: the next span starts where the last charge ended. */
  private cursor = 0;

  constructor(first: CompiledBinding) {
    this.rounding = first;
  }

  /** Prices [from, to) of one time span under one slot. */
  price(span: TimeSpan, slot: CompiledSlot, spanFrom: number, to: number): void {
    if (to <= this.cursor) return;
    const from = spanFrom > this.cursor ? spanFrom : this.cursor;
    const usage = to - from;
    const increments = Math.ceil(usage / slot.rateIncrement);
    const ratedUsage = increments * slot.rateIncrement;
    this.cursor = from + ratedUsage;
    const costNum = BigInt(ratedUsage) * slot.rateNum;
    const b = span.binding;
    if (b.maxCost !== null && b.maxCostStrategy === 'free') {
      if (addCapped(this.total, costNum, slot.rateDen, b.maxCost)) this.maxCostApplied = true;
    } else add(this.total, costNum, slot.rateDen);
    if (b.roundingDecimals > this.rounding.roundingDecimals) this.rounding = b;
    this.rated.push({
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
}

/** Cuts a span wherever a slot's group interval start (elapsed usage) falls inside it, and prices the parts. */
function priceSpan(p: Pricer, span: TimeSpan, elapsedBefore: number): void {
  const slots = span.binding.rate.slots;
  let from = span.from;
  let slot = slots[0]!;
  for (let k = 1; k < slots.length; k++) {
    const at = slots[k]!.groupIntervalStart - elapsedBefore;
    if (at <= from) slot = slots[k]!;
    else if (at < span.to) {
      p.price(span, slot, from, at);
      from = at;
      slot = slots[k]!;
    } else break;
  }
  p.price(span, slot, from, span.to);
}

/**
 * The most usage the core prices, base units (2^52 ns is about 52 days of voice; 4 PiB of data).
 * Usage is a JS number: past 2^53 it no longer holds every base unit, and rounding up to an
 * increment needs headroom below that, so a larger usage would be priced inexactly. The edge
 * limits (`MAX_USAGE`) are far below; this only guards callers that bypass them. Within it, the
 * work is per time span (a few per local day), never per increment.
 */
export const MAX_EXACT_USAGE = 2 ** 52;

export function rateEvent(t: CompiledTariff, ev: RatingEvent): RatingResult | RatingError {
  if (!(ev.usage <= MAX_EXACT_USAGE)) {
    return ratingError(
      RatingErrorCode.INVALID_EVENT,
      `usage may not exceed ${MAX_EXACT_USAGE} base units (beyond it a price would not be exact)`,
      'usage',
    );
  }
  const segments: Resolution[] = [];
  const spans = timeSpans(t, ev, segments);
  if (!Array.isArray(spans)) return spans;
  if (ev.usage === 0 || spans.length === 0) return zeroResult(ev, segments);

  const first = spans[0]!.binding;
  const p = new Pricer(first);
  const fee = ev.firstSegment === false ? ZERO_FEE : first.rate.connectFee;
  if (fee.num !== 0n) add(p.total, fee.num, pow10(fee.scale));
  const elapsedBefore = ev.elapsedBefore ?? 0;
  for (const span of spans) priceSpan(p, span, elapsedBefore);

  let ratedUsage = 0;
  for (const r of p.rated) ratedUsage += r.ratedUsage;
  const cost = roundRational(p.total.n, p.total.d, p.rounding.roundingDecimals, p.rounding.roundingMethod);
  return {
    ok: true,
    tor: ev.tor,
    usage: ev.usage,
    ratedUsage,
    segments,
    spans: p.rated,
    connectFee: fee,
    exactNum: p.total.n,
    exactDen: p.total.d,
    maxCostApplied: p.maxCostApplied,
    rounding: { method: p.rounding.roundingMethod, decimals: p.rounding.roundingDecimals },
    cost,
    costNano: toNano(cost),
  };
}

const ZERO_FEE = { num: 0n, scale: 0 };

function zeroResult(ev: RatingEvent, segments: Resolution[]): RatingResult {
  return {
    ok: true,
    tor: ev.tor,
    usage: ev.usage,
    ratedUsage: 0,
    segments,
    spans: [],
    connectFee: ZERO_FEE,
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
