/**
 * The readable form of a rating result: what billing staff see when they ask "why did this call
 * cost that". Money as decimal strings; usage in the event's unit (seconds for voice).
 */
import type { RatingResult, RatedSpan } from './rate.js';
import { formatScaled } from './money.js';
import type { Resolution } from './resolve.js';
import { roundRational } from './rounding.js';
import { baseToUsage } from './units.js';

/** Breakdown amounts are exact when they terminate; otherwise shown half-up at this many decimals. */
export const BREAKDOWN_DECIMALS = 12;

export function fractionToString(n: bigint, d: bigint): string {
  const r = roundRational(n, d, BREAKDOWN_DECIMALS, 'middle');
  return formatScaled(r.value, r.scale);
}

function describeSpan(r: RatingResult, s: RatedSpan, withSegment: boolean) {
  const u = (x: number) => baseToUsage(r.tor, x);
  return {
    ...(withSegment ? { segment: s.segment } : {}),
    from: u(s.from),
    usage: u(s.usage),
    ratedUsage: u(s.ratedUsage),
    increments: s.increments,
    timing: s.binding.timing.id,
    weight: s.binding.weight,
    destinationRate: s.binding.destinationRate,
    rate: s.binding.rate.id,
    slot: {
      rate: s.slot.rate,
      rateUnit: u(s.slot.rateUnit),
      rateIncrement: u(s.slot.rateIncrement),
      groupIntervalStart: u(s.slot.groupIntervalStart),
    },
    cost: fractionToString(s.costNum, s.costDen),
  };
}

function describeSegment(s: Resolution) {
  return {
    subject: s.profile.subject,
    ratingPlan: s.activation.plan.id,
    activationTime: s.activation.activationTime,
    destination: s.destination,
    matchedPrefix: s.matchedPrefix,
  };
}

export type Breakdown = ReturnType<typeof describeResult>;

export function describeResult(r: RatingResult) {
  const first = r.segments[0];
  const multi = r.segments.length > 1;
  const capped = r.spans.find((s) => s.binding.maxCost !== null)?.binding;
  return {
    cost: formatScaled(r.cost.value, r.cost.scale),
    tor: r.tor,
    usage: baseToUsage(r.tor, r.usage),
    ratedUsage: baseToUsage(r.tor, r.ratedUsage),
    ...(first ? describeSegment(first) : {}),
    ...(multi ? { segments: r.segments.map(describeSegment) } : {}),
    connectFee: formatScaled(r.connectFee.num, r.connectFee.scale),
    spans: r.spans.map((s) => describeSpan(r, s, multi)),
    unroundedCost: fractionToString(r.exactNum, r.exactDen),
    maxCost: capped?.maxCost
      ? {
          amount: formatScaled(capped.maxCost.num, capped.maxCost.scale),
          strategy: capped.maxCostStrategy,
          applied: r.maxCostApplied,
        }
      : null,
    rounding: r.rounding,
  };
}

/**
 * The breakdown kept with every rated CDR: what billing staff need to explain a price, in a few
 * hundred bytes (a file of millions of CDRs keeps one per row). Same names as describeResult; the
 * spans keep timing, rate, usage, rated usage, increments and cost.
 */
export function compactBreakdown(r: RatingResult) {
  const first = r.segments[0];
  const u = (x: number) => baseToUsage(r.tor, x);
  return {
    ...(first
      ? {
          subject: first.profile.subject,
          ratingPlan: first.activation.plan.id,
          destination: first.destination,
          matchedPrefix: first.matchedPrefix,
        }
      : {}),
    connectFee: formatScaled(r.connectFee.num, r.connectFee.scale),
    spans: r.spans.map((s) => ({
      timing: s.binding.timing.id,
      rate: s.binding.rate.id,
      usage: u(s.usage),
      ratedUsage: u(s.ratedUsage),
      increments: s.increments,
      cost: fractionToString(s.costNum, s.costDen),
    })),
    ...(r.maxCostApplied ? { maxCostApplied: true } : {}),
    rounding: r.rounding,
  };
}

/*
 * compactBreakdownJson: the same breakdown as JSON text, built from parts remembered per compiled
 * tariff object (a binding's timing and rate, a slot's cost per increment count, a segment's head),
 * because a CDR file prices the same few of them millions of times. Equal to
 * JSON.stringify(compactBreakdown(r)) (tested).
 */
const bindingParts = new WeakMap<object, string>();
const slotCosts = new WeakMap<object, Map<number, string>>();
const heads = new Map<string, string>();
const SLOT_COSTS_MAX = 4096;

function bindingPart(b: RatedSpan['binding']): string {
  let s = bindingParts.get(b);
  if (s === undefined) {
    s = `{"timing":${JSON.stringify(b.timing.id)},"rate":${JSON.stringify(b.rate.id)},"usage":`;
    bindingParts.set(b, s);
  }
  return s;
}

function spanCost(s: RatedSpan): string {
  let costs = slotCosts.get(s.slot);
  if (!costs) slotCosts.set(s.slot, (costs = new Map()));
  let c = costs.get(s.increments);
  if (c === undefined) {
    c = JSON.stringify(fractionToString(s.costNum, s.costDen));
    if (costs.size < SLOT_COSTS_MAX) costs.set(s.increments, c);
  }
  return c;
}

function head(r: RatingResult): string {
  const first = r.segments[0];
  const key = first
    ? `${first.profile.subject}\u0000${first.activation.plan.id}\u0000${first.destination}\u0000${first.matchedPrefix}\u0000${r.connectFee.num}\u0000${r.connectFee.scale}`
    : `\u0000${r.connectFee.num}\u0000${r.connectFee.scale}`;
  let h = heads.get(key);
  if (h === undefined) {
    const o = first
      ? {
          subject: first.profile.subject,
          ratingPlan: first.activation.plan.id,
          destination: first.destination,
          matchedPrefix: first.matchedPrefix,
          connectFee: formatScaled(r.connectFee.num, r.connectFee.scale),
        }
      : { connectFee: formatScaled(r.connectFee.num, r.connectFee.scale) };
    h = `${JSON.stringify(o).slice(0, -1)},"spans":[`;
    if (heads.size > 100_000) heads.clear();
    heads.set(key, h);
  }
  return h;
}

export function compactBreakdownJson(r: RatingResult): string {
  let out = head(r);
  for (let i = 0; i < r.spans.length; i++) {
    const s = r.spans[i]!;
    out += `${i ? ',' : ''}${bindingPart(s.binding)}${baseToUsage(r.tor, s.usage)},"ratedUsage":${baseToUsage(r.tor, s.ratedUsage)},"increments":${s.increments},"cost":${spanCost(s)}}`;
  }
  return `${out}]${r.maxCostApplied ? ',"maxCostApplied":true' : ''},"rounding":{"method":"${r.rounding.method}","decimals":${r.rounding.decimals}}}`;
}
