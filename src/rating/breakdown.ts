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
