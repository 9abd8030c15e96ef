/**
 * A plan version's body, validated whole (pure: no I/O): every problem is listed with the field it is
 * in, so billing staff fix a catalog in one go (like tariffs). Money stays a decimal string in the
 * body and is read to nano with the currency's own minor unit (src/billing/core/currency.ts).
 */
import { MoneyFormatError, parseMoney } from '../core/currency.js';
import type { PlanPeriod } from '../core/periods.js';
import type { ProrationPolicy } from '../core/proration.js';

export type BundleUnit = 'voice' | 'data' | 'sms' | 'generic';

export interface PlanBundle {
  /** The balance id suffix: `plan.{seq}.{id}`. */
  id: string;
  unit: BundleUnit;
  /** Per period, in the balance's base units (voice: ns; data: bytes; sms, generic: units). */
  amount: number;
  weight: number;
  destinations: string[];
  ratingGroups: number[];
  categories: string[];
  renewal: 'reset' | 'rollover';
  rolloverCap: number;
  rolloverPeriods: number;
  /** A prorated allowance is floored to a multiple of this (base units). */
  unitIncrement: number;
}

export interface PlanVersionBody {
  description: string;
  period: PlanPeriod;
  periodCount: number;
  /** Fee per period by currency, decimal strings. */
  prices: Record<string, string>;
  setupFee: Record<string, string>;
  billing: 'in_advance';
  proration: ProrationPolicy;
  bundles: PlanBundle[];
  taxCode: string | null;
  onInsufficientFunds: 'suspend_plan' | 'allow_negative';
  graceDays: number;
}

export interface Problem {
  param: string;
  reason: string;
}

const ID = /^[A-Za-z0-9_-]{1,32}$/;
const NS_PER_SECOND = 1_000_000_000;

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

function oneOf<T extends string>(
  v: unknown,
  values: readonly T[],
  fallback: T,
  at: string,
  out: Problem[],
): T {
  if (v === undefined) return fallback;
  if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
  out.push({ param: at, reason: `must be one of ${values.join(', ')}` });
  return fallback;
}

function integer(v: unknown, min: number, max: number, fallback: number, at: string, out: Problem[]): number {
  if (v === undefined) return fallback;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max) return v;
  out.push({ param: at, reason: `must be an integer from ${min} to ${max}` });
  return fallback;
}

/** Amounts per currency: each a decimal string the currency's minor unit can hold, ≥ 0. */
function moneyMap(v: unknown, at: string, required: boolean, out: Problem[]): Record<string, string> {
  if (v === undefined && !required) return {};
  if (!isObject(v) || (required && Object.keys(v).length === 0)) {
    out.push({
      param: at,
      reason: 'must be an object of currency code to decimal amount, e.g. {"GBP":"15.00"}',
    });
    return {};
  }
  const res: Record<string, string> = {};
  for (const [currency, amount] of Object.entries(v)) {
    const where = `${at}/${currency}`;
    if (typeof amount !== 'string') {
      out.push({ param: where, reason: 'must be a decimal string' });
      continue;
    }
    try {
      parseMoney(amount, currency);
      res[currency] = amount;
    } catch (err) {
      if (!(err instanceof MoneyFormatError)) throw err;
      out.push({ param: where, reason: err.message });
    }
  }
  return res;
}

function stringList(v: unknown, at: string, out: Problem[]): string[] {
  if (v === undefined) return [];
  if (
    Array.isArray(v) &&
    v.length <= 256 &&
    v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 64)
  )
    return v as string[];
  out.push({ param: at, reason: 'must be a list of up to 256 names' });
  return [];
}

/** A bundle amount: voice in seconds (whole), others in whole base units. */
function unitAmount(v: unknown, unit: BundleUnit, at: string, out: Problem[]): number {
  const n = typeof v === 'string' && /^\d{1,16}$/.test(v) ? Number(v) : v;
  const scale = unit === 'voice' ? NS_PER_SECOND : 1;
  if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && Number.isSafeInteger(n * scale))
    return n * scale;
  out.push({
    param: at,
    reason: `must be whole ${unit === 'voice' ? 'seconds' : `${unit} units`} from 0 to 2^53 - 1`,
  });
  return 0;
}

