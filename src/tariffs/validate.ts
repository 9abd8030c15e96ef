/**
 * Checks a `TariffPlan` as a whole and lists every problem: values out of range, unknown
 * references, duplicate ids. Pure (no I/O), so the loaders and the HTTP upload share it. Where a
 * problem is is told by a `Locate` function of the source (CSV file and line, or JSON path).
 */
import { isValidTimezone } from '../rating/calendar.js';
import { ANY, type TariffPlan } from '../rating/model.js';
import { isDecimalString } from '../rating/money.js';
import type { Problem } from './errors.js';

export type Entity =
  'destinations' | 'timings' | 'rates' | 'destinationRates' | 'ratingPlans' | 'ratingProfiles';

/** Where entity[index] (and its sub-entry, e.g. a slot or a binding) was written. */
export type Locate = (
  entity: Entity | 'timezone',
  index?: number,
  sub?: number,
) => Omit<Problem, 'message' | 'field'>;

/** The default locator: JSON paths in a native tariff.json. */
export const jsonPaths =
  (file: string): Locate =>
  (entity, index, sub) => {
    const subName = entity === 'rates' ? 'slots' : entity === 'ratingProfiles' ? 'activations' : 'bindings';
    let path = `/${entity}`;
    if (index !== undefined) path += `/${index}`;
    if (sub !== undefined) path += `/${subName}/${sub}`;
    return { file, path };
  };

