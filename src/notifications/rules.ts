/**
 * Notification rules and the crossing rule, pure (no I/O). A rule watches one condition on a
 * balance's value after each movement; it fires when the condition starts to hold (a downward
 * crossing) and re-arms only once it stops holding (the value is back above: a top-up, a credit, a
 * renewal). So a balance sliding below a threshold over a thousand debits fires once — not on every
 * debit, the CGRateS complaint (#462) — and fires again after the next top-up and the next slide.
 */
import { decimalToNano } from '../rating/money.js';
import type { EventType } from '../webhooks/event-types.js';

export type RuleKind =
  'money_below' | 'money_exhausted' | 'bundle_used_pct' | 'spend_above' | 'bundle_expiring' | 'renewal_due';

export const RULE_KINDS: readonly RuleKind[] = [
  'money_below',
  'money_exhausted',
  'bundle_used_pct',
  'spend_above',
  'bundle_expiring',
  'renewal_due',
];

/** The event each kind of rule appends when it fires. */
export const EVENT_OF: Record<RuleKind, EventType> = {
  money_below: 'balance.low',
  money_exhausted: 'balance.exhausted',
  bundle_used_pct: 'bundle.threshold_reached',
  spend_above: 'spend.threshold_reached',
  bundle_expiring: 'bundle.expiring',
  renewal_due: 'plan.renewal_due',
};

/** Rules about a date coming (upcoming.ts), not about a movement of the ledger. */
const DATED: ReadonlySet<RuleKind> = new Set(['bundle_expiring', 'renewal_due']);
export const MAX_NOTICE_DAYS = 90;

export interface Rule {
  code: string;
  kind: RuleKind;
  /** Null: every account of the tenant. */
  accountId: string | null;
  /** money_below, spend_above: nano. */
  amountNano?: bigint;
  /** bundle_used_pct: 1..100. */
  percent?: number;
  /** bundle_expiring, renewal_due: days of notice, 1..MAX_NOTICE_DAYS. */
  days?: number;
  enabled: boolean;
}

export class RuleError extends Error {
  constructor(
    readonly param: string,
    reason: string,
  ) {
    super(reason);
  }
}

export interface RuleBody {
  kind?: unknown;
  amount?: unknown;
  percent?: unknown;
  days?: unknown;
  accountId?: unknown;
  enabled?: unknown;
}

/** A decimal amount above zero, in nano (a threshold of 0 is money_exhausted's). */
export function positiveNano(param: string, s: string): bigint {
  let nano: number;
  try {
    nano = decimalToNano(s);
  } catch (err) {
    throw new RuleError(param, (err as Error).message);
  }
  if (nano <= 0) throw new RuleError(param, 'must be more than 0');
  return BigInt(nano);
}

/** The stored form of a rule from its API body; throws RuleError naming the bad field. */
export function ruleFromBody(code: string, b: RuleBody): Rule {
  if (!RULE_KINDS.includes(b.kind as RuleKind))
    throw new RuleError('/kind', `must be one of ${RULE_KINDS.join(', ')}`);
  const kind = b.kind as RuleKind;
  const rule: Rule = { code, kind, accountId: null, enabled: b.enabled !== false };
  if (b.accountId !== undefined) rule.accountId = String(b.accountId);
  if (kind === 'money_below' || kind === 'spend_above') {
    if (typeof b.amount !== 'string') throw new RuleError('/amount', 'a decimal string is required');
    rule.amountNano = positiveNano('/amount', b.amount);
  } else if (b.amount !== undefined) throw new RuleError('/amount', `not used by ${kind}`);
  if (kind === 'bundle_used_pct') {
    const p = b.percent;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 100)
      throw new RuleError('/percent', 'an integer from 1 to 100 is required');
    rule.percent = p;
  } else if (b.percent !== undefined) throw new RuleError('/percent', `not used by ${kind}`);
  if (DATED.has(kind)) {
    const d = b.days;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > MAX_NOTICE_DAYS)
      throw new RuleError('/days', `an integer from 1 to ${MAX_NOTICE_DAYS} is required`);
    rule.days = d;
  } else if (b.days !== undefined) throw new RuleError('/days', `not used by ${kind}`);
  return rule;
}

/** What one ledger movement says about one balance. */
export interface Movement {
  unit: string;
  kind: string;
  delta: bigint;
  valueAfter: bigint;
}

/** Movements that grant a bundle its allowance (a new balance, a renewal, a top-up of units). */
export const isGrant = (m: Movement) => m.delta > 0n && ['create', 'renew', 'topup'].includes(m.kind);

export const watches = (rule: Rule, unit: string) =>
  !DATED.has(rule.kind) && (rule.kind === 'bundle_used_pct') !== (unit === 'money');

/**
 * Whether the rule's condition holds after the movement. `allowance` is the bundle's last grant
 * (null when unknown: a bundle never seen granted is not judged); `spentNano` the account's spend in
 * the movement's period, this movement included.
 */
export function conditionHolds(rule: Rule, m: Movement, allowance: bigint | null, spentNano = 0n): boolean {
  switch (rule.kind) {
    case 'spend_above':
      return spentNano > rule.amountNano!;
    case 'bundle_expiring':
    case 'renewal_due':
      return false;
    case 'money_below':
      return m.valueAfter < rule.amountNano!;
    case 'money_exhausted':
      return m.valueAfter <= 0n;
    case 'bundle_used_pct':
      if (allowance === null || allowance <= 0n) return false;
      return (allowance - m.valueAfter) * 100n >= BigInt(rule.percent!) * allowance;
  }
}

/** Fire once per crossing: `fire` when the condition starts to hold, re-armed when it stops. */
export function step(fired: boolean, holds: boolean): { fired: boolean; fire: boolean } {
  return { fired: holds, fire: holds && !fired };
}

/** Auto top-up: what to ask for (the amount, or up to the target), never less than nothing. */
export function topUpAmount(
  r: { amountNano: bigint | null; targetNano: bigint | null },
  value: bigint,
): bigint {
  if (r.amountNano !== null) return r.amountNano;
  const want = r.targetNano! - value;
  return want > 0n ? want : 0n;
}

/** Money movements that are not spending: a balance removed, expired or moved between bundles. */
const NOT_SPENDING = new Set(['remove', 'expire', 'rollover']);

/**
 * What a movement adds to the account's spend: money taken by charging, debits and adjustments;
 * a refund gives it back. Top-ups and credits are not spend.
 */
export function spendDelta(m: Movement): bigint {
  if (m.unit !== 'money') return 0n;
  if (m.delta < 0n && !NOT_SPENDING.has(m.kind)) return -m.delta;
  if (m.delta > 0n && m.kind === 'refund') return -m.delta;
  return 0n;
}

/** The spend period of a movement: its calendar month in UTC ("2026-12"). */
export const periodOf = (at: Date) => at.toISOString().slice(0, 7);
