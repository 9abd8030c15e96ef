/**
 * A `*disconnect` max cost (CGRateS `MaxCostStrategy`): the cost of an event or session is not
 * changed, but no usage is authorised past the point where the cost reaches the cap. Pure.
 *
 * Kept apart from `affordable.ts` (what balances pay): the cap limits every grant, however much
 * credit the account has.
 */
import { pow10 } from './money.js';
import type { RatingResult } from './rate.js';

/** Whether any part of the rated usage is priced under a binding with a `*disconnect` max cost. */
export function hasDisconnectCap(rated: RatingResult): boolean {
  return rated.spans.some((s) => s.binding.maxCost !== null && s.binding.maxCostStrategy === 'disconnect');
}

/**
 * The usage (base units) at which the running cost, connect fee included, reaches a `*disconnect`
 * cap: whole increments only, an increment that would pass the cap is not authorised (0.12 at 0.01
 * per second allows 12 s). The rated usage when no cap is reached.
 */
export function disconnectUsage(rated: RatingResult): number {
  const fee = rated.connectFee;
  // The running cost in currency units, as num / den.
  let num = fee.num;
  let den = pow10(fee.scale);
  for (const span of rated.spans) {
    const b = span.binding;
    const inc = BigInt(span.slot.rateIncrement);
    const incNum = inc * span.slot.rateNum; // one increment's cost: incNum / rateDen
    if (b.maxCost && b.maxCostStrategy === 'disconnect' && incNum > 0n) {
      const capDen = pow10(b.maxCost.scale);
      const leftNum = b.maxCost.num * den - num * capDen; // cap - cost, over capDen * den
      const allowed = leftNum <= 0n ? 0n : (leftNum * span.slot.rateDen) / (capDen * den * incNum);
      if (allowed < BigInt(span.increments)) return span.from + Number(allowed) * span.slot.rateIncrement;
    }
    num = num * span.costDen + span.costNum * den;
    den *= span.costDen;
  }
  return rated.usage;
}
