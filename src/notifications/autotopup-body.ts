/** The auto top-up settings from their API body, pure; throws RuleError naming the bad field. */
import type { AutoTopUp } from './autotopup.js';
import { positiveNano, RuleError } from './rules.js';

export interface AutoTopUpBody {
  reference: string;
  balanceId?: string;
  threshold: string;
  amount?: string;
  target?: string;
  maxPerDay: number;
  maxPerMonth: number;
}

export function autoTopUpFromBody(b: AutoTopUpBody): AutoTopUp {
  const thresholdNano = positiveNano('/threshold', b.threshold);
  if ((b.amount === undefined) === (b.target === undefined))
    throw new RuleError(
      '/amount',
      'give either amount (a fixed top-up) or target (up to a balance), not both',
    );
  const amountNano = b.amount === undefined ? null : positiveNano('/amount', b.amount);
  const targetNano = b.target === undefined ? null : positiveNano('/target', b.target);
  if (targetNano !== null && targetNano <= thresholdNano)
    throw new RuleError('/target', 'must be above the threshold (a top-up to it would stay below)');
  if (b.maxPerDay > b.maxPerMonth) throw new RuleError('/maxPerDay', 'must not be more than maxPerMonth');
  return {
    balanceId: b.balanceId ?? 'main',
    thresholdNano,
    amountNano,
    targetNano,
    maxPerDay: b.maxPerDay,
    maxPerMonth: b.maxPerMonth,
    reference: b.reference,
  };
}