const TIME = /^([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/;

function duplicates(ids: string[]): Set<number> {
  const seen = new Set<string>();
  const dup = new Set<number>();
  ids.forEach((id, i) => (seen.has(id) ? dup.add(i) : seen.add(id)));
  return dup;
}

export function validateTariff(plan: TariffPlan, locate: Locate = jsonPaths('tariff')): Problem[] {
  const problems: Problem[] = [];
  const report = (
    entity: Entity | 'timezone',
    index: number | undefined,
    sub: number | undefined,
    field: string,
    message: string,
  ) => problems.push({ ...locate(entity, index, sub), field, message });

  if (!isValidTimezone(plan.timezone))
    report('timezone', undefined, undefined, 'timezone', `unknown time zone "${plan.timezone}"`);

  const ids = {
    destinations: new Set(plan.destinations.map((d) => d.id)),
    timings: new Set(plan.timings.map((t) => t.id)),
    rates: new Set(plan.rates.map((r) => r.id)),
    destinationRates: new Set(plan.destinationRates.map((d) => d.id)),
    ratingPlans: new Set(plan.ratingPlans.map((p) => p.id)),
  };
  for (const entity of ['destinations', 'timings', 'rates', 'destinationRates', 'ratingPlans'] as const) {
    const list = plan[entity] as { id: string }[];
    for (const i of duplicates(list.map((x) => x.id)))
      report(entity, i, undefined, 'id', `duplicate id "${list[i]!.id}"`);
    list.forEach((x, i) => {
      if (!x.id) report(entity, i, undefined, 'id', 'id is empty');
      else if (x.id === ANY) report(entity, i, undefined, 'id', `"${ANY}" is reserved`);
    });
  }

  plan.destinations.forEach((d, i) => {
    // Balance filters name destinations in a list where `!` excludes, sent to Lua joined by ','.
    if (d.id.includes(',') || d.id.startsWith('!'))
      report(
        'destinations',
        i,
        undefined,
        'id',
        `destination id "${d.id}" may not hold "," or start with "!"`,
      );
    if (d.prefixes.length === 0)
      report('destinations', i, undefined, 'prefixes', `destination "${d.id}" has no prefixes`);
    d.prefixes.forEach((p) => {
      if (p === '' || /\s/.test(p)) report('destinations', i, undefined, 'prefixes', `bad prefix "${p}"`);
    });
  });

  plan.timings.forEach((t, i) => {
    if (!TIME.test(t.startTime))
      report('timings', i, undefined, 'startTime', `start time must be HH:MM:SS, got "${t.startTime}"`);
    const check = (field: string, values: number[], min: number, max: number) =>
      values.forEach((v) => {
        if (!Number.isInteger(v) || v < min || v > max)
          report('timings', i, undefined, field, `${field} value ${v} is not in ${min}..${max}`);
      });
    check('months', t.months, 1, 12);
    check('monthDays', t.monthDays, 1, 31);
    check('weekDays', t.weekDays, 1, 7);
    check('years', t.years, 1970, 9999);
  });

  plan.rates.forEach((r, i) => {
    if (r.slots.length === 0) report('rates', i, undefined, 'slots', `rate "${r.id}" has no slots`);
    const starts = new Set<number>();
    r.slots.forEach((s, k) => {
      for (const field of ['connectFee', 'rate'] as const) {
        if (!isDecimalString(s[field]) || s[field].startsWith('-'))
          report('rates', i, k, field, `${field} must be a decimal >= 0, got "${s[field]}"`);
      }
      for (const field of ['rateUnit', 'rateIncrement', 'groupIntervalStart'] as const) {
        if (!Number.isSafeInteger(s[field]) || s[field] < 0)
          report('rates', i, k, field, `${field} must be a whole number of base units >= 0`);
      }
      if (starts.has(s.groupIntervalStart))
        report('rates', i, k, 'groupIntervalStart', `two slots start at the same usage`);
      starts.add(s.groupIntervalStart);
    });
    if (r.slots.length && Math.min(...r.slots.map((s) => s.groupIntervalStart)) !== 0) {
      report('rates', i, undefined, 'groupIntervalStart', `the first slot of rate "${r.id}" must start at 0`);
    }
  });

  plan.destinationRates.forEach((dr, i) =>
    dr.bindings.forEach((b, k) => {
      if (b.destination !== ANY && !ids.destinations.has(b.destination))
        report('destinationRates', i, k, 'destination', `unknown destination "${b.destination}"`);
      if (!ids.rates.has(b.rate)) report('destinationRates', i, k, 'rate', `unknown rate "${b.rate}"`);
      if (!['up', 'down', 'middle'].includes(b.roundingMethod))
        report('destinationRates', i, k, 'roundingMethod', `rounding method must be up, down or middle`);
      if (!Number.isInteger(b.roundingDecimals) || b.roundingDecimals < -18 || b.roundingDecimals > 40) {
        report(
          'destinationRates',
          i,
          k,
          'roundingDecimals',
          `rounding decimals must be a whole number in -18..40`,
        );
      }
      if (!isDecimalString(b.maxCost) || b.maxCost.startsWith('-'))
        report('destinationRates', i, k, 'maxCost', `max cost must be a decimal >= 0`);
      if (b.maxCostStrategy !== null && !['free', 'disconnect'].includes(b.maxCostStrategy)) {
        report(
          'destinationRates',
          i,
          k,
          'maxCostStrategy',
          `max cost strategy must be free, disconnect or null`,
        );
      }
    }),
  );

  plan.ratingPlans.forEach((rp, i) =>
    rp.bindings.forEach((b, k) => {
      if (!ids.destinationRates.has(b.destinationRate))
        report('ratingPlans', i, k, 'destinationRate', `unknown destination rate "${b.destinationRate}"`);
      if (b.timing !== ANY && !ids.timings.has(b.timing))
        report('ratingPlans', i, k, 'timing', `unknown timing "${b.timing}"`);
      if (!Number.isFinite(b.weight)) report('ratingPlans', i, k, 'weight', `weight must be a number`);
    }),
  );

  plan.ratingProfiles.forEach((p, i) => {
    for (const field of ['tenant', 'category', 'subject'] as const)
      if (!p[field]) report('ratingProfiles', i, undefined, field, `${field} is empty`);
    p.activations.forEach((a, k) => {
      if (Number.isNaN(Date.parse(a.activationTime)) || !/(Z|[+-]\d{2}:?\d{2})$/.test(a.activationTime)) {
        report(
          'ratingProfiles',
          i,
          k,
          'activationTime',
          `activation time must be ISO-8601 with an offset, got "${a.activationTime}"`,
        );
      }
      if (!ids.ratingPlans.has(a.ratingPlan))
        report('ratingProfiles', i, k, 'ratingPlan', `unknown rating plan "${a.ratingPlan}"`);
    });
  });
  return problems;
}