function bundleOf(v: unknown, at: string, out: Problem[]): PlanBundle | undefined {
  if (!isObject(v)) {
    out.push({ param: at, reason: 'must be an object' });
    return undefined;
  }
  const known = [
    'id',
    'unit',
    'amount',
    'weight',
    'destinations',
    'ratingGroups',
    'categories',
    'renewal',
    'rolloverCap',
    'rolloverPeriods',
    'unitIncrement',
  ];
  for (const k of Object.keys(v))
    if (!known.includes(k)) out.push({ param: `${at}/${k}`, reason: 'is not a bundle field' });
  if (typeof v.id !== 'string' || !ID.test(v.id))
    out.push({ param: `${at}/id`, reason: 'must be 1-32 letters, digits, _ or -' });
  const unit = oneOf(v.unit, ['voice', 'data', 'sms', 'generic'] as const, 'generic', `${at}/unit`, out);
  if (v.unit === undefined) out.push({ param: `${at}/unit`, reason: 'is required' });
  if (v.amount === undefined) out.push({ param: `${at}/amount`, reason: 'is required' });
  const renewal = oneOf(v.renewal, ['reset', 'rollover'] as const, 'reset', `${at}/renewal`, out);
  const rg = v.ratingGroups;
  const ratingGroups =
    rg === undefined
      ? []
      : Array.isArray(rg) &&
          rg.every((x) => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 4_294_967_295)
        ? (rg as number[])
        : (out.push({ param: `${at}/ratingGroups`, reason: 'must be a list of Unsigned32' }), []);
  return {
    id: typeof v.id === 'string' ? v.id : '',
    unit,
    amount: v.amount === undefined ? 0 : unitAmount(v.amount, unit, `${at}/amount`, out),
    weight: integer(v.weight, -1_000_000, 1_000_000, 10, `${at}/weight`, out),
    destinations: stringList(v.destinations, `${at}/destinations`, out),
    ratingGroups,
    categories: stringList(v.categories, `${at}/categories`, out),
    renewal,
    rolloverCap: v.rolloverCap === undefined ? 0 : unitAmount(v.rolloverCap, unit, `${at}/rolloverCap`, out),
    rolloverPeriods: integer(v.rolloverPeriods, 1, 12, 1, `${at}/rolloverPeriods`, out),
    unitIncrement:
      v.unitIncrement === undefined
        ? 1
        : Math.max(1, unitAmount(v.unitIncrement, unit, `${at}/unitIncrement`, out)),
  };
}

const FIELDS = [
  'description',
  'period',
  'periodCount',
  'prices',
  'setupFee',
  'billing',
  'proration',
  'bundles',
  'taxCode',
  'onInsufficientFunds',
  'graceDays',
];

/** The body read whole: the plan, or every problem found. */
export function validatePlanBody(raw: unknown): { plan: PlanVersionBody } | { problems: Problem[] } {
  const out: Problem[] = [];
  if (!isObject(raw)) return { problems: [{ param: '/', reason: 'must be an object' }] };
  for (const k of Object.keys(raw))
    if (!FIELDS.includes(k)) out.push({ param: `/${k}`, reason: 'is not a plan field' });
  if (raw.period === undefined) out.push({ param: '/period', reason: 'is required' });
  const bundlesRaw = raw.bundles ?? [];
  if (!Array.isArray(bundlesRaw) || bundlesRaw.length > 32)
    out.push({ param: '/bundles', reason: 'must be a list of up to 32 bundles' });
  const bundles = (Array.isArray(bundlesRaw) ? bundlesRaw.slice(0, 32) : [])
    .map((b, i) => bundleOf(b, `/bundles/${i}`, out))
    .filter((b): b is PlanBundle => b !== undefined);
  const ids = bundles.map((b) => b.id);
  ids.forEach((id, i) => {
    if (id && ids.indexOf(id) !== i)
      out.push({ param: `/bundles/${i}/id`, reason: `repeats bundle id ${id}` });
  });
  const description = raw.description;
  if (description !== undefined && (typeof description !== 'string' || description.length > 200))
    out.push({ param: '/description', reason: 'must be a string of up to 200 characters' });
  const taxCode = raw.taxCode;
  if (taxCode !== undefined && (typeof taxCode !== 'string' || !ID.test(taxCode)))
    out.push({ param: '/taxCode', reason: 'must be a tax code (1-32 letters, digits, _ or -)' });
  const plan: PlanVersionBody = {
    description: typeof description === 'string' ? description : '',
    period: oneOf(raw.period, ['month', 'week', 'day'] as const, 'month', '/period', out),
    periodCount: integer(raw.periodCount, 1, 12, 1, '/periodCount', out),
    prices: moneyMap(raw.prices, '/prices', true, out),
    setupFee: moneyMap(raw.setupFee, '/setupFee', false, out),
    billing: oneOf(raw.billing, ['in_advance'] as const, 'in_advance', '/billing', out),
    proration: oneOf(raw.proration, ['prorate', 'full', 'none'] as const, 'prorate', '/proration', out),
    bundles,
    taxCode: typeof taxCode === 'string' ? taxCode : null,
    onInsufficientFunds: oneOf(
      raw.onInsufficientFunds,
      ['suspend_plan', 'allow_negative'] as const,
      'suspend_plan',
      '/onInsufficientFunds',
      out,
    ),
    graceDays: integer(raw.graceDays, 0, 90, 7, '/graceDays', out),
  };
  for (const c of Object.keys(plan.setupFee))
    if (!(c in plan.prices)) out.push({ param: `/setupFee/${c}`, reason: `has no fee in /prices for ${c}` });
  return out.length > 0 ? { problems: out } : { plan };
}
